import json

import pyarrow.parquet as pq
import pytest

from tests.segue.in_process import segue_in_process



def run(*args):
    return segue_in_process(*args)


def _one_clear_line(result, message):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert message in result.stderr, result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1, result.stderr


@pytest.fixture(scope="module")
def history_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hist") / "histories.parquet"
    result = run("simulate-histories", "--users", "150", "--out", path, "--population-seed", "5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["users"] == 150 and summary["path"] == str(path) and summary["population_seed"] == 5
    return path


def test_simulate_histories_writes_the_table(history_file, tmp_path):
    table = pq.read_table(history_file)
    assert table.column_names == ["user_id", "track_id", "plays", "segment"]
    assert sorted(set(table["user_id"].to_pylist())) == list(range(150))
    again = tmp_path / "again.parquet"
    assert run("simulate-histories", "--users", "150", "--out", again, "--seed", "5").returncode == 0
    assert pq.read_table(again).equals(table)  # --seed is --population-seed: same seed, same table
    assert [p.name for p in tmp_path.iterdir()] == ["again.parquet"]


def test_train_on_a_history_file(history_file, tmp_path):
    out = tmp_path / "emb"
    result = run("embeddings", "train", "--histories", history_file, "--steps", "20", "--users", "60", "--eval-users", "40",
                 "--cold-epochs", "5", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    hist = data["histories"]
    assert hist["source"] == str(history_file) and len(hist["sha256"]) == 64
    assert (hist["users"], hist["train_users"], hist["eval_users"]) == (150, 60, 40)
    assert data["heldout"]["model"]["recall@10"] >= 0 and "opis_user" in data
    shown = json.loads(run("embeddings", "show", out, "--json").stdout)
    assert shown["histories"] == hist and shown["settings"]["train_users"] == 60 and shown["settings"]["cold_epochs"] == 5


def test_train_without_histories_generates_the_population(tmp_path):
    result = run("embeddings", "train", "--steps", "5", "--users", "30", "--eval-users", "20", "--cold-epochs", "5",
                 "--out", tmp_path / "e", "--json")
    assert result.returncode == 0, result.stderr
    assert "no --histories: the simulator population's listening histories for 50 users, made in memory" in result.stderr
    hist = json.loads(result.stdout)["histories"]
    assert hist["source"].startswith("simulator population") and (hist["users"], hist["train_users"]) == (50, 30)


@pytest.mark.parametrize(
    "content, message",
    [
        ("user_id,track_id,plays\n1,fmc-00005,3\n2,no-such-track,1\n", "column 'track_id', row 2, value 'no-such-track': not a track"),
        ("user_id,track_id\n1,fmc-00005\n", "no column 'plays'"),
        ("user_id,track_id,plays\n1,fmc-00005,-2\n", "column 'plays', row 1, value -2: plays must be > 0"),
    ],
)
def test_bad_history_file_is_one_clear_line(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = segue_in_process("embeddings", "train", "--histories", bad, "--steps", "5", "--out", tmp_path / "e")
    _one_clear_line(result, f"history table {bad}: {message}")
    assert not (tmp_path / "e").exists()


def test_cli_mistakes_are_one_clear_line(history_file, tmp_path):
    _one_clear_line(segue_in_process("embeddings", "train", "--histories", tmp_path / "none.parquet", "--out", tmp_path / "e"),
                    "--histories file not found")
    _one_clear_line(segue_in_process("embeddings", "train", "--histories", history_file, "--eval-users", "145", "--out", tmp_path / "e"),
                    "has 150 users: too few for 145 evaluation users and 10 training users")
    _one_clear_line(segue_in_process("embeddings", "train", "--histories", history_file, "--cold-epochs", "0", "--out", tmp_path / "e"),
                    "--cold-epochs must be between 1 and 100,000, got 0")
    _one_clear_line(segue_in_process("simulate-histories", "--users", "5", "--out", tmp_path), "is a folder")
    _one_clear_line(segue_in_process("simulate-histories", "--users", "0", "--out", tmp_path / "h.parquet"), "--users must be between 1")
    assert not (tmp_path / "h.parquet").exists() and not (tmp_path / "e").exists()
