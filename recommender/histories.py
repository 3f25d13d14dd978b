"""Listening histories as data: the table format embeddings train on, read, validated and written.

A listening-history table is a Parquet (or CSV) file with one row per
(user, track) listening record:

============  =========================  ==========================================================
column        type                       meaning
============  =========================  ==========================================================
``user_id``   int64, required            who listened; any integer, one id per person
``track_id``  string, required           what they played: a track id of the catalog
                                         (``Catalog.table["track_id"]``, e.g. ``"fmc-00005"``)
``plays``     int64 > 0, required        how many times the user played the track
``timestamp`` timestamp or int64,        when (e.g. of the last play); accepted and ignored by
              optional                   training; may be null
``segment``   string, optional           a user segment (the simulator writes the persona, e.g.
                                         ``"explorer"``), used only to split users for the OPIS
                                         measure; one segment per user
============  =========================  ==========================================================

Several rows for the same (user, track) are summed: a log of single plays
(``plays`` = 1 each, with timestamps) is as good a table as one of totals.
Other columns are ignored. Integer columns may also be stored as floats
holding whole numbers (CSV readers do that) or as strings of digits.

What is refused, with one :class:`~recommender.errors.HistoryError` naming
the file and, where a value is at fault, the column, the row and the value
(rows count from 1 in file order, a CSV header not counted): a missing or
unreadable file, a folder, a missing required column, an empty table, a null
in a required column or in ``segment``, a ``user_id`` or ``plays`` that is not
an integer, ``plays`` <= 0, a ``track_id`` the catalog does not hold (the first
such id, and how many rows have one), a ``timestamp`` of another type, and a
user with two different segments.

Two sources of such tables ship with Segue: the simulator's population
(``simulator.histories.population_histories``, ``segue simulate-histories``)
and anything a user exports from a real service.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .catalog import Catalog
from .errors import HistoryError

__all__ = [
    "Histories", "HistoryError", "read_histories", "histories_from_table", "write_histories",
    "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "HISTORY_SCHEMA",
]

REQUIRED_COLUMNS = ("user_id", "track_id", "plays")
OPTIONAL_COLUMNS = ("timestamp", "segment")
HISTORY_SCHEMA = pa.schema([
    pa.field("user_id", pa.int64(), nullable=False),
    pa.field("track_id", pa.string(), nullable=False),
    pa.field("plays", pa.int64(), nullable=False),
    pa.field("segment", pa.string()),
])
"""The columns as the simulator writes them (``timestamp`` may be added)."""

_INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"


# ---------------------------------------------------------------- the in-memory form
@dataclass(frozen=True, eq=False)
class Histories:
    """Users' histories as CSR over unique tracks: ``tracks[indptr[u]:indptr[u+1]]`` with ``counts``.

    ``indptr`` int64 (n_users + 1,); ``tracks`` int64 (n_entries,): catalog rows, ascending within a
    user; ``counts`` float32 (n_entries,): the user's plays of that track; ``users`` int64 (n_users,):
    user ids, ascending; ``segment`` int64 (n_users,): index into ``segment_names`` (all 0 and
    ``segment_names == ()`` when the table had no segment column); ``n_plays`` int64 (n_users,): plays
    in the user's whole history (tracks a split held out included). ``source`` says where the table
    came from (a path, or e.g. "simulator population"), ``sha256`` fingerprints its content (see
    :func:`histories_from_table`), ``catalog`` is the fingerprint of the catalog it was read against.
    """

    indptr: np.ndarray
    tracks: np.ndarray
    counts: np.ndarray
    users: np.ndarray
    segment: np.ndarray
    segment_names: tuple[str, ...]
    n_plays: np.ndarray
    source: str = ""
    sha256: str = ""
    catalog: str = ""

    def __len__(self) -> int:
        return len(self.users)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``i``-th user's (tracks int64, counts float32)."""
        s, e = self.indptr[i], self.indptr[i + 1]
        return self.tracks[s:e], self.counts[s:e]

    @property
    def has_segments(self) -> bool:
        return len(self.segment_names) > 0

    @property
    def provenance(self) -> dict:
        """Where the histories came from, JSON-ready: source, sha256, users, plays."""
        return {"source": self.source, "sha256": self.sha256, "users": int(len(self)), "plays": int(self.n_plays.sum())}

    def select(self, rows: np.ndarray, *, drop: np.ndarray | None = None) -> "Histories":
        """The users at ``rows`` (int (k,), in that order); ``drop`` (bool (n_tracks,)): tracks to leave out
        of every history (``n_plays`` still counts them)."""
        rows = np.asarray(rows, dtype=np.int64)
        sizes = np.diff(self.indptr)[rows]
        owner = np.repeat(np.arange(len(rows)), sizes)
        entries = np.repeat(self.indptr[rows] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        if drop is not None:
            keep = ~drop[self.tracks[entries]]
            entries, owner = entries[keep], owner[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(rows)))]).astype(np.int64)
        return Histories(indptr, self.tracks[entries], self.counts[entries], self.users[rows], self.segment[rows],
                         self.segment_names, self.n_plays[rows], self.source, self.sha256, self.catalog)


