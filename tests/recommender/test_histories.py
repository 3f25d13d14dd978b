import ast
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from core.errors import ConfigError, SegueError
from recommender.embeddings import EmbeddingsError, EmbeddingSettings, make_split
from recommender.errors import HistoryError
from recommender.histories import Histories, histories_from_table, read_histories, write_histories

RECOMMENDER = Path(__file__).resolve().parents[2] / "recommender"
UPPER_LAYERS = {"simulator", "dialogue", "policy", "logs", "evaluation", "segue"}


def _ids(catalog, rows):
    return [catalog.table["track_id"][int(r)].as_py() for r in rows]


def _table(catalog, users, rows, plays, **extra) -> pa.Table:
    columns = {"user_id": pa.array(users, pa.int64()), "track_id": pa.array(_ids(catalog, rows), pa.string()),
               "plays": pa.array(plays, pa.int64())}
    columns.update(extra)
    return pa.table(columns)


def _grid(catalog, n_users=30, per_user=10, seed=0, segments=False) -> pa.Table:
    """``n_users`` users (ids 100, 103, ...) with ``per_user`` distinct tracks each, plays 1..5."""
    rng = np.random.default_rng(seed)
    users = np.repeat(100 + 3 * np.arange(n_users), per_user)
    rows = np.concatenate([rng.choice(catalog.n, size=per_user, replace=False) for _ in range(n_users)])
    plays = rng.integers(1, 6, size=len(rows))
    extra = {"segment": pa.array(np.where(users % 2 == 0, "b-even", "a-odd").tolist())} if segments else {}
    return _table(catalog, users, rows, plays, **extra)


# ---------------------------------------------------------------- reading and writing
def test_round_trip_write_read(catalog, tmp_path):
    table = _grid(catalog, segments=True)
    path = write_histories(table, tmp_path / "sub" / "h.parquet")
    assert sorted(p.name for p in path.parent.iterdir()) == ["h.parquet"]  # no temp file left
    hist = read_histories(path, catalog)
    assert isinstance(hist, Histories) and len(hist) == 30 and hist.source == str(path)
    assert np.array_equal(hist.users, 100 + 3 * np.arange(30))
    assert hist.segment_names == ("a-odd", "b-even")
    assert np.array_equal(hist.segment, (hist.users % 2 == 0).astype(np.int64))
    assert hist.catalog == catalog.fingerprint and len(hist.sha256) == 64
    users = table["user_id"].to_numpy()
    rows = np.asarray(pc.index_in(table["track_id"], value_set=catalog.table["track_id"]).to_numpy(zero_copy_only=False))
    plays = table["plays"].to_numpy()
    for i, uid in enumerate(hist.users):
        t, c = hist.row(i)
        mine = users == uid
        order = np.argsort(rows[mine])
        assert np.array_equal(t, rows[mine][order]) and np.array_equal(c, plays[mine][order].astype(np.float32))
        assert hist.n_plays[i] == plays[mine].sum()
    assert hist.provenance == {"source": str(path), "sha256": hist.sha256, "users": 30, "plays": int(plays.sum())}


def test_a_csv_name_is_written_as_csv_and_reads_back_the_same(catalog, tmp_path):
    """`simulate-histories --out h.csv` wrote Parquet under a .csv name, which the trainer then read as broken CSV."""
    table = _grid(catalog, segments=True)
    csv = write_histories(table, tmp_path / "h.csv")
    assert csv.read_text().splitlines()[0].replace('"', "").split(",")[:3] == ["user_id", "track_id", "plays"]
    parquet = read_histories(write_histories(table, tmp_path / "h.parquet"), catalog)
    again = read_histories(csv, catalog)
    assert np.array_equal(again.users, parquet.users) and again.segment_names == parquet.segment_names
    assert all(np.array_equal(a, b) for i in range(len(again)) for a, b in zip(again.row(i), parquet.row(i)))
    for name, magic in (("h.csv.gz", b"\x1f\x8b"), ("h.csv.bz2", b"BZh"), ("h.csv.zst", b"\x28\xb5\x2f\xfd")):
        packed = write_histories(table, tmp_path / name)  # compressed as named, and read back the same
        assert packed.read_bytes()[: len(magic)] == magic, name
        assert read_histories(packed, catalog).sha256 == parquet.sha256, name


def test_duplicate_rows_are_summed_and_keep_the_fingerprint(catalog):
    rows = [5, 9, 5, 5, 9, 2]
    table = _table(catalog, [1, 1, 1, 2, 1, 2], rows, [1, 2, 3, 4, 5, 6])
    hist = histories_from_table(table, catalog)
    assert np.array_equal(hist.users, [1, 2])
    assert np.array_equal(hist.row(0)[0], [5, 9]) and np.array_equal(hist.row(0)[1], [4.0, 7.0])
    assert np.array_equal(hist.row(1)[0], [2, 5]) and np.array_equal(hist.row(1)[1], [6.0, 4.0])
    assert np.array_equal(hist.n_plays, [11, 10]) and hist.segment_names == () and not hist.has_segments
    totals = _table(catalog, [2, 1, 2, 1], [5, 9, 2, 5], [4, 7, 6, 4])  # the same histories, other rows and order
    assert histories_from_table(totals, catalog).sha256 == hist.sha256
    changed = _table(catalog, [2, 1, 2, 1], [5, 9, 2, 5], [4, 7, 6, 5])
    assert histories_from_table(changed, catalog).sha256 != hist.sha256


