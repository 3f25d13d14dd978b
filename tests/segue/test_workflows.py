"""The workflows as plain functions (what the CLI calls), their settings records, and progress without a terminal."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
from rich.console import Console

from core.errors import ConfigError
from logs.errors import LogConflictError
from segue.progress import Reporter
from segue.workflows import PipelineSettings, auto_steps, run_pipeline
from segue.workflows.pipeline import Candidate


def test_pipeline_settings_round_trip_and_refusals(tmp_path):
    settings = PipelineSettings(conversations=1200, seed=3, runs=tmp_path / "r", train_steps=300,
                                candidates=(Candidate("regressor", "history"),), promote=False)
    again = PipelineSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings
    assert PipelineSettings.from_dict({}) == PipelineSettings()  # defaults in one place
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"conversations": 900, "candidates": ["cql-base"]}))
    loaded = PipelineSettings.from_file(path)
    assert loaded.conversations == 900 and loaded.candidates == (Candidate("cql", "base"),) and loaded.seed == 1
    for bad, message in (({"conversatons": 5}, "unknown key\\(s\\) conversatons"),
                         ({"conversations": 0}, "--conversations must be between 1"),
                         ({"candidates": ["ppo-base"]}, "candidate learner must be one of cql, bcq, bc, regressor"),
                         ({"candidates": ["cql"]}, "a candidate is <learner>-<features>"),
                         ({"candidates": ["cql-base", "cql-base"]}, "each candidate once"),
                         ({"bootstrap": -1}, "--bootstrap must be between"),
                         ({"train_steps": 0}, "--steps must be between")):
        with pytest.raises(ConfigError, match=message):
            PipelineSettings.from_dict(bad)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        PipelineSettings.from_file(path)


def test_auto_steps_follow_the_size_of_the_logs():
    assert auto_steps(239_596, 256) == 15_000  # the default 50,000 conversations: the cap
    assert auto_steps(14_400, 256) == 900      # about 3,000 conversations: 16 passes
    assert auto_steps(100, 256) == 500         # the floor
    assert auto_steps(50_000, 256) == 3_100    # rounded to hundreds


def test_run_pipeline_in_process(tmp_path, monkeypatch):
    """The main job as a function: every stage's output is in the result and on disk; a second run reuses them."""
    settings = PipelineSettings(conversations=400, runs=tmp_path / "runs", train_steps=100, eval_conversations=0,
                                truth_conversations=100, bootstrap=20, fqe_steps=20, workers=1,
                                candidates=(Candidate("cql", "base"), Candidate("regressor", "base")))
    result = run_pipeline(settings)
    assert result.simulation.summary["conversations"] == 400 and result.simulation.parts_written == 1
    assert result.trained == {"cql-base": True, "regressor-base": True}
    assert set(result.evaluation.report.policies) == {"cql-base", "regressor-base", "rule"}
    assert [g.candidate for g in result.gates] == ["cql-base", "regressor-base"] and result.current_before == "rule"
    assert all(p.is_file() for p in result.report)
    assert json.loads((tmp_path / "runs" / "evaluation.json").read_text()) == result.evaluation.report.to_dict()
    passing = [g.candidate for g in result.gates if g.promote]
    assert result.promoted == (max((g for g in result.gates if g.promote), key=lambda g: g.improvement.ci[0]).candidate
                               if passing else None)
    again = run_pipeline(settings)
    assert again.simulation.parts_written == 0 and again.simulation.parts_reused == 1
    assert again.trained == {"cql-base": False, "regressor-base": False}
    buffer = io.StringIO()
    other = replace(settings, conversations=500)
    with pytest.raises(LogConflictError, match=r"conversations: 400 there, 500 now\); choose another --runs$"):
        run_pipeline(other, Reporter(Console(file=buffer, width=200, force_terminal=False), live=False))
    assert buffer.getvalue() == ""  # refused before stage 1 starts: the error is the only thing said
    monkeypatch.setenv("MAKE_DEMO", "1")  # as `make demo` runs it: the folder is the make variable RUNS
    with pytest.raises(LogConflictError, match=r"500 now\); choose another RUNS=DIR \(make demo's --runs\)$"):
        run_pipeline(other)


