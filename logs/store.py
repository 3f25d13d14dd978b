"""Parquet parts: atomic writes, and a reader that validates every part.

A part is written to a temporary name in the same folder and renamed into
place, so a crash never leaves a half-written ``part-NNNNN.parquet``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dialogue.prompts import PROMPT_CATALOGUE_VERSION, PROMPTS

from .errors import LogValidationError, LogWriteError
from .schema import LOG_SCHEMA_VERSION, REQUIRED_COLUMNS

if TYPE_CHECKING:
    from .manifest import LogManifest

__all__ = ["PART_GLOB", "part_path", "write_part", "list_parts", "read_part", "read_logs", "validate_table", "read_manifest", "logs_fingerprint",
           "segue_metadata", "feature_names", "fixed_column"]

PART_GLOB = "part-*.parquet"
_PROMPT_IDS = tuple(p.id.value for p in PROMPTS)


def part_path(folder: Path, index: int) -> Path:
    return folder / f"part-{index:05d}.parquet"


def write_part(table: pa.Table, path: Path, metadata: dict[str, str]) -> None:
    """Write ``table`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Raises ``LogWriteError`` (naming the path) when the file cannot be written; nothing half-written is left.
    """
    existing = table.schema.metadata or {}
    meta = {**{k.decode() if isinstance(k, bytes) else k: v for k, v in existing.items()}, **metadata}
    table = table.replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise LogWriteError(f"cannot write log part {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def list_parts(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise LogValidationError(f"log folder not found: {folder}" + (" (it is a file)" if folder.exists() else ""))
    parts = sorted(folder.glob(PART_GLOB))
    if not parts:
        raise LogValidationError(f"no log parts (part-*.parquet) in {folder}")
    return parts


def segue_metadata(schema_metadata: dict[bytes, bytes] | None) -> dict[str, str]:
    """The ``segue.*`` entries of a Parquet schema's metadata, decoded."""
    return {k.decode(): v.decode() for k, v in (schema_metadata or {}).items() if k.startswith(b"segue.")}


def feature_names(metadata: dict[str, str], column: str) -> tuple[str, ...]:
    """Names of a fixed-size feature column ("features" or "history_features"), from ``segue_metadata``."""
    return tuple(json.loads(metadata.get(f"segue.{column}_names", "[]")))


def fixed_column(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size list column as a 2-D array (rows, width)."""
    width = table.schema.field(column).type.list_size
    return pc.list_flatten(table[column]).to_numpy(zero_copy_only=False).reshape(table.num_rows, width)


def _fail(path: Path, row: int | None, message: str) -> LogValidationError:
    where = f"{path.name} row {row}" if row is not None else path.name
    return LogValidationError(f"{message} in {where}")


def validate_table(table: pa.Table, path: Path) -> None:
    """Check one part; raise one ``LogValidationError`` naming the file and row."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise _fail(path, None, f"missing column(s) {', '.join(missing)}")
    meta = segue_metadata(table.schema.metadata)
    schema_version = meta.get("segue.log_schema_version")
    if schema_version is not None and schema_version != LOG_SCHEMA_VERSION:
        raise _fail(path, None, f"log schema version {schema_version!r} is not the supported {LOG_SCHEMA_VERSION!r}")
    version = meta.get("segue.prompt_catalogue_version")
    if version is not None and version != PROMPT_CATALOGUE_VERSION:
        raise _fail(path, None, f"prompt catalogue version {version!r} does not match this Segue's {PROMPT_CATALOGUE_VERSION!r}")
    n = table.num_rows
    if n == 0:
        return
    propensity = table["propensity"].to_numpy(zero_copy_only=False).astype(np.float64)
    nulls = table["propensity"].is_null().to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(nulls | ~(propensity > 0) | ~(propensity <= 1))
    if bad.size:
        row = int(bad[0])
        value = "missing" if nulls[row] else repr(float(propensity[row]))
        raise _fail(path, row, f"propensity must be in (0, 1], found {value}")
    prompts = table["prompt"]
    known = pc.is_in(prompts, value_set=pa.array(_PROMPT_IDS)).fill_null(False).to_numpy(zero_copy_only=False)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise _fail(path, row, f"unknown prompt id {prompts[row].as_py()!r}")
    for column in ("features", "history_features", "action_probs"):
        flat = pc.list_flatten(table[column]).to_numpy(zero_copy_only=False)
        width = table.schema.field(column).type.list_size
        if flat.size != n * width:
            raise _fail(path, None, f"column {column} has null rows")
        values = flat.reshape(n, width)
        finite = np.isfinite(values)
        if not finite.all():
            row, col = (int(x) for x in np.argwhere(~finite)[0])
            names = feature_names(meta, column) if column != "action_probs" else _PROMPT_IDS
            name = names[col] if col < len(names) else str(col)
            raise _fail(path, row, f"NaN or infinite value in {column} ({name!r})")
    conv = table["conversation_id"].to_numpy()
    turn = table["turn"].to_numpy().astype(np.int64)
    starts = np.ones(n, dtype=bool)
    starts[1:] = conv[1:] != conv[:-1]
    expected = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    wrong = np.flatnonzero(turn != expected)
    if wrong.size:
        row = int(wrong[0])
        raise _fail(path, row, f"turns out of order: conversation {int(conv[row])} has turn {int(turn[row])} where turn {int(expected[row])} belongs")
    firsts = conv[starts]
    if len(np.unique(firsts)) != len(firsts):
        dup = firsts[np.flatnonzero(np.bincount(np.unique(firsts, return_inverse=True)[1]) > 1)[0]]
        row = int(np.flatnonzero(conv == dup)[0])
        raise _fail(path, row, f"conversation {int(dup)} is split into non-adjacent rows")


def read_part(path: Path, *, columns: list[str] | None = None, validate: bool = True) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read log part {path.name}: {exc}") from exc
    if validate:
        validate_table(table, path)
    return table.select(columns) if columns else table


def read_logs(folder: str | Path, *, columns: list[str] | None = None, validate: bool = True) -> pa.Table:
    """All parts of a log folder, validated, concatenated in part order."""
    tables = [read_part(p, columns=columns, validate=validate) for p in list_parts(folder)]
    return pa.concat_tables(tables)


def read_manifest(folder: str | Path) -> "LogManifest":
    """How the logs in ``folder`` were made, from its first part's ``segue.*`` metadata.

    Raises ``LogValidationError`` when the folder has no parts or the metadata is not Segue's.
    """
    from .manifest import LogManifest

    first = list_parts(folder)[0]
    try:
        schema = pq.read_schema(first)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read log part {first.name}: {exc}") from exc
    return LogManifest.from_metadata(segue_metadata(schema.metadata), where=str(first))


def logs_fingerprint(folder: str | Path) -> str:
    """sha256 (first 16 hex digits) over the names and contents of a log folder's parts."""
    import hashlib

    digest = hashlib.sha256()
    for part in list_parts(folder):
        digest.update(part.name.encode())
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
