"""Logs from and to other systems: a minimal table in, Segue's own parts out (``segue logs import``), and back
(``segue logs export``).

The interchange table (Parquet, or CSV with a header) has one row per system prompt:

  conversation_id  string   required; the conversation in the source system
  turn             integer  required; 0-based index of the prompt within its conversation
  prompt           string   required; a Segue prompt id (open, ask_energy, ..., play_sample, offer_station)
  prompt_genres    string   JSON list of the genres the prompt suggested (suggest_genres, offer_station); may be empty
  prompt_artist    string   the artist the prompt suggested (suggest_artist); may be empty
  prompt_track     string   the catalog track id the prompt played (play_sample) or started from (offer_station)
  propensity       number   required; the logging policy's probability of this prompt, in (0, 1]
  user_acts        string   required; JSON list of the answer's dialogue acts, [{"act", "slot", "value"}], in Segue's
                            meaning representation (``dialogue.acts``: act inform|affirm|deny|accept|reject|...,
                            slot genre|energy|mood|decade|artist|activity|familiarity)
  played_track     string   the catalog track id played at the end (same on every row of a conversation); empty:
                            nothing was played

and, optionally: ``outcome`` (success | abandoned | truncated; default: success when a track was played, else
abandoned), ``sentiment`` and ``confidence`` of the answer (default 0 and 1), ``forced`` (the person led; default
false), ``action_probs`` (JSON object prompt id -> probability: the whole logging distribution; without it only
the logged prompt's probability is known, and a target that would ask anything else there is unsupported, so not
estimable), ``user_id`` (with a listening-history table: the history features), ``persona``, and the user's opening
before the first prompt: ``opening_acts`` (JSON list), ``opening_sentiment``, ``opening_confidence`` (same on every
row of a conversation; default nothing said).

Importing replays Segue's state tracker over each conversation (the opening, then each prompt and its answer), as
the simulator and the dialogue manager drive it, to compute the state features and the valid-prompt mask at every
prompt; the usefulness labeller gives the rewards. A prompt the replayed state would not allow (another system's
rules differ) is kept, and marked valid in that row's mask; the import counts them. The result is validated and
written as Segue's own parts with a manifest. Exporting Segue's logs and importing them back gives the same features
and rewards (tested to 1e-6), and the same conversation ids (``logs.ids.exported_id``): read beside the logs they
came from, they are refused as the duplicates they are, not counted twice. Any other source id is hashed with the
file's fingerprint (``logs.ids.imported_id``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from core.errors import ConfigError
from dialogue.acts import Act, DialogueAct, Slot, UserTurn
from dialogue.context import Conversation
from dialogue.features import FeatureVariant, Featurizer
from dialogue.prompts import N_PROMPTS, PROMPTS, PromptId, SystemPrompt
from dialogue.records import ConversationRecord, TurnRecord
from dialogue.usefulness import label_usefulness
from recommender.catalog import Catalog
from dialogue.nlu.normalize import ALL_DECADES
from recommender.history import HistoryProfile
from recommender.vocab import ACTIVITY_ENERGIES, ENERGIES, MOODS

from .errors import LogValidationError
from .ids import exported_id, imported_id
from .manifest import ImportSettings, LogManifest, LogSource
from .schema import LOG_SCHEMA_VERSION, file_metadata
from .store import MANIFEST, Folders, atomic_file, part_path, read_parts, write_part, write_text_atomic
from .validate import PROPENSITY_SLACK, SUM_SLACK, fixed_column, segue_metadata, validate_table
from .writer import conversations_table

__all__ = ["INTERCHANGE_COLUMNS", "OPTIONAL_COLUMNS", "export_logs", "import_logs", "ImportResult"]

INTERCHANGE_COLUMNS = ("conversation_id", "turn", "prompt", "prompt_genres", "prompt_artist", "prompt_track", "propensity",
                       "user_acts", "played_track")
OPTIONAL_COLUMNS = ("outcome", "sentiment", "confidence", "forced", "action_probs", "user_id", "persona", "opening_acts",
                    "opening_sentiment", "opening_confidence")
_PROMPT_IDS = tuple(p.id.value for p in PROMPTS)
_OUTCOMES = ("success", "abandoned", "truncated")


# ------------------------------------------------------------------ export
def export_logs(folders: Folders, out: Path, *, catalog: Catalog | None = None) -> int:
    """Write Segue's logs (one folder or several) as the interchange table (Parquet, or CSV by the ``.csv``
    suffix; atomically). Returns the number of rows. Raises ``LogValidationError`` for logs that do not validate or
    that were written before the opening was logged (schema version 1: a replay could not start from it), and
    ``ConfigError`` for an ``out`` that is neither ``.parquet`` nor ``.csv``."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        from core.errors import ConfigError

        raise ConfigError(f"--out {out}: the interchange table is written as .parquet or .csv, not "
                          f"{repr(suffix) if suffix else 'a file without a suffix'}")
    parts = read_parts(folders)
    old = [str(path) for path, table in parts if segue_metadata(table.schema.metadata).get("segue.log_schema_version", "1") == "1"]
    if old:
        raise LogValidationError(f"{old[0]} is of log schema version 1, which did not log the user's opening: it cannot be "
                                 "exported for a replay (log it again with this Segue)")
    catalog = catalog or Catalog.load()
    track_ids = np.asarray(catalog.table["track_id"].to_pylist(), dtype=object)
    tables = [table for _, table in parts]
    table = pa.concat_tables(tables)

    def track(column: str) -> list:
        rows = table[column].to_pylist()
        return [None if r is None else str(track_ids[r]) for r in rows]

    probs = fixed_column(table, "action_probs")
    outcome = np.where(table["success"].to_numpy(zero_copy_only=False), "success",
                       np.where(table["abandoned"].to_numpy(zero_copy_only=False), "abandoned", "truncated"))
    data = {
        "conversation_id": [str(c) for c in table["conversation_id"].to_pylist()],
        "turn": table["turn"].cast(pa.int32()),
        "prompt": table["prompt"],
        "prompt_genres": [json.dumps(g or []) for g in table["prompt_genres"].to_pylist()],
        "prompt_artist": table["prompt_artist"],
        "prompt_track": track("prompt_track"),
        "propensity": table["propensity"],
        "user_acts": [json.dumps(a) for a in table["user_acts"].to_pylist()],
        "played_track": track("played_track"),
        "outcome": outcome.tolist(),
        "sentiment": table["sentiment"].cast(pa.float64()),
        "confidence": table["nlu_confidence"].cast(pa.float64()),
        "forced": table["forced"],
        "action_probs": [json.dumps({_PROMPT_IDS[j]: float(p[j]) for j in np.flatnonzero(p)}) for p in probs],
        "user_id": table["user_id"],
        "persona": table["persona"],
        "opening_acts": [json.dumps(a) for a in table["opening_acts"].to_pylist()],
        "opening_sentiment": table["opening_sentiment"].cast(pa.float64()),
        "opening_confidence": table["opening_confidence"].cast(pa.float64()),
    }
    _write_table(pa.table(data), Path(out))
    return table.num_rows


