"""Scoring an NLU on real requests written by people (``benchmarks/data/real_nlu_dev.tsv``).

The file has one utterance per line: ``utterance<TAB>acts``; acts are ``;``-separated, each ``act[:slot=value]``,
with alternatives separated by ``|`` (``accept|affirm``, ``inform:genre=hip hop|rap``). A row passes when every
listed act is among the parsed acts (with that slot and one of the values where given; values compare in lower
case). Lines starting with ``#`` are comments. Each row belongs to kinds (``kinds``), so accuracy can be given per
kind of request: a slot (genre, artist, decade, ...), ``dislike`` (reject or deny expected), ``like`` (accept or
affirm), ``plain`` (a request for music with nothing known), ``stop`` (stop or restart).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

__all__ = ["RealRow", "read_rows", "passes", "kinds", "score_rows"]


@dataclass(frozen=True)
class RealRow:
    text: str
    expected: tuple[tuple[tuple[str, ...], str | None, tuple[str, ...]], ...]  # (acts, slot, values) per requirement
    line: int


def read_rows(path: Path) -> list[RealRow]:
    """The rows of a real-request file (format in the module docstring).

    Raises ``ConfigError`` naming the file and line of a malformed row.
    """
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        text, sep, acts = line.partition("\t")
        if not sep or not text.strip() or not acts.strip():
            raise ConfigError(f"{path} line {number}: expected utterance<TAB>acts, got {line!r}")
        expected = []
        for need in acts.strip().split(";"):
            head, colon, slot_value = need.partition(":")
            if colon:
                slot, eq, values = slot_value.partition("=")
                if not eq or not slot or not values:
                    raise ConfigError(f"{path} line {number}: expected act:slot=value, got {need!r}")
                expected.append((tuple(head.split("|")), slot, tuple(v.lower() for v in values.split("|"))))
            else:
                expected.append((tuple(head.split("|")), None, ()))
        rows.append(RealRow(text, tuple(expected), number))
    return rows


def passes(result, row: RealRow) -> bool:
    """Whether ``result`` (an ``NLUResult``) has every act the row expects."""
    got = {(str(a.act), None if a.slot is None else str(a.slot), (a.value or "").lower()) for a in result.acts}
    for acts, slot, values in row.expected:
        if slot is None:
            if not any(g[0] in acts for g in got):
                return False
        elif not any(g[0] in acts and g[1] == slot and g[2] in values for g in got):
            return False
    return True


def kinds(row: RealRow) -> tuple[str, ...]:
    """The kinds of request a row stands for (see the module docstring)."""
    out = []
    for acts, slot, _ in row.expected:
        if slot is not None:
            out.append(slot)
        elif set(acts) & {"reject", "deny"}:
            out.append("dislike")
        elif set(acts) & {"accept", "affirm"}:
            out.append("like")
        elif "dont_care" in acts:
            out.append("plain")
        elif set(acts) & {"stop", "restart"}:
            out.append("stop")
        else:
            out.append("other")
    return tuple(dict.fromkeys(out))


def score_rows(nlu, rows: list[RealRow]) -> dict:
    """``{"n", "accuracy", "by_kind": {kind: {"n", "accuracy"}}, "failures": [{"line", "text", "acts"}]}``."""
    by_kind: dict[str, list[int]] = {}
    failures = []
    for row in rows:
        result = nlu.parse(row.text)
        ok = passes(result, row)
        for kind in kinds(row):
            by_kind.setdefault(kind, []).append(int(ok))
        if not ok:
            failures.append({"line": row.line, "text": row.text, "acts": [str(a) for a in result.acts]})
    n_ok = len(rows) - len(failures)
    return {"n": len(rows), "accuracy": round(n_ok / max(len(rows), 1), 4),
            "by_kind": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in sorted(by_kind.items())},
            "failures": failures}