# ---------------------------------------------------------------- validation
def _where(source: str, column: str, row: int, value) -> str:
    return f"history table {source}: column {column!r}, row {row + 1}, value {value!r}"


def _plain(column: pa.ChunkedArray) -> pa.Array:
    """One array; a dictionary column decoded to its values."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _no_nulls(array: pa.Array, name: str, source: str, why: str) -> None:
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise HistoryError(f"{_where(source, name, row, None)}: empty (null); {why}")


def _integers(array: pa.Array, name: str, source: str) -> np.ndarray:
    """int64 (n,) of an integer column (integers, whole floats or digit strings), or the first bad value named."""
    kind = array.type
    if pa.types.is_integer(kind):
        return array.to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_floating(kind):
        values = array.to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(values) | (values != np.floor(values)) | (np.abs(values) >= 2.0**63)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise HistoryError(f"{_where(source, name, row, float(values[row]))}: not an integer ({name} must be int64)")
        return values.astype(np.int64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        ok = pc.match_substring_regex(array, _INTEGER_TEXT).to_numpy(zero_copy_only=False)
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            raise HistoryError(f"{_where(source, name, row, array[row].as_py())}: not an integer ({name} must be int64)")
        try:
            return pc.cast(pc.utf8_trim_whitespace(array), pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid as exc:  # out of the int64 range
            raise HistoryError(f"history table {source}: column {name!r}: {exc}") from None
    first = array[0].as_py() if len(array) else None
    raise HistoryError(f"{_where(source, name, 0, first)}: column {name!r} must hold integers (int64), not {kind}")


def _strings(array: pa.Array, name: str, source: str) -> pa.Array:
    """The column as ``pa.string()``, or the type named with its first value."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    first = array[0].as_py() if len(array) else None
    raise HistoryError(f"{_where(source, name, 0, first)}: column {name!r} must hold strings, not {array.type}")


def _fingerprint(users, indptr, tracks, sums, segment, segment_names, catalog: Catalog) -> str:
    """sha256 of the aggregated histories, independent of file format, row order and catalog order."""
    used = np.unique(tracks)
    ids = np.asarray(catalog.table["track_id"].take(pa.array(used)).to_pylist(), dtype=object)
    by_id = np.argsort(ids, kind="stable")
    rank = np.empty(len(used), dtype=np.int64)
    rank[by_id] = np.arange(len(used))
    local = rank[np.searchsorted(used, tracks)]
    owner = np.repeat(np.arange(len(users)), np.diff(indptr))
    order = np.lexsort((local, owner))
    h = hashlib.sha256(b"segue listening histories v1\x00")
    h.update("\x00".join(ids[by_id].tolist()).encode() + b"\x00\x00")
    for array in (users, indptr, local[order], sums[order], segment):
        h.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
    h.update("\x00".join(segment_names).encode())
    return h.hexdigest()


