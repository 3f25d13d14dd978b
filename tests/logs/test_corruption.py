"""Property: any random corruption of a valid part is either refused with one message naming the file and the row or
the column, or read back exactly as written; it never ends in another exception (a traceback for the user)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logs.errors import LogValidationError
from logs.store import read_part

_NUMERIC = ("propensity", "sentiment", "nlu_confidence", "reward", "opening_sentiment", "opening_confidence")
_VALUES = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 5),
                    st.sampled_from(["", "ask_tempo", "open"]))


@pytest.fixture(scope="module")
def part(small_logs):
    return pq.read_table(small_logs / "part-00000.parquet")


def _set(table: pa.Table, column: str, row: int, value):
    field = table.schema.field(column).with_nullable(True)  # a writer that declared the column nullable
    values = table[column].to_pylist()
    values[row] = value
    try:
        array = pa.array(values, field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None  # the value does not fit the column's type: Arrow itself would not write it
    return table.set_column(table.column_names.index(column), field, array)


CORRUPTIONS = st.one_of(
    st.tuples(st.just("cell"), st.sampled_from(("conversation_id", "turn", "prompt", "forced", *_NUMERIC, "success",
                                                  "n_prompts", "played_track", "user_id")), st.integers(0, 400), _VALUES),
    st.tuples(st.just("drop"), st.sampled_from(("turn", "reward", "features", "forced", "opening_acts")), st.just(0), st.none()),
    st.tuples(st.just("cast"), st.sampled_from(("turn", "n_prompts", "user_id", "reward", "propensity")), st.just(0),
              st.sampled_from((pa.int32(), pa.int64(), pa.float64(), pa.string()))),
    st.tuples(st.just("swap"), st.integers(0, 400), st.integers(0, 400), st.none()),
    st.tuples(st.just("truncate"), st.integers(1, 4000), st.just(0), st.none()),
    st.tuples(st.just("metadata"), st.sampled_from(("segue.log_schema_version", "segue.features_names", "segue.settings",
                                                    "segue.feature_version")), st.just(0), st.sampled_from(("", "7", "[]", "{"))),
)


def _corrupt(table: pa.Table, corruption, path):
    kind, a, b, value = corruption
    n = table.num_rows
    if kind == "cell":
        return _set(table, a, b % n, value)
    if kind == "drop":
        return table.drop_columns([a])
    if kind == "cast":
        try:
            return table.set_column(table.column_names.index(a), pa.field(a, value), table[a].cast(value))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if kind == "swap":
        order = np.arange(n)
        order[[a % n, b % n]] = order[[b % n, a % n]]
        return table.take(pa.array(order))
    if kind == "metadata":
        meta = dict(table.schema.metadata)
        meta[a.encode()] = value.encode()
        return table.replace_schema_metadata(meta)
    return "truncate"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruption=CORRUPTIONS)
def test_a_corrupted_part_is_refused_by_name_or_read_back_identically(part, corruption, tmp_path_factory):
    path = tmp_path_factory.mktemp("corrupt") / "part-00000.parquet"
    bad = _corrupt(part, corruption, path)
    if bad is None:
        return
    if isinstance(bad, str):  # cut the file's bytes short
        pq.write_table(part, path)
        data = path.read_bytes()
        path.write_bytes(data[: max(1, len(data) - corruption[1])])
    else:
        pq.write_table(bad.replace_schema_metadata(bad.schema.metadata), path)
    try:
        table = read_part(path)
    except LogValidationError as exc:
        message = str(exc)
        assert "part-00000.parquet" in message, message
        assert re.search(r"row \d+|column|metadata|schema|feature|cannot read|manifest|settings|version|not a Segue", message), message
        return
    for column in table.column_names:  # valid: every column Segue reads comes back as it was written
        if column in bad.column_names:
            assert table[column].to_pylist() == bad[column].to_pylist(), (corruption, column)
