import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logs.errors import LogValidationError, LogWriteError
from logs.store import list_parts, read_logs, read_part, write_part


@pytest.fixture(scope="module")
def part(small_logs):
    return pq.read_table(small_logs / "part-00000.parquet")


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, table.schema.field(column), pa.array(values, table.schema.field(column).type))


def _first_long_conversation(table: pa.Table) -> int:
    turns = table["turn"].to_numpy()
    return int(np.flatnonzero(turns == 2)[0]) - 2  # row of turn 0 of a conversation with >= 3 turns


def _swap(table: pa.Table, i: int, j: int) -> pa.Table:
    order = np.arange(table.num_rows)
    order[[i, j]] = order[[j, i]]
    return table.take(pa.array(order))


def _meta(table: pa.Table, key: str, value: str) -> pa.Table:
    meta = dict(table.schema.metadata)
    meta[key.encode()] = value.encode()
    return table.replace_schema_metadata(meta)


BAD = [
    ("propensity zero", lambda t: _set(t, "propensity", 3, 0.0), r"propensity must be in \(0, 1\], found 0\.0 in part-00000\.parquet row 3"),
    ("propensity negative", lambda t: _set(t, "propensity", 5, -0.2), r"found -0\.2 in part-00000\.parquet row 5"),
    ("propensity missing", lambda t: _set(t, "propensity", 2, None),
     r"column propensity is null \(a value is required\) in part-00000\.parquet row 2"),
    ("propensity above one", lambda t: _set(t, "propensity", 1, 1.5), r"found 1\.5 in part-00000\.parquet row 1"),
    ("propensity NaN", lambda t: _set(t, "propensity", 7, float("nan")), r"column propensity is nan \(NaN or infinite\) in part-00000\.parquet row 7"),
    ("unknown prompt", lambda t: _set(t, "prompt", 4, "ask_tempo"), r"unknown prompt id 'ask_tempo' in part-00000\.parquet row 4"),
    ("NaN feature", lambda t: _set(t, "features", 6, [float("nan")] + t["features"][6].as_py()[1:]),
     r"NaN or infinite value in features \('turn_frac'\) in part-00000\.parquet row 6"),
    ("infinite history feature", lambda t: _set(t, "history_features", 8, t["history_features"][8].as_py()[:-1] + [float("inf")]),
     r"NaN or infinite value in history_features \('aff_offer_station'\) in part-00000\.parquet row 8"),
    ("turns out of order", lambda t: _swap(t, _first_long_conversation(t) + 1, _first_long_conversation(t) + 2),
     r"turns out of order: conversation \d+ has turn 2 where turn 1 belongs in part-00000\.parquet row \d+"),
    ("duplicated conversation", lambda t: pa.concat_tables([t, t.slice(0, int(t["n_prompts"][0].as_py()))]),
     r"conversation \d+ is split into non-adjacent rows in part-00000\.parquet row 0"),
    ("missing column", lambda t: t.drop_columns(["propensity"]), r"missing column\(s\) propensity in part-00000\.parquet"),
    ("other prompt catalogue", lambda t: _meta(t, "segue.prompt_catalogue_version", "0"),
     r"prompt catalogue version '0' does not match .* in part-00000\.parquet"),
]


@pytest.mark.parametrize("name, corrupt, message", BAD, ids=[b[0] for b in BAD])
def test_validator_rejects_bad_parts(tmp_path, part, name, corrupt, message):
    bad = corrupt(part)
    path = tmp_path / "part-00000.parquet"
    pq.write_table(bad, path)
    with pytest.raises(LogValidationError, match=message):
        read_part(path)


def test_valid_part_passes_and_unreadable_part_is_named(tmp_path, small_logs, part):
    assert read_logs(small_logs).num_rows > part.num_rows
    garbage = tmp_path / "part-00000.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(LogValidationError, match="cannot read log part .*part-00000.parquet"):
        read_part(garbage)
    with pytest.raises(LogValidationError, match="log folder not found"):
        list_parts(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogValidationError, match=r"no log parts \(part-NNNNN\.parquet\)"):
        list_parts(tmp_path / "empty")


def test_write_part_is_atomic(tmp_path, part, monkeypatch):
    target = tmp_path / "part-00003.parquet"

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(LogWriteError, match="cannot write log part .*part-00003.parquet: disk full"):
        write_part(part, target, {"segue.part": "3"})
    assert list(tmp_path.iterdir()) == []  # neither the part nor a temp file is left
    monkeypatch.undo()
    write_part(part, target, {"segue.part": "3"})
    assert pq.read_schema(target).metadata[b"segue.part"] == b"3"
    assert json.loads(pq.read_schema(target).metadata[b"segue.features_names"])[0] == "turn_frac"
