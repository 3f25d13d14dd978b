"""Validation of one log part: its schema column by column, then its values. Every problem is one
``LogValidationError`` naming the part, and the row and column where there is one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dialogue.prompts import PROMPT_CATALOGUE_VERSION, PROMPTS

from .errors import LogValidationError
from .schema import NON_NULL_COLUMNS, READABLE_SCHEMA_VERSIONS, log_schema

__all__ = ["validate_table", "expected_schema", "segue_metadata", "feature_names", "fixed_column", "part_version"]

_PROMPT_IDS = tuple(p.id.value for p in PROMPTS)
_FLOATS = ("propensity", "sentiment", "nlu_confidence", "reward", "opening_sentiment", "opening_confidence")
_PROPENSITY_TOLERANCE = 1e-5


def segue_metadata(schema_metadata: dict[bytes, bytes] | None) -> dict[str, str]:
    """The ``segue.*`` entries of a Parquet schema's metadata, decoded."""
    return {k.decode(): v.decode() for k, v in (schema_metadata or {}).items() if k.startswith(b"segue.")}


def feature_names(metadata: dict[str, str], column: str) -> tuple[str, ...]:
    """Names of a fixed-size feature column ("features" or "history_features"), from ``segue_metadata``."""
    try:
        names = json.loads(metadata.get(f"segue.{column}_names", "[]"))
    except json.JSONDecodeError:
        return ()
    return tuple(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else ()


def fixed_column(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size list column as a 2-D array (rows, width)."""
    width = table.schema.field(column).type.list_size
    return pc.list_flatten(table[column]).to_numpy(zero_copy_only=False).reshape(table.num_rows, width)


def _fail(path: Path, row: int | None, message: str) -> LogValidationError:
    where = f"{path.name} row {row}" if row is not None else path.name
    folder = f" (folder {path.parent})" if str(path.parent) not in ("", ".") else ""
    return LogValidationError(f"{message} in {where}{folder}")


def part_version(meta: dict[str, str], path: Path) -> str:
    """The part's log schema version (``segue.log_schema_version``); refuses an unknown one."""
    version = meta.get("segue.log_schema_version", "1")
    if version not in READABLE_SCHEMA_VERSIONS:
        raise _fail(path, None, f"log schema version {version!r} is not one this Segue reads ({', '.join(READABLE_SCHEMA_VERSIONS)})")
    return version


def expected_schema(meta: dict[str, str], path: Path) -> pa.Schema:
    """The schema a part must have: its version's columns, with its feature names' widths."""
    n_base, n_history = len(feature_names(meta, "features")), len(feature_names(meta, "history_features"))
    if not n_base:
        raise _fail(path, None, "no feature names in its metadata (segue.features_names): not a Segue log part")
    return log_schema(n_base, n_history, version=part_version(meta, path))


#: float32 storage: ranges and the logged prompt's probability are checked up to this much
_RANGE_SLACK = 1e-6
SUM_SLACK = 1e-4
PROPENSITY_SLACK = 1e-5  # as the OPE input's own check (evaluation.data)


def validate_table(table: pa.Table, path: Path) -> None:
    """Check one part: every expected column present with its type (columns Segue does not know are allowed and
    ignored), no null where a value is required, no NaN, propensities in (0, 1] (exactly 1 on a forced prompt) and
    equal to the logged prompt's entry of ``action_probs`` (probabilities summing to at most 1: an imported table
    may know only the logged prompt's), sentiments in [-1, 1] and confidences in [0, 1], known prompt ids, finite
    features, turns in order and each conversation contiguous, one user and one outcome per conversation.

    Raises ``LogValidationError`` naming the part, and the row and column of the first problem.
    """
    meta = segue_metadata(table.schema.metadata)
    version = meta.get("segue.prompt_catalogue_version")
    if version is not None and version != PROMPT_CATALOGUE_VERSION:
        raise _fail(path, None, f"prompt catalogue version {version!r} does not match this Segue's {PROMPT_CATALOGUE_VERSION!r}")
    expected = expected_schema(meta, path)
    missing = [f.name for f in expected if f.name not in table.column_names]
    if missing:
        raise _fail(path, None, f"missing column(s) {', '.join(missing)}")
    for field in expected:
        found = table.schema.field(field.name).type
        if found != field.type:
            raise _fail(path, None, f"column {field.name} is {found}, expected {field.type}")
    n = table.num_rows
    if n == 0:
        return
    for column in NON_NULL_COLUMNS:
        if column in table.column_names and table[column].null_count:
            row = int(np.flatnonzero(table[column].is_null().to_numpy(zero_copy_only=False))[0])
            raise _fail(path, row, f"column {column} is null (a value is required)")
    for column in _FLOATS:
        if column in table.column_names:
            values = table[column].to_numpy(zero_copy_only=False).astype(np.float64)
            if not np.isfinite(values).all():
                row = int(np.flatnonzero(~np.isfinite(values))[0])
                raise _fail(path, row, f"column {column} is {float(values[row])!r} (NaN or infinite)")
    propensity = table["propensity"].to_numpy(zero_copy_only=False).astype(np.float64)
    bad = np.flatnonzero(~(propensity > 0) | ~(propensity <= 1))
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"propensity must be in (0, 1], found {float(propensity[row])!r}")
    if "forced" in table.column_names:
        forced = table["forced"].to_numpy(zero_copy_only=False).astype(bool)
        bad = np.flatnonzero(forced & (propensity != 1.0))
        if bad.size:
            raise _fail(path, int(bad[0]), f"a forced prompt must have propensity 1, found {float(propensity[bad[0]])!r}")
    prompts = table["prompt"]
    known = pc.is_in(prompts, value_set=pa.array(_PROMPT_IDS)).fill_null(False).to_numpy(zero_copy_only=False)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise _fail(path, row, f"unknown prompt id {prompts[row].as_py()!r}")
    for column in ("features", "history_features", "action_probs"):
        flat = pc.list_flatten(table[column]).to_numpy(zero_copy_only=False)
        width = table.schema.field(column).type.list_size
        if flat.size != n * width:
            raise _fail(path, None, f"column {column} has null entries")
        finite = np.isfinite(flat.reshape(n, width))
        if not finite.all():
            row, col = (int(x) for x in np.argwhere(~finite)[0])
            names = feature_names(meta, column) if column != "action_probs" else _PROMPT_IDS
            name = names[col] if col < len(names) else str(col)
            raise _fail(path, row, f"NaN or infinite value in {column} ({name!r})")
    for column, low in (("sentiment", -1.0), ("opening_sentiment", -1.0), ("nlu_confidence", 0.0), ("opening_confidence", 0.0)):
        if column in table.column_names:
            values = table[column].to_numpy(zero_copy_only=False).astype(np.float64)
            bad = np.flatnonzero((values < low - _RANGE_SLACK) | (values > 1.0 + _RANGE_SLACK))
            if bad.size:
                raise _fail(path, int(bad[0]), f"{column} must be in [{low:g}, 1], found {float(values[bad[0]])!r}")
    probs = pc.list_flatten(table["action_probs"]).to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, -1)
    bad = np.flatnonzero(((probs < 0) | (probs > 1 + _RANGE_SLACK)).any(axis=1) | (probs.sum(axis=1) > 1 + SUM_SLACK))
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"action_probs must be probabilities (each in [0, 1], summing to at most 1), found sum "
                               f"{probs[row].sum():.6g} and largest {probs[row].max():.6g}")
    column = pc.index_in(prompts, value_set=pa.array(_PROMPT_IDS)).to_numpy(zero_copy_only=False)  # all known by now
    logged = probs[np.arange(n), column]
    bad = np.flatnonzero(np.abs(logged - propensity) > PROPENSITY_SLACK)
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"propensity {float(propensity[row]):.6g} differs from the action_probs entry of the logged "
                               f"prompt {table['prompt'][row].as_py()!r} ({float(logged[row]):.6g}): the importance weights "
                               "would not be the behaviour policy's")
    reward = table["reward"].to_numpy(zero_copy_only=False)
    bad = np.flatnonzero((reward != 0) & (reward != 1))
    if bad.size:
        raise _fail(path, int(bad[0]), f"reward (the usefulness label) must be 0 or 1, found {float(reward[bad[0]])!r}")
    conv = table["conversation_id"].to_numpy()
    turn = table["turn"].to_numpy().astype(np.int64)
    starts = np.ones(n, dtype=bool)
    starts[1:] = conv[1:] != conv[:-1]
    expected_turn = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    wrong = np.flatnonzero(turn != expected_turn)
    if wrong.size:
        row = int(wrong[0])
        raise _fail(path, row, f"turns out of order: conversation {int(conv[row])} has turn {int(turn[row])} where turn "
                               f"{int(expected_turn[row])} belongs")
    firsts = conv[starts]
    if len(np.unique(firsts)) != len(firsts):
        dup = firsts[np.flatnonzero(np.bincount(np.unique(firsts, return_inverse=True)[1]) > 1)[0]]
        row = int(np.flatnonzero(conv == dup)[0])
        raise _fail(path, row, f"conversation {int(dup)} is split into non-adjacent rows")
    index = np.cumsum(starts) - 1
    lengths = np.bincount(index)
    n_prompts = table["n_prompts"].to_numpy().astype(np.int64)
    bad = np.flatnonzero(n_prompts != lengths[index])
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"n_prompts is {int(n_prompts[row])} but conversation {int(conv[row])} has {int(lengths[index[row]])} "
                               "prompts")
    user = table["user_id"].to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(user != user[starts][index])
    if bad.size:
        raise _fail(path, int(bad[0]), f"column user_id changes within conversation {int(conv[bad[0]])}")
    for column in ("success", "abandoned", "truncated"):
        values = table[column].to_numpy(zero_copy_only=False).astype(bool)
        bad = np.flatnonzero(values != values[starts][index])
        if bad.size:
            raise _fail(path, int(bad[0]), f"column {column} changes within conversation {int(conv[bad[0]])}")
    success = table["success"].to_numpy(zero_copy_only=False).astype(bool)
    played_missing = table["played_track"].is_null().to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(success & played_missing)
    if bad.size:
        raise _fail(path, int(bad[0]), "a successful conversation has no played_track")
