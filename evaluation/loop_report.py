"""The report of a ``segue loop`` ledger (``segue report --loop DIR``): one self-contained HTML page and a Markdown summary.

Per round: the policy that served and its simulator truth, the canary's looks
(the always-valid intervals and the decision), the data guardrails and any
quarantine, each candidate's off-policy estimate beside its truth, the gate's
conditions, and what was rolled out or back and why. A plot draws the serving
policy's true success round by round with the candidates' estimates and truths.
"""

from __future__ import annotations

import html
from pathlib import Path

from logs.store import write_text_atomic

from .report import _CSS, _html_table, _md_table, _plt, _png

__all__ = ["write_loop_report", "loop_tables", "ledger_truths"]


def ledger_truths(entries: list[dict]) -> dict[str, dict]:
    """Each policy's simulator truth, from a loop ledger's ``truth`` entries (the latest for a policy wins)."""
    truth: dict[str, dict] = {}
    for e in entries:
        if e["step"] == "truth":
            truth.update(e["policies"])
    return truth


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def loop_tables(entries: list[dict]) -> dict[int, dict[str, list[list[str]]]]:
    """Per round, the report's tables (name -> rows, the first row the header)."""
    truth = ledger_truths(entries)
    rounds = sorted({e["round"] for e in entries if e["round"] is not None})
    tables = {}
    for r in rounds:
        mine = [e for e in entries if e["round"] == r]
        t: dict[str, list[list[str]]] = {}
        serve = next(e for e in mine if e["step"] == "serve")
        t["served"] = [["policy", "role", "conversations", "true success", "true prompts"]]
        served = serve.get("served") or {serve["policy"]: serve["conversations"]}
        for name, n in served.items():
            role = "canary" if name == serve.get("canary") else "current"
            t["served"].append([name, role, f"{n:,}", _f(truth.get(name, {}).get("success_rate")),
                                _f(truth.get(name, {}).get("mean_prompts"), 2)])
        looks = [e for e in mine if e["step"] == "canary_look"]
        if looks:
            t["canary"] = [["look", "canary / current conversations", "success canary - current [always-valid interval]",
                            "prompts canary - current [interval]", "decision"]]
            for e in looks:
                t["canary"].append([str(e["look"] + 1), f"{e['canary']['conversations']:,} / {e['current']['conversations']:,}",
                                    f"{e['success_diff']:+.3f} [{e['success_cs'][0]:+.3f}, {e['success_cs'][1]:+.3f}]",
                                    f"{e['prompts_diff']:+.2f} [{e['prompts_cs'][0]:+.2f}, {e['prompts_cs'][1]:+.2f}]",
                                    e["decision"] or "wait"])
        t["guardrails"] = [["policy", "passed", "failed checks"]]
        for e in mine:
            if e["step"] == "guardrails":
                failed = "; ".join(f"{c['name']}: {c['detail']}" for c in e["checks"] if not c["passed"]) or "-"
                t["guardrails"].append([e["policy"], ("yes (skipped: planted fault)" if e.get("skipped") else "yes")
                                        if e["passed"] else "no: quarantined", failed])
        estimates = [e for e in mine if e["step"] == "estimate"]
        if estimates:
            t["estimates"] = [["policy", "estimated success [95%]", "true success", "estimated prompts", "true prompts"]]
            for e in estimates:
                s, p = e["estimates"].get("success_rate", {}), e["estimates"].get("prompts", {})
                ci = s.get("ci")
                t["estimates"].append([e["policy"], (f"{_f(s.get('estimate'))} [{_f(ci[0])}, {_f(ci[1])}]" if ci else
                                                     _f(s.get("estimate"))) if e["supported"] else "not estimable",
                                       _f(truth.get(e["policy"], {}).get("success_rate")), _f(p.get("estimate"), 2),
                                       _f(truth.get(e["policy"], {}).get("mean_prompts"), 2)])
        gates = [e for e in mine if e["step"] == "gate"]
        if gates:
            t["gate"] = [["candidate", "passes", "conditions"]]
            for g in gates:
                t["gate"].append([g["candidate"], "yes" if g["promote"] else "no",
                                  "; ".join(f"{'ok' if c['passed'] else 'FAILED'} {c['name']}: {c['detail']}" for c in g["conditions"])])
        t["decisions"] = [["step", "policy", "why"]]
        for e in mine:
            if e["step"] in ("rollout", "rollback", "quarantine", "fault", "canary_next", "skip"):
                canary = e.get("canary_round", e["round"])
                why = e.get("reason") or e.get("planted") or e.get("note") or (f"canary in round {canary}" if e["step"] ==
                                                                               "canary_next" else "")
                t["decisions"].append([e["step"], str(e.get("policy") or e.get("kind") or ""), why])
        tables[r] = t
    return tables


