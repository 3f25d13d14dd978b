"""Every log folder that went wrong for a user, as a test with the right behaviour.

Each case is rebuilt here from a fresh log (as ``../shared/cases/logs/make_log_cases.py`` builds them), so the
tests run without ``../shared``; where the shared folders are there, the same checks run on them too.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from logs.errors import LogValidationError
from logs.store import fixed_column, read_logs, unlisted_files
from logs.summary import summarize
from tests.segue.in_process import segue_in_process

SHARED_CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "logs"
PART = "part-00001.parquet"


def run(*args, cwd=None):
    return segue_in_process(*args, cwd=cwd)


def _rewrite(folder: Path, change) -> None:
    table = pq.read_table(folder / PART)
    pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), folder / PART)


def _cases(base: Path, out: Path) -> dict[str, Path]:
    """The four altered folders of make_log_cases.py, from the log folder ``base`` (two parts)."""
    made = {}
    for name in ("logs_schema_evolution", "logs_extra_column", "logs_stray_copy", "logs_null_reward"):
        made[name] = out / name
        shutil.copytree(base, made[name])
    i = pq.read_schema(base / PART).get_field_index("turn")
    _rewrite(made["logs_schema_evolution"],
             lambda t: t.set_column(i, pa.field("turn", pa.int32(), nullable=False), t["turn"].cast(pa.int32())))
    _rewrite(made["logs_extra_column"], lambda t: t.append_column("asr_confidence", pa.array([0.5] * t.num_rows, pa.float32())))
    shutil.copy(made["logs_stray_copy"] / PART, made["logs_stray_copy"] / "part-00001-copy.parquet")
    r = pq.read_schema(base / PART).get_field_index("reward")
    _rewrite(made["logs_null_reward"], lambda t: t.set_column(r, t.schema.field("reward"), pa.nulls(t.num_rows, pa.float32())))
    return made


@pytest.fixture(scope="module")
def cases(small_logs, tmp_path_factory) -> dict[str, Path]:
    return _cases(small_logs, tmp_path_factory.mktemp("cases"))


def _shared(name: str) -> list[Path]:
    folder = SHARED_CASES / name
    return [folder] if folder.is_dir() else []


def _both(cases, name):
    return [cases[name], *_shared(name)]


def test_a_part_with_another_column_type_is_named(cases):
    for folder in _both(cases, "logs_schema_evolution"):
        with pytest.raises(LogValidationError, match=r"column turn is int32, expected int16 in part-00001\.parquet"):
            read_logs(folder)
        result = run("logs", "summary", folder, "--json")
        assert result.returncode == 2 and "column turn is int32, expected int16 in part-00001.parquet" in result.stderr
        assert "Traceback" not in result.stderr


def test_extra_columns_are_ignored_by_rule(cases, small_logs):
    """The documented rule (logs/schema.py): columns Segue does not know are allowed and not read."""
    for folder in _both(cases, "logs_extra_column"):
        table = read_logs(folder)
        assert "asr_confidence" not in table.column_names
        assert summarize(folder)["conversations"] == 200
    assert read_logs(cases["logs_extra_column"]).equals(read_logs(small_logs))


def test_a_stray_copy_is_not_read_and_is_named(cases, tmp_path):
    for folder in _both(cases, "logs_stray_copy"):
        summary = summarize(folder)
        assert summary["conversations"] == 200 and summary["ignored_files"] == {str(folder): ["part-00001-copy.parquet"]}
        assert unlisted_files(folder) == ["part-00001-copy.parquet"]
        result = run("logs", "validate", folder)
        assert result.returncode == 0 and "part-00001-copy.parquet" in result.stderr and "not read" in result.stderr
    # training, evaluating and exporting say it too (they skipped it silently)
    folder = cases["logs_stray_copy"]
    exported = segue_in_process("logs", "export", folder, "--out", tmp_path / "t.csv")  # light work: no process start
    assert exported.returncode == 0 and "not read" in exported.stderr and "part-00001-copy.parquet" in exported.stderr
    trained = segue_in_process("train", "--logs", folder, "--algo", "regressor", "--features", "base",
                               "--eval-conversations", "0", "--out", tmp_path / "reg")
    assert trained.returncode == 0, trained.stderr
    assert "not read" in trained.stderr and "part-00001-copy.parquet" in trained.stderr, trained.stderr
    from evaluation.ope import OPESettings
    from segue.progress import Reporter
    from segue.workflows import EvaluateSettings, evaluate_policies

    said = io.StringIO()
    settings = EvaluateSettings(logs=(folder,), policies=("rule",), ope=OPESettings(estimators=("is",), bootstrap=10))
    evaluate_policies(settings, Reporter(Console(file=said, width=300), live=False))
    assert f"not read (no part of {folder}'s manifest): part-00001-copy.parquet" in said.getvalue()
    bare = tmp_path / "bare"  # no manifest: said so, with the rule that picked the parts (it spoke of a manifest)
    bare.mkdir()
    for part in folder.glob("*.parquet"):
        shutil.copy(part, bare / part.name)
    validated = segue_in_process("logs", "validate", bare)
    assert validated.returncode == 0 and "all valid" in validated.stdout
    assert (f"not read ({bare} has no manifest.json: only part-NNNNN.parquet files are read): part-00001-copy.parquet"
            in " ".join(validated.stderr.split())), validated.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("settings")
    (folder / "manifest.json").write_text(json.dumps({**manifest, "parts": ["part-00000.parquet", "part-00001.parquet",
                                                                           "part-00001-copy.parquet"]}))
    with pytest.raises(LogValidationError, match="'parts' must be a list of part-NNNNN.parquet names"):
        read_logs(folder)


def test_a_copy_read_as_a_part_is_refused_naming_both(cases, tmp_path):
    """Even a copy given its own part name (or a folder read twice) is refused: a conversation id in two parts."""
    folder = tmp_path / "copied"
    shutil.copytree(cases["logs_stray_copy"], folder)
    (folder / "manifest.json").unlink()  # a folder of Segue 0.1's chat logs: every part-NNNNN.parquet is read
    (folder / "part-00001-copy.parquet").rename(folder / "part-00002.parquet")
    with pytest.raises(LogValidationError, match=r"conversation \d+ is in .*part-00001\.parquet and in .*part-00002\.parquet"):
        read_logs(folder)
    with pytest.raises(LogValidationError, match="the same log folder is given twice"):
        read_logs([cases["logs_extra_column"], cases["logs_extra_column"]])


def test_null_rewards_are_refused_and_nothing_is_trained(cases, tmp_path):
    for folder in _both(cases, "logs_null_reward"):
        with pytest.raises(LogValidationError, match=r"column reward is null \(a value is required\) in part-00001\.parquet row 0"):
            read_logs(folder)
    for algo in ("cql", "regressor", "bcq"):
        result = run("train", "--logs", cases["logs_null_reward"], "--algo", algo, "--steps", "20", "--eval-conversations", "0",
                     "--out", tmp_path / algo)
        assert result.returncode == 2 and "column reward is null" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / algo).exists()


def test_training_that_blows_up_saves_nothing_and_says_so(small_logs, tmp_path):
    """Valid but extreme features (3e38) make bc's logits NaN inside torch: one error, no traceback, no policy."""
    import numpy as np

    folder = tmp_path / "huge"
    shutil.copytree(small_logs, folder)
    i = pq.read_schema(folder / PART).get_field_index("features")

    def huge(t):
        width = t.schema.field("features").type.list_size
        values = np.full(t.num_rows * width, 3e38, dtype=np.float32)
        return t.set_column(i, t.schema.field("features"), pa.FixedSizeListArray.from_arrays(pa.array(values), width))

    _rewrite(folder, huge)
    result = run("train", "--logs", folder, "--algo", "bc", "--steps", "50", "--eval-conversations", "0", "--out",
                 tmp_path / "bc")
    assert result.returncode == 2 and "diverged" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "bc").exists()