def histories_from_table(table: pa.Table, catalog: Catalog, *, source: str = "in memory") -> Histories:
    """Validate a history table (the module docstring's format) and aggregate it per user and track.

    ``source`` names the table in errors and in the result (a path, or e.g. "simulator population").
    The result's ``sha256`` is a fingerprint of the aggregated content: the same histories give the same
    fingerprint whatever the file format, the row order or how duplicate rows split the plays.

    Raises ``HistoryError`` (one clear message: file, column, row, value) on any refused input.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise HistoryError(f"history table {source}: no column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)}; "
                           f"found: {', '.join(table.column_names) or 'none'})")
    if table.num_rows == 0:
        raise HistoryError(f"history table {source}: no rows (an empty table has no histories to learn from)")
    columns = {c: _plain(table[c]) for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in table.column_names}
    for name in REQUIRED_COLUMNS:
        _no_nulls(columns[name], name, source, "every row needs user_id, track_id and plays")

    user_raw = _integers(columns["user_id"], "user_id", source)
    plays = _integers(columns["plays"], "plays", source)
    if (plays <= 0).any():
        row = int(np.flatnonzero(plays <= 0)[0])
        raise HistoryError(f"{_where(source, 'plays', row, int(plays[row]))}: plays must be > 0 (times the user played the track)")

    track_ids = _strings(columns["track_id"], "track_id", source)
    index = pc.index_in(track_ids, value_set=catalog.table["track_id"].combine_chunks().cast(pa.string()))
    unknown = index.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise HistoryError(f"{_where(source, 'track_id', row, track_ids[row].as_py())}: not a track of catalog {catalog.name} "
                           f"({int(unknown.sum()):,} of {len(unknown):,} rows have a track id the catalog does not hold)")
    rows = index.to_numpy(zero_copy_only=False).astype(np.int64)

    if "timestamp" in columns:
        kind = columns["timestamp"].type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_integer(kind)):
            first = columns["timestamp"][0].as_py()
            raise HistoryError(f"{_where(source, 'timestamp', 0, first)}: column 'timestamp' must hold timestamps or int64, not {kind}")

    users, first_row, user_code = np.unique(user_raw, return_index=True, return_inverse=True)
    user_code = user_code.astype(np.int64)  # first_row: every user's first row
    segment_names: tuple[str, ...] = ()
    segment = np.zeros(len(users), dtype=np.int64)
    if "segment" in columns:
        seg = _strings(columns["segment"], "segment", source)
        _no_nulls(seg, "segment", source, "a segment column needs one for every row")
        encoded = pc.dictionary_encode(seg)
        names = encoded.dictionary.to_pylist()
        order = np.argsort(np.asarray(names, dtype=object), kind="stable")
        remap = np.empty(len(names), dtype=np.int64)
        remap[order] = np.arange(len(names))
        codes = remap[encoded.indices.to_numpy(zero_copy_only=False)]
        clash = codes != codes[first_row[user_code]]
        if clash.any():
            row = int(np.flatnonzero(clash)[0])
            other = int(first_row[user_code[row]])
            raise HistoryError(f"{_where(source, 'segment', row, seg[row].as_py())}: user {int(user_raw[row])} is "
                               f"{seg[other].as_py()!r} at row {other + 1} (one segment per user)")
        segment_names = tuple(names[i] for i in order)
        segment = codes[first_row]

    n_tracks = catalog.n
    key = user_code * n_tracks + rows
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key_sorted[1:] != key_sorted[:-1]]))
    sums = np.add.reduceat(plays[order], starts)
    unique_keys = key_sorted[starts]
    owner = unique_keys // n_tracks
    tracks = unique_keys % n_tracks
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(users)))]).astype(np.int64)
    n_plays = np.add.reduceat(sums, indptr[:-1])  # every user has at least one row: no empty range
    sha = _fingerprint(users, indptr, tracks, sums, segment, segment_names, catalog)
    return Histories(indptr, tracks.astype(np.int64), sums.astype(np.float32), users.astype(np.int64), segment,
                     segment_names, n_plays.astype(np.int64), source, sha, catalog.fingerprint)


# ---------------------------------------------------------------- files
def _is_csv(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst"))


#: a compressed CSV's codec by its last suffix, as pyarrow detects it when reading
_CSV_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}


def read_histories(path: str | Path, catalog: Catalog) -> Histories:
    """Read a history table from Parquet, or CSV (by the ``.csv`` suffix, optionally compressed), and
    validate it against ``catalog`` (see :func:`histories_from_table`); ``source`` is the path.

    Raises ``HistoryError``: the file is missing, a folder or unreadable, or the table is refused.
    """
    path = Path(path)
    if not path.exists():
        raise HistoryError(f"history table not found: {path}")
    if path.is_dir():
        raise HistoryError(f"history table {path} is a folder, not a file")
    try:
        if _is_csv(path):
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={"track_id": pa.string(), "segment": pa.string()}, strings_can_be_null=True))
        else:
            present = set(pq.read_schema(path).names)
            wanted = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in present]
            table = pq.read_table(path, columns=wanted) if set(REQUIRED_COLUMNS) <= present else pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        kind = "CSV" if _is_csv(path) else "Parquet (a name ending in .csv, .csv.gz, ... is read as CSV)"
        raise HistoryError(f"cannot read history table {path} as {kind}: {exc}") from None
    return histories_from_table(table, catalog, source=str(path))


def write_histories(table: pa.Table, path: str | Path) -> Path:
    """Write a history table to Parquet (zstd), or to CSV when ``path`` names one as :func:`read_histories` reads
    it (``.csv``, optionally ``.gz``, ``.bz2`` or ``.zst`` compressed), atomically: a temporary file in the same
    folder, then ``os.replace``; on any error nothing is left behind and an existing file is untouched.

    Only the presence of the required columns is checked here (track ids need a catalog: see
    :func:`read_histories`). Raises ``HistoryError``: a required column is missing, ``path`` is a
    folder, or the file cannot be written. Returns ``path``.
    """
    path = Path(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise HistoryError(f"cannot write history table {path}: no column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)})")
    if path.is_dir():
        raise HistoryError(f"cannot write history table {path}: it is a folder (give a file name, e.g. {path / 'histories.parquet'})")
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a history table is shared like the rest of the data
        if _is_csv(path):  # what the name says: read_histories reads it as CSV
            with pa.output_stream(tmp, compression=_CSV_CODECS.get(path.suffix.lower())) as stream:
                pacsv.write_csv(table, stream)
        else:
            pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        tmp = None
    except (OSError, pa.ArrowException) as exc:
        raise HistoryError(f"cannot write history table {path}: {exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path