def _plot(entries: list[dict]) -> str | None:
    summary = next((e for e in reversed(entries) if e["step"] == "summary"), None)
    if summary is None:
        return None
    truth = ledger_truths(entries)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = [x["round"] for x in summary["rounds"] if x["truth_success"] is not None]
    ax.plot(xs, [x["truth_success"] for x in summary["rounds"] if x["truth_success"] is not None], "o-", color="black",
            label="serving policy: truth")
    for e in entries:
        if e["step"] == "estimate" and e["supported"] and e["estimates"].get("success_rate", {}).get("estimate") is not None:
            est = e["estimates"]["success_rate"]
            ax.errorbar([e["round"] + 0.1], [est["estimate"]], yerr=[[est["estimate"] - est["ci"][0]], [est["ci"][1] - est["estimate"]]]
                        if est.get("ci") else None, fmt="x", color="tab:blue", alpha=0.6)
            if e["policy"] in truth:
                ax.plot([e["round"] + 0.2], [truth[e["policy"]]["success_rate"]], ".", color="tab:orange", alpha=0.8)
    ax.plot([], [], "x", color="tab:blue", label="candidates: estimate (95%)")
    ax.plot([], [], ".", color="tab:orange", label="candidates: truth")
    ax.set_xlabel("round")
    ax.set_ylabel("success rate")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


_TITLES = {"served": "Served", "canary": "Canary: sequential test", "guardrails": "Data guardrails",
           "estimates": "Off-policy estimates against the truth", "gate": "Gate", "decisions": "Decisions"}


def write_loop_report(entries: list[dict], out: Path) -> tuple[Path, Path]:
    """Write the HTML report to ``out`` and the Markdown summary beside it (``.md``), atomically."""
    out = Path(out)
    tables = loop_tables(entries)
    summary = next((e for e in reversed(entries) if e["step"] == "summary"), None)
    head = []
    if summary:
        head = [f"final policy: {summary['final_policy']}", f"rollouts: {len(summary['rollouts'])}, false promotions "
                f"(truth worse than the policy replaced): {summary['false_promotions']}, missed promotions (rounds that "
                f"sent no candidate to the canary although one beat the current policy's truth by > 0.01 success): "
                f"{summary['missed_promotions']}" + ("" if summary["false_promotions"] is not None else
                                                     " (unknown: the loop ran without the truth)")]
        for f in summary.get("faults_not_planted", []):
            head.append(f"fault {f['kind']}@{f['round']} was not planted: {f['reason']}")
        for f in summary["faults"]:
            head.append(f"planted fault {f['kind']}@{f['round']}: caught by {f['caught_by'] or 'nothing'}")
    else:  # stopped (or still running): say so rather than let the rounds so far pass for the whole loop
        done = len(tables)
        head = [f"the loop has not finished: no summary in its ledger yet ({done} round{'s' if done != 1 else ''} "
                "recorded so far); re-run the same `segue loop` command to resume it"]
    plot = _plot(entries)
    parts = [f"<html><head><meta charset='utf-8'><title>Segue loop</title><style>{_CSS}</style></head><body>",
             "<h1>Segue: continuous improvement, round by round</h1>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in head]
    if plot:
        parts.append(f"<img alt='true success by round' src='data:image/png;base64,{plot}'>")
    md = ["# Segue: continuous improvement, round by round", ""] + [f"- {line}" for line in head] + [""]
    for r, t in tables.items():
        parts.append(f"<h2>Round {r}</h2>")
        md += [f"## Round {r}", ""]
        for key, rows in t.items():
            if len(rows) > 1:
                parts += [f"<h3>{_TITLES[key]}</h3>", _html_table(rows[0], rows[1:])]
                md += [f"### {_TITLES[key]}", "", _md_table(rows[0], rows[1:]), ""]
    parts.append("</body></html>")
    md_path = out.with_suffix(".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "\n".join(parts))
    write_text_atomic(md_path, "\n".join(md) + "\n")
    return out, md_path