def test_progress_without_a_terminal_is_a_line_per_stage_with_its_time():
    buffer = io.StringIO()
    reporter = Reporter(Console(file=buffer, width=200, force_terminal=False), live=False)
    with reporter.stage("1/2 simulate [things]"):
        with reporter.bar("simulating", 4) as update:
            for done in range(1, 5):
                update(done)
    with pytest.raises(RuntimeError):
        with reporter.stage("2/2 fail"):
            raise RuntimeError("boom")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "1/2 simulate [things]"  # markup in a title is shown as it is
    assert lines[1].startswith("  done in ") and lines[1].endswith("s (1/2 simulate)")
    assert lines[2] == "2/2 fail" and lines[3].startswith("  stopped after ")
    assert len(lines) == 4  # a step shorter than two seconds prints no lines of its own
    with reporter.stage("round 0/1: serve rule"):
        pass
    assert buffer.getvalue().splitlines()[-1].endswith("s (round 0/1)")  # not "(round 0/1:)"
    silent = io.StringIO()
    quiet = Reporter(Console(file=silent), enabled=False)
    with quiet.stage("x"), quiet.bar("y", 3) as update:
        update(3)
    assert silent.getvalue() == ""


def test_outputs_never_replace_what_they_should_not(tmp_path, catalog):
    """Every command that writes refuses a path holding something else, before any work, and leaves it as it was."""
    from logs.collect import prepare
    from logs.errors import LogConflictError
    from logs.manifest import CollectionSettings
    from policy.errors import PolicyError
    from policy.registry import constant_record, save_policy
    from recommender.embeddings import Embeddings
    from recommender.errors import EmbeddingsError
    from segue.workflows.embeddings import EmbeddingsJob, HistoriesJob

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    afile = tmp_path / "afile.txt"
    afile.write_text("precious")
    with pytest.raises(EmbeddingsError, match=r"holds other files \(thesis.txt\)"):
        EmbeddingsJob(out=mine)
    with pytest.raises(EmbeddingsError, match="is a file"):
        EmbeddingsJob(out=afile)
    emb = Embeddings(*(np.zeros((2, 2), np.float32),) * 2, np.eye(2, dtype=np.float32), np.zeros(2, bool), 0.1, {"version": "x"})
    with pytest.raises(EmbeddingsError, match="holds other files"):
        emb.save(mine)  # the library refuses too, not only the CLI
    with pytest.raises(ConfigError, match="exists: delete it or choose another file"):
        HistoriesJob(out=afile)
    with pytest.raises(PolicyError, match="is a file"):
        save_policy(afile, constant_record("x", "play_sample", catalog), None)
    with pytest.raises(LogConflictError, match=r"holds other files \(thesis.txt\) and no manifest.json"):
        prepare(mine, CollectionSettings(conversations=10))
    with pytest.raises(ConfigError, match="--runs .* is a file"):
        PipelineSettings(runs=afile)
    assert (mine / "thesis.txt").read_text() == "precious" and afile.read_text() == "precious"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]


def test_settings_files_with_wrong_types_are_one_clear_error(tmp_path):
    for bad, message in (({"conversations": "lots"}, "conversations must be an integer, got 'lots'"),
                         ({"promote": "no"}, "promote must be true or false, got 'no'"),
                         ({"bootstrap": True}, "bootstrap must be an integer, got True"),
                         ({"fqe_steps": 5.7}, "fqe_steps must be an integer, got 5.7"),
                         ({"candidates": "cql-base"}, "candidates must be a list or tuple, got 'cql-base'"),
                         ({"workers": None}, None),
                         ({"gate": {"nope": 1}}, "gate settings: unknown key\\(s\\) nope")):
        if message is None:
            assert PipelineSettings.from_dict(bad).workers is None
            continue
        with pytest.raises(ConfigError, match=message):
            PipelineSettings.from_dict(bad)
