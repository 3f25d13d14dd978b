"""Real chats feed the next round: simulated logs, three scripted chats and one spoken session, validated together,
trained on together (`segue train --logs A --logs B`) and evaluated on together, through the installed `segue`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEGUE = Path(sys.executable).parent / "segue"
CHATS = ["something upbeat please\nyes\nyes\nyes\nyes\nstop\n",
         "play some jazz\nno\nyes\nstop\n",
         "I dont mind\nno idea\nupbeat\nno\nstop\n"]


def segue(*args, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(SEGUE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, f"segue {' '.join(map(str, args))}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    if not SEGUE.is_file():
        pytest.fail(f"the installed entry point {SEGUE} is missing: run `make test` (it installs the project)")
    home = tmp_path_factory.mktemp("sources")
    # simulated with the scorer the chats are served with (the baseline: no embeddings here), so the logs share
    # their features; logs of embeddings-served policies are covered by tests/segue/test_cli_policy.py
    segue("simulate", "--conversations", "500", "--seed", "3", "--out", "runs/logs", cwd=home)
    for i, lines in enumerate(CHATS):
        (home / f"chat{i}.txt").write_text(lines)
        segue("chat", "--script", f"chat{i}.txt", "--no-audio", cwd=home)
    if shutil.which("espeak-ng") is not None:
        from tests.segue.test_voice import spoken

        spoken(home / "me.wav", "something upbeat please", "yes please", "stop")
        segue("voice", "--input-wav", "me.wav", "--no-audio", cwd=home)
    return home


def test_every_source_validates_trains_and_evaluates_together(home):
    voice = shutil.which("espeak-ng") is not None
    summary = json.loads(segue("logs", "summary", "runs/logs", "runs/chats", "--json", cwd=home).stdout)
    sources = summary["sources"]
    assert sources["simulated"]["conversations"] == 500
    assert sources["chat"]["conversations"] >= 3 and ("voice" in sources) == voice
    total = summary["conversations"]
    assert total == sum(s["conversations"] for s in sources.values())
    validated = segue("logs", "validate", "runs/logs", "runs/chats", cwd=home)
    assert "all valid (conversation ids unique across them)" in validated.stdout
    record = json.loads(segue("train", "--logs", "runs/logs", "--logs", "runs/chats", "--algo", "regressor", "--features",
                              "base", "--eval-conversations", "0", "--out", "runs/policies/reg-all", "--json", cwd=home).stdout)
    assert record["logs"]["conversations"] == total and record["logs"]["paths"] == ["runs/logs", "runs/chats"]
    evaluated = json.loads(segue("evaluate", "--logs", "runs/logs", "--logs", "runs/chats", "--policy", "rule", "--policy",
                                 "reg-all", "--estimator", "is", "--estimator", "wis", "--bootstrap", "50", "--json",
                                 cwd=home).stdout)
    assert evaluated["conversations"] == total and set(evaluated["policies"]) == {"rule", "reg-all"}
    assert evaluated["policies"]["rule"]["supported"]  # the chats were served by the rule: no chat turn is unsupported