def test_csv_with_timestamps_is_accepted(catalog, tmp_path):
    table = _grid(catalog, n_users=12)
    stamps = pa.array(np.arange(table.num_rows) * 1_000_000, pa.int64()).cast(pa.timestamp("us"))
    pacsv.write_csv(table.append_column("timestamp", stamps), tmp_path / "h.csv")
    large = table.set_column(1, "track_id", table["track_id"].cast(pa.large_string()))
    assert histories_from_table(large, catalog).sha256 == histories_from_table(table, catalog).sha256
    from_csv = read_histories(tmp_path / "h.csv", catalog)
    write_histories(table, tmp_path / "h.parquet")
    from_parquet = read_histories(tmp_path / "h.parquet", catalog)
    assert from_csv.sha256 == from_parquet.sha256
    assert np.array_equal(from_csv.tracks, from_parquet.tracks) and np.array_equal(from_csv.counts, from_parquet.counts)
    (tmp_path / "floats.csv").write_text(f"user_id,track_id,plays,timestamp\n7,{_ids(catalog, [3])[0]},2.0,1700000000\n")
    assert read_histories(tmp_path / "floats.csv", catalog).n_plays.tolist() == [2]


# ---------------------------------------------------------------- what is refused
def _bad(catalog, tmp_path, case: str) -> Path:
    """A refused history file (``case`` names the fault); returns its path."""
    a, b, c = _ids(catalog, [0, 1, 2])
    path = tmp_path / f"{case}.parquet"
    good = {"user_id": [1, 2, 3], "track_id": [a, b, c], "plays": [1, 2, 3]}
    if case == "missing":
        return tmp_path / "none.parquet"
    if case == "folder":
        path.mkdir()
        return path
    if case == "garbage":
        path.write_bytes(b"this is not parquet at all")
        return path
    if case == "csv_text_plays":
        path = tmp_path / "text.csv"
        path.write_text(f"user_id,track_id,plays\n1,{a},3\n2,{b},x\n")
        return path
    tables = {
        "no_plays": pa.table({k: v for k, v in good.items() if k != "plays"}),
        "empty": pa.table({k: pa.array([], pa.int64() if k != "track_id" else pa.string()) for k in good}),
        "null_user": pa.table({**good, "user_id": pa.array([1, None, 3], pa.int64())}),
        "zero_plays": pa.table({**good, "plays": [1, 2, 0]}),
        "fractional_plays": pa.table({**good, "plays": [1.0, 1.5, 3.0]}),
        "text_user": pa.table({**good, "user_id": ["u1", "u2", "u3"]}),
        "unknown_track": pa.table({**good, "track_id": [a, "nope-1", "nope-2"]}),
        "segment_clash": pa.table({"user_id": [4, 5, 4], "track_id": [a, b, c], "plays": [1, 1, 1],
                                   "segment": ["decisive", "explorer", "explorer"]}),
        "null_segment": pa.table({**good, "segment": pa.array(["x", None, "y"], pa.string())}),
        "text_timestamp": pa.table({**good, "timestamp": ["yesterday", "today", "now"]}),
    }
    pq.write_table(tables[case], path)
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", r"history table not found: {path}$"),
        ("folder", r"history table {path} is a folder"),
        ("garbage", r"cannot read history table {path} as Parquet \(a name ending in \.csv, \.csv\.gz, \.\.\. is read as CSV\): "),
        ("no_plays", r"history table {path}: no column 'plays' \(required: user_id, track_id, plays; found: user_id, track_id\)"),
        ("empty", r"history table {path}: no rows"),
        ("null_user", r"history table {path}: column 'user_id', row 2, value None: empty \(null\)"),
        ("zero_plays", r"history table {path}: column 'plays', row 3, value 0: plays must be > 0"),
        ("fractional_plays", r"history table {path}: column 'plays', row 2, value 1\.5: not an integer"),
        ("csv_text_plays", r"history table {path}: column 'plays', row 2, value 'x': not an integer"),
        ("text_user", r"history table {path}: column 'user_id', row 1, value 'u1': not an integer"),
        ("unknown_track", r"history table {path}: column 'track_id', row 2, value 'nope-1': not a track of catalog "
                          r"freemusicc\.parquet \(2 of 3 rows have a track id the catalog does not hold\)"),
        ("segment_clash", r"history table {path}: column 'segment', row 3, value 'explorer': user 4 is 'decisive' at row 1"),
        ("null_segment", r"history table {path}: column 'segment', row 2, value None: empty \(null\)"),
        ("text_timestamp", r"history table {path}: column 'timestamp', row 1, value 'yesterday': .* timestamps or int64, not string"),
    ],
)
def test_bad_tables_are_refused_with_file_column_row_and_value(catalog, tmp_path, case, message):
    path = _bad(catalog, tmp_path, case)
    with pytest.raises(HistoryError, match=message.format(path=re.escape(str(path)))) as info:
        read_histories(path, catalog)
    assert isinstance(info.value, EmbeddingsError) and isinstance(info.value, SegueError)
    assert "\n" not in str(info.value)