def _write_table(table: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out, "the interchange table ") as tmp:
        if out.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp, compression="zstd")


# ------------------------------------------------------------------ import
@dataclass(frozen=True)
class ImportResult:
    """What an import wrote. ``outside_mask``: prompts the other system asked where Segue's replayed state would
    not have (their mask entry is set: the prompt was evidently askable there); ``outside_mask_without_history``:
    how many of them asked about familiarity in a conversation replayed with no listening history (no
    ``histories``, no ``user_id``, or a user the table lacks), where Segue never asks it. ``users_without_history``:
    conversations whose ``user_id`` the ``histories`` table lacks (replayed as a listener with no history)."""

    folder: Path
    conversations: int
    turns: int
    parts: int
    outside_mask: int = 0
    users_without_history: int = 0
    outside_mask_without_history: int = 0


class _Rows:
    """The interchange table's columns as Python lists, with the file named in every error."""

    def __init__(self, table: pa.Table, source: Path) -> None:
        self.source, self.n = source, table.num_rows
        missing = [c for c in INTERCHANGE_COLUMNS if c not in table.column_names]
        if missing:
            raise LogValidationError(f"{source}: missing column(s) {', '.join(missing)} (the interchange table's required "
                                     f"columns are {', '.join(INTERCHANGE_COLUMNS)}; see logs/interchange.py)")
        self.columns = {c: table[c].to_pylist() for c in (*INTERCHANGE_COLUMNS, *OPTIONAL_COLUMNS) if c in table.column_names}

    def fail(self, row: int, column: str, message: str) -> LogValidationError:
        """The error for ``row`` (0-based); named as the table's row ``row + 1``, and in a CSV file also as its line
        (the header is line 1)."""
        value = self.columns.get(column, [None] * self.n)[row] if column else None
        where = f"row {row + 1}" + (f" (line {row + 2})" if self.source.suffix.lower() == ".csv" else "")
        return LogValidationError(f"{self.source}: {where}, column {column!r}, value {value!r}: {message}")

    def get(self, column: str, row: int, default=None):
        values = self.columns.get(column)
        if values is None:
            return default
        value = values[row]
        return default if value is None or (isinstance(value, str) and value == "") else value

    def json(self, column: str, row: int, default):
        value = self.get(column, row)
        if value is None:
            return default
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise self.fail(row, column, f"not valid JSON ({exc.msg})") from None

    def number(self, column: str, row: int, default: float, within: tuple[float, float] | None = None) -> float:
        value = self.get(column, row, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(row, column, "must be a number") from None
        if not math.isfinite(number):
            raise self.fail(row, column, "must be a finite number")
        if within is not None and not within[0] <= number <= within[1]:
            raise self.fail(row, column, f"must be in [{within[0]:g}, {within[1]:g}]")
        return number

    def flag(self, column: str, row: int) -> bool:
        """A yes/no column: a boolean, 0 or 1, or true/false/yes/no in any case; empty means no."""
        value = self.get(column, row, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _FLAGS:
            return _FLAGS[value.strip().lower()]
        raise self.fail(row, column, "must be true or false (or 1 / 0)")


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


#: the values a slot can take, beside the catalog's genres, styles and artists
_SLOT_VALUES = {Slot.ENERGY: ENERGIES, Slot.MOOD: MOODS, Slot.DECADE: ALL_DECADES, Slot.ACTIVITY: tuple(ACTIVITY_ENERGIES),
                Slot.FAMILIARITY: ("familiar", "new")}


def _slot_value_error(slot: Slot, value, catalog: Catalog) -> str | None:
    """Why ``value`` is no value of ``slot`` (None when it is one, or when there is none: "dont_care(genre)")."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"the value of slot {slot.value!r} must be a string, got {value!r}"
    if slot is Slot.GENRE:
        ok = value in catalog.genre_index or value in catalog.style_index
        return None if ok else f"{value!r} is not a genre or style of the catalog"
    if slot is Slot.ARTIST:
        return None if catalog.artist_code(value) >= 0 else f"{value!r} is not an artist of the catalog"
    allowed = _SLOT_VALUES[slot]
    return None if value in allowed else f"{value!r} is not a {slot.value} ({', '.join(allowed[:8])}{', ...' if len(allowed) > 8 else ''})"


def _acts(rows: _Rows, column: str, row: int, catalog: Catalog) -> tuple[DialogueAct, ...]:
    """The acts of one row's ``column`` (a JSON list of {"act", "slot", "value"}); a slot value must be one of the
    slot's values (the catalog's genres, styles and artists; energies, moods, decades, activities, familiarity)."""
    value = rows.json(column, row, [])
    if not isinstance(value, list):
        raise rows.fail(row, column, "must be a JSON list of {\"act\", \"slot\", \"value\"} objects")
    acts = []
    for item in value:
        if not isinstance(item, dict) or "act" not in item:
            raise rows.fail(row, column, "each act is an object with at least \"act\"")
        try:
            act = Act(item["act"])
            slot = Slot(item["slot"]) if item.get("slot") else None
        except ValueError:
            raise rows.fail(row, column, f"unknown act or slot in {item!r} (acts: {', '.join(a.value for a in Act)}; "
                                         f"slots: {', '.join(s.value for s in Slot)})") from None
        problem = _slot_value_error(slot, item.get("value"), catalog) if slot is not None else None
        if problem is not None:
            raise rows.fail(row, column, problem)
        acts.append(DialogueAct(act, slot, item.get("value")))
    return tuple(acts)


def _read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise LogValidationError(f"interchange table not found: {path}")
    try:
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            strings = {c: pa.string() for c in ("conversation_id", "prompt_track", "played_track", "prompt_artist",
                                                 "prompt_genres", "user_acts", "opening_acts", "action_probs", "outcome")}
            return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types=strings, strings_can_be_null=True))
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read {path} as Parquet or CSV: {exc}") from None


def _profiles(histories_path: Path | None, catalog: Catalog) -> dict[int, HistoryProfile]:
    if histories_path is None:
        return {}
    from recommender.histories import read_histories

    hist = read_histories(histories_path, catalog)
    profiles = {}
    for i, user in enumerate(hist.users.tolist()):
        tracks, counts = hist.row(i)
        profiles[int(user)] = HistoryProfile(catalog, np.repeat(tracks, counts.astype(np.int64)))
    return profiles


def import_logs(source: Path, out: Path, *, histories: Path | None = None, scorer: str = "baseline",
                catalog_path: str | None = None, part_size: int = 2_500, progress=None) -> ImportResult:
    """Replay the interchange table ``source`` into Segue's parts in the new folder ``out`` (module docstring).

    ``histories``: a listening-history table (``recommender.histories``) whose users are the table's ``user_id``
    (their history features; without it, a conversation has no history). ``scorer``: the scorer whose rankings and
    affinities the state saw (``baseline`` or an embeddings folder). ``progress``: optional ``progress(done, total)``
    over the conversations (the replay takes minutes for thousands). Raises ``LogValidationError`` naming the file,
    row, column and value for a bad table, ``ConfigError`` for a bad option; nothing is written then.
    """
    from recommender.embedding_scorer import make_scorer

    source, out = Path(source), Path(out)
    if not 1 <= part_size <= 1_000_000:
        raise ConfigError(f"--part-size must be between 1 and 1,000,000, got {part_size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} exists and is not empty: imported logs go to a new folder")
    table = _read_table(source)
    rows = _Rows(table, source)
    if rows.n == 0:
        raise LogValidationError(f"{source}: the table has no rows")
    catalog = Catalog.load(catalog_path)
    row_of = {tid: i for i, tid in enumerate(catalog.table["track_id"].to_pylist())}
    scorer_obj = make_scorer(scorer, catalog)
    featurizer = Featurizer(catalog.genre_names, FeatureVariant.HISTORY, scorer_obj.version)
    layout = featurizer.layout
    profiles = _profiles(Path(histories) if histories is not None else None, catalog)
    fingerprint = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    has_distribution = "action_probs" in rows.columns

    def track(row: int, column: str) -> int | None:
        value = rows.get(column, row)
        if value is None:
            return None
        if str(value) not in row_of:
            raise rows.fail(row, column, f"not a track id of catalog {catalog.name}")
        return row_of[str(value)]

    ids = [str(c) if c is not None else None for c in rows.columns["conversation_id"]]
    turns = rows.columns["turn"] = [int(t) if isinstance(t, str) and t.strip().isdigit() else t for t in rows.columns["turn"]]
    for r in range(rows.n):  # (a CSV column holding one word, "two", is read as text: its digits are still numbers)
        if ids[r] is None:
            raise rows.fail(r, "conversation_id", "a conversation id is required")
        if not isinstance(turns[r], (int, np.integer)) or isinstance(turns[r], bool) or turns[r] < 0:
            raise rows.fail(r, "turn", "must be a non-negative integer")
    order = sorted(range(rows.n), key=lambda r: (ids[r], turns[r]))
    groups: dict[str, list[int]] = {}
    for r in order:
        groups.setdefault(ids[r], []).append(r)
    records, record_ids, unmasked = [], [], [0, 0]
    for done, (conversation, members) in enumerate(groups.items(), 1):
        records.append(_replay(rows, members, catalog, scorer_obj, featurizer, profiles, track, has_distribution, unmasked))
        kept = exported_id(conversation)  # Segue's own id, exported: the same conversation, the same id
        record_ids.append(kept if kept is not None else imported_id(fingerprint, conversation))
        if progress is not None and (done % 50 == 0 or done == len(groups)):  # conversations replayed so far
            progress(done, len(groups))
    manifest = LogManifest(LogSource.IMPORTED, layout.version, layout.names, layout.n_base, catalog.fingerprint,
                           logging_policy=f"imported from {source.name}", catalog_path=catalog_path,
                           scorer=scorer if scorer in ("baseline", "popularity") else str(Path(scorer).resolve()),
                           scorer_version=scorer_obj.version,
                           imported=ImportSettings(str(source), fingerprint, str(histories) if histories else None,
                                                   has_distribution))
    tables = []
    for index, start in enumerate(range(0, len(records), part_size)):
        chunk = conversations_table(records[start : start + part_size], n_base=layout.n_base, n_history=layout.n_history,
                                    ids=record_ids[start : start + part_size])
        meta = {**file_metadata(manifest), "segue.part": str(index), "segue.conversations": str(len(records[start : start + part_size]))}
        chunk = chunk.replace_schema_metadata(meta)
        validate_table(chunk, part_path(out, index))  # nothing is written unless every part is valid
        tables.append(chunk)
    out.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(tables):
        write_part(chunk, part_path(out, index), {})
    write_text_atomic(out / MANIFEST, json.dumps({"segue_log_schema_version": LOG_SCHEMA_VERSION, "source": "imported",
                                                 "file": str(source), "parts": [part_path(out, i).name for i in range(len(tables))]},
                                                indent=2, sort_keys=True))
    lacking = sum(1 for rec in records if histories is not None and rec.user_id >= 0 and rec.user_id not in profiles)
    return ImportResult(out, len(records), sum(t.num_rows for t in tables), len(tables), unmasked[0], lacking, unmasked[1])


def _replay(rows: _Rows, members: list[int], catalog: Catalog, scorer, featurizer: Featurizer,
            profiles: dict[int, HistoryProfile], track, has_distribution: bool, unmasked: list[int]) -> ConversationRecord:
    first = members[0]
    expected = list(range(len(members)))
    found = [rows.columns["turn"][r] for r in members]
    if found != expected:  # the row named: a turn beyond the conversation's length or said twice, else the first
        wrong = next((r for r, turn in zip(members, found) if not 0 <= turn < len(members) or found.count(turn) > 1), first)
        raise rows.fail(wrong, "turn", f"conversation {rows.columns['conversation_id'][first]!r} must have turns "
                                       f"0..{len(members) - 1}, each once")
    user_id = rows.get("user_id", first)
    profile = profiles.get(int(user_id)) if user_id is not None else None
    conv = Conversation(catalog, scorer, profile)
    opening = _acts(rows, "opening_acts", first, catalog)
    opening_sentiment = rows.number("opening_sentiment", first, 0.0, (-1.0, 1.0))
    opening_confidence = rows.number("opening_confidence", first, 1.0, (0.0, 1.0))
    conv.observe(None, UserTurn(opening, sentiment=opening_sentiment, confidence=opening_confidence))
    played = track(first, "played_track")
    outcome = rows.get("outcome", first, "success" if played is not None else "abandoned")
    if outcome not in _OUTCOMES:
        raise rows.fail(first, "outcome", f"must be one of {', '.join(_OUTCOMES)}")
    if (outcome == "success") != (played is not None):
        raise rows.fail(first, "played_track", "a track is played exactly when the outcome is success")
    turns = []
    same = (("outcome", rows.get("outcome", first)), ("user_id", user_id))  # as the conversation's first row has them
    for r in members:
        if track(r, "played_track") != played:
            raise rows.fail(r, "played_track", "must be the same on every row of a conversation")
        for column, value in same:
            if rows.get(column, r) != value:
                raise rows.fail(r, column, f"must be the same on every row of a conversation (row {first + 1} has {value!r})")
        prompt_id = rows.get("prompt", r)
        if prompt_id not in _PROMPT_IDS:
            raise rows.fail(r, "prompt", f"not a Segue prompt id ({', '.join(_PROMPT_IDS)})")
        genres = rows.json("prompt_genres", r, [])
        if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
            raise rows.fail(r, "prompt_genres", "must be a JSON list of genre names")
        unknown = [g for g in genres if g not in catalog.genre_index and g not in catalog.style_index]
        if unknown:
            raise rows.fail(r, "prompt_genres", f"{unknown[0]!r} is not a genre or style of the catalog")
        prompt_track = track(r, "prompt_track")
        if prompt_id in (PromptId.PLAY_SAMPLE.value, PromptId.OFFER_STATION.value) and prompt_track is None:
            raise rows.fail(r, "prompt_track", f"a {prompt_id} prompt names the track it played")
        artist = rows.get("prompt_artist", r)
        prompt = SystemPrompt(PromptId(prompt_id), genres=tuple(genres), artist=None if artist is None else str(artist),
                              track=prompt_track)
        propensity = rows.number("propensity", r, math.nan)
        if not 0 < propensity <= 1:
            raise rows.fail(r, "propensity", "must be in (0, 1]")
        features = featurizer(conv)
        mask = conv.valid_mask().copy()
        if not mask[prompt.index]:  # the other system asked what Segue would not: it was askable there all the same
            mask[prompt.index] = True
            unmasked[0] += 1
            unmasked[1] += profile is None and prompt.prompt is PromptId.ASK_FAMILIARITY  # never valid without a history
        forced = rows.flag("forced", r)
        distribution = np.zeros(N_PROMPTS, dtype=np.float32)
        if forced:
            distribution[prompt.index] = 1.0
        elif has_distribution:
            probs = rows.json("action_probs", r, {})
            if not isinstance(probs, dict) or any(k not in _PROMPT_IDS for k in probs):
                raise rows.fail(r, "action_probs", "must be a JSON object of prompt id -> probability")
            for key, value in probs.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                    raise rows.fail(r, "action_probs", f"the probability of {key!r} must be a number in [0, 1]")
                distribution[_PROMPT_IDS.index(key)] = float(value)
            if distribution.sum() > 1 + SUM_SLACK:
                raise rows.fail(r, "action_probs", f"the probabilities sum to {distribution.sum():.6g}, more than 1")
            if abs(float(distribution[prompt.index]) - propensity) > PROPENSITY_SLACK:
                raise rows.fail(r, "action_probs", f"gives the logged prompt {prompt_id!r} probability "
                                                   f"{float(distribution[prompt.index]):.6g}, but its propensity is "
                                                   f"{propensity:.6g}")
        else:
            distribution[prompt.index] = propensity  # only the logged prompt's probability is known
        acts = _acts(rows, "user_acts", r, catalog)
        sentiment = rows.number("sentiment", r, 0.0, (-1.0, 1.0))
        confidence = rows.number("confidence", r, 1.0, (0.0, 1.0))
        turns.append(TurnRecord(prompt, distribution, mask.copy(), 1.0 if forced else propensity, features.copy(), acts,
                                sentiment, confidence, forced))
        conv.observe(prompt, UserTurn(acts, sentiment=sentiment, confidence=confidence))
    labels = label_usefulness([(t.prompt, t.acts) for t in turns], played, catalog, profile)
    return ConversationRecord(turns=tuple(turns), labels=tuple(float(x) for x in labels), success=outcome == "success",
                              abandoned=outcome == "abandoned", truncated=outcome == "truncated", played_track=played,
                              user_id=int(user_id) if user_id is not None else -1,
                              persona=str(rows.get("persona", first, "imported")), opening=opening,
                              opening_sentiment=opening_sentiment, opening_confidence=opening_confidence)

