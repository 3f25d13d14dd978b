"""A newcomer's first hour, as the README tells it, from an empty folder, at small scale.

`make demo` (histories, embeddings, then `segue pipeline`: logs, training, off-policy evaluation, report, gate),
then `segue chat --script` served by what the pipeline promoted, `segue logs summary runs/chats`, and
`segue voice --input-wav` on speech made by espeak-ng. Every step goes through the installed `segue` entry
point (the Makefile's, then the PATH's), checks its exit code and its files, and that no traceback was shown.
These tests would have caught the crash of commit 0101754 (`make demo` died at step 1 with
``TypeError: expected str, bytes or os.PathLike object, not OptionInfo``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEGUE = Path(sys.executable).parent / "segue"
#: small enough for CI (under a minute on 2 cores); at this scale the gate may promote a candidate or refuse them all
DEMO = {
    "CONVERSATIONS": "1200",
    "HISTORY_USERS": "1000",
    "EMBEDDINGS_FLAGS": "--steps 40 --eval-users 200 --cold-epochs 5",
    "PIPELINE_FLAGS": "--truth-conversations 150 --eval-conversations 50 --bootstrap 50 --fqe-steps 100 --steps 100",
}


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    assert "Traceback" not in result.stderr, f"{what} showed a traceback:\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}"


def segue(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SEGUE), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """An empty folder where `make demo` ran (its `runs/` inside), as a newcomer's clone would have it."""
    if not SEGUE.is_file():
        pytest.fail(f"the installed entry point {SEGUE} is missing: run `make test` (it installs the project)")
    if shutil.which("make") is None:
        pytest.fail("make is not installed: the README's two commands need it")
    folder = tmp_path_factory.mktemp("newcomer")
    assert not any(folder.iterdir())
    runs = folder / "runs"
    # -o: the venv is what runs these tests (never rebuilt here); SEGUE: this interpreter's entry point
    args = ["make", "--no-print-directory", "-C", str(ROOT), "-o", ".venv/.installed", "demo", f"RUNS={runs}",
            f"SEGUE={SEGUE}", *(f"{k}={v}" for k, v in DEMO.items())]
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    (folder / "demo.log").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    _check(result, "make demo")
    return folder


def test_make_demo_writes_the_report_and_decides(home):
    runs = home / "runs"
    for path in ("histories.parquet", "embeddings/embeddings.json", "logs/manifest.json", "evaluation.json",
                 "report.html", "report.md", "policies/history.jsonl"):
        assert (runs / path).is_file(), f"make demo did not write runs/{path}"
    log = (home / "demo.log").read_text()
    for stage in ("1/5 simulate", "2/5 train cql-base", "3/5 evaluate", "4/5 report", "5/5 promote"):
        assert stage in log, f"no progress line for {stage!r} (stderr is not a terminal here)"
    assert "done in" in log
    evaluation = json.loads((runs / "evaluation.json").read_text())
    assert evaluation["conversations"] == int(DEMO["CONVERSATIONS"])
    candidates = {"cql-base", "regressor-base", "regressor-history"}
    assert set(evaluation["policies"]) == candidates | {"rule"}
    history = json.loads(segue("policy", "history", "--registry", "runs/policies", "--json", cwd=home).stdout)
    decided = {e["to"]: e["action"] for e in history["history"]}
    assert set(decided) == candidates and set(decided.values()) <= {"promote", "refused"}  # every candidate decided
    promoted = [name for name, action in decided.items() if action == "promote"]
    assert len(promoted) <= 1 and history["current"] == (promoted[0] if promoted else "rule")
    assert ("promoted " if promoted else "no candidate passes the gate") in log
    page = (runs / "report.html").read_text()
    assert "Deployment gate" in page and "cql-base over rule" in page


def current(home: Path) -> str:
    return json.loads(segue("policy", "history", "--registry", "runs/policies", "--json", cwd=home).stdout)["current"]


def test_chat_is_served_by_what_was_promoted_and_logged(home):
    script = home / "chat.txt"
    script.write_text("something upbeat please\nyes\nyes\nyes\nyes\nyes\nyes\nstop\n")
    result = segue("chat", "--script", str(script), "--no-audio", cwd=home)
    _check(result, "segue chat")
    assert f"policy {current(home)} (" in result.stderr  # the registry's current policy, as the pipeline left it
    logged = re.search(r"logged (\d+) conversations?, (\d+) turns?, to runs/chats/part-00000.parquet", result.stderr)
    assert logged and "segue>" in result.stdout, result.stderr
    learned = segue("chat", "--script", str(script), "--no-audio", "--policy", "cql-base", cwd=home)
    _check(learned, "segue chat --policy cql-base")
    assert "policy cql-base (base features)" in learned.stderr
    assert "scorer emb-" in learned.stderr  # the demo's embeddings fit a base-feature policy: served with them
    assert learned.stdout.count("segue>") >= 2 and result.stdout.count("segue>") >= 2  # the greeting and answers
    second = re.search(r"logged (\d+) conversations?, (\d+) turns?, to runs/chats/part-00001.parquet", learned.stderr)
    assert second, learned.stderr
    summary = segue("logs", "summary", "runs/chats", "--json", cwd=home)
    _check(summary, "segue logs summary runs/chats")
    figures = json.loads(summary.stdout)
    assert figures["conversations"] == int(logged[1]) + int(second[1])
    assert figures["turns"] == int(logged[2]) + int(second[2]) and figures["success_rate"] > 0
    validated = segue("logs", "validate", "runs/chats", cwd=home)
    _check(validated, "segue logs validate runs/chats")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make test installs it as root)")
def test_voice_from_a_wav_file(home):
    from tests.segue.test_voice import spoken

    wav = spoken(home / "me.wav", "play some jazz", "I love it")
    before = len(list((home / "runs" / "chats").glob("part-*.parquet")))
    result = segue("voice", "--input-wav", str(wav), "--no-audio", "--output-wav", str(home / "segue.wav"), cwd=home)
    _check(result, "segue voice")
    assert f"policy {current(home)} (" in result.stderr and "you>" in result.stdout
    assert (home / "segue.wav").stat().st_size > 10_000
    assert len(list((home / "runs" / "chats").glob("part-*.parquet"))) == before + 1