def test_write_is_atomic_and_refuses_folders(catalog, tmp_path, monkeypatch):
    table = _grid(catalog, n_users=3)
    path = write_histories(table, tmp_path / "h.parquet")
    before = path.read_bytes()

    def broken(tbl, where, **kwargs):
        Path(where).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(HistoryError, match=f"cannot write history table {re.escape(str(path))}: .*No space left"):
        write_histories(_grid(catalog, n_users=5), path)
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["h.parquet"]
    with pytest.raises(HistoryError, match="is a folder"):
        write_histories(table, tmp_path)
    with pytest.raises(HistoryError, match="no column 'plays'"):
        write_histories(table.drop_columns(["plays"]), tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


# ---------------------------------------------------------------- the split
def test_make_split_holds_out_users_and_shares_seeded(catalog):
    hist = histories_from_table(_grid(catalog, n_users=40, per_user=20, segments=True), catalog, source="grid")
    settings = EmbeddingSettings(eval_users=12, holdout_share=0.25, cold_share=0.0, seed=5)
    split = make_split(catalog, settings, hist)
    assert len(split.context) == len(split.heldout) == 12 and len(split.train) == 28
    assert sorted(np.concatenate([split.train.users, split.context.users]).tolist()) == hist.users.tolist()
    assert np.array_equal(split.context.users, split.heldout.users)
    rows = {u: i for i, u in enumerate(hist.users)}
    held_share = []
    for i, uid in enumerate(split.context.users):
        ctx, held = split.context.row(i)[0], split.heldout.row(i)[0]
        full = hist.row(rows[uid])[0]
        assert not np.isin(held, ctx).any() and np.array_equal(np.sort(np.concatenate([ctx, held])), full)
        assert len(held) >= 1
        held_share.append(len(held) / len(full))
        assert split.context.segment[i] == hist.segment[rows[uid]]
    assert 0.15 < np.mean(held_share) < 0.35
    for i, uid in enumerate(split.train.users):  # training users keep their whole history (no cold tracks here)
        assert np.array_equal(split.train.row(i)[0], hist.row(rows[uid])[0])
    assert split.histories == {"source": "grid", "sha256": hist.sha256, "users": 40, "plays": int(hist.n_plays.sum()),
                               "train_users": 28, "eval_users": 12}

    again = make_split(catalog, settings, hist)
    for part in ("train", "context", "heldout"):
        a, b = getattr(split, part), getattr(again, part)
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("users", "indptr", "tracks", "counts"))
    other = make_split(catalog, EmbeddingSettings(eval_users=12, holdout_share=0.25, cold_share=0.0, seed=6), hist)
    assert not np.array_equal(other.context.users, split.context.users)

    capped = make_split(catalog, EmbeddingSettings(eval_users=12, train_users=15, seed=5), hist)
    assert len(capped.train) == 15 and not np.isin(capped.train.users, capped.context.users).any()


def test_make_split_keeps_cold_tracks_out_and_refuses_small_tables(catalog):
    hist = histories_from_table(_grid(catalog, n_users=40, per_user=60), catalog, source="grid")
    split = make_split(catalog, EmbeddingSettings(eval_users=10, cold_share=0.2, seed=1), hist)
    assert split.cold.sum() == round(0.2 * catalog.n)
    assert not split.cold[split.train.tracks].any() and not split.cold[split.context.tracks].any()
    assert split.cold[split.heldout.tracks].any()  # a cold track an evaluation user played is held out
    with pytest.raises(ConfigError, match="history table grid has 40 users: too few for 31 evaluation users and 10 training"):
        make_split(catalog, EmbeddingSettings(eval_users=31), hist)
    with pytest.raises(ConfigError, match="too few for 10 evaluation users and 35 training users"):
        make_split(catalog, EmbeddingSettings(eval_users=10, train_users=35), hist)


def test_histories_read_against_another_catalog_are_refused(catalog):
    from dataclasses import replace

    hist = histories_from_table(_grid(catalog, n_users=20), catalog, source="grid")
    with pytest.raises(EmbeddingsError, match="read against catalog 'feedbeef'"):
        make_split(catalog, EmbeddingSettings(eval_users=5), replace(hist, catalog="feedbeef"))


# ---------------------------------------------------------------- layering
def test_recommender_imports_no_upper_layer():
    """recommender is the bottom layer (above core): nothing under it imports the packages built on it."""
    offenders = []
    for path in sorted(RECOMMENDER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.relative_to(RECOMMENDER.parent)}:{node.lineno} imports {n}"
                          for n in names if n.split(".")[0] in UPPER_LAYERS]
    assert len(list(RECOMMENDER.rglob("*.py"))) > 10
    assert offenders == []