def test_near_deterministic_logs_give_no_confident_number(tmp_path):
    """ope_near_deterministic.sh: a constant policy on logs whose alternatives had probability down to 1e-34 (rebuilt
    here with the script's settings, and the shared folder too where it is there)."""
    made = run("simulate", "--conversations", 200, "--seed", 11, "--exploration", 0, "--temperature", 0.05, "--part-size", 200,
               "--workers", 1, "--out", tmp_path / "logs_near_deterministic")
    assert made.returncode == 0, made.stderr
    probs = fixed_column(read_logs(tmp_path / "logs_near_deterministic"), "action_probs")
    assert 0 < probs[probs > 0].min() < 1e-20  # the alternatives the logging policy all but never asked
    made = run("policy", "constant", "play_sample", "--out", tmp_path / "pol_const_play")
    assert made.returncode == 0, made.stderr
    for folder in [tmp_path / "logs_near_deterministic", *_shared("logs_near_deterministic")]:
        result = run("evaluate", "--logs", folder, "--policy", tmp_path / "pol_const_play", "--estimator", "is",
                     "--estimator", "wis", "--estimator", "wpdis", "--bootstrap", "50", "--registry", tmp_path / "noreg", "--json")
        assert result.returncode == 0, result.stderr
        entry = next(iter(json.loads(result.stdout)["policies"].values()))
        assert entry["supported"] is False and entry["estimators"] == {}
        assert "below 0.001" in entry["support"]["message"]
    # as the script runs it (text, --truth): the truth that was asked for is shown, and nothing is bootstrapped
    text = run("evaluate", "--logs", tmp_path / "logs_near_deterministic", "--policy", tmp_path / "pol_const_play",
               "--estimator", "is", "--bootstrap", "50", "--truth", "--truth-conversations", "100", "--registry", tmp_path / "noreg")
    assert text.returncode == 0, text.stderr
    shown = re.search(r"simulator truth: usefulness ([\d.]+), success_rate ([\d.]+), prompts ([\d.]+)", text.stdout)
    assert shown is not None, text.stdout
    assert 0 <= float(shown.group(2)) <= 1 and float(shown.group(3)) >= 1
    assert "bootstrap" not in text.stderr and "Traceback" not in text.stderr
