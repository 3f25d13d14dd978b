"""``segue loop``: rounds of serving, guardrails, learning, gate and canary, with planted faults caught."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from evaluation.loop_report import write_loop_report
from logs.collect import fallback_conversations
from policy.registry import current_policy, policy_history
from segue.workflows.loop import Fault, LoopSettings, read_ledger, run_loop

N = 800


def _settings(folder, rounds: int, faults=(), **extra) -> LoopSettings:
    return LoopSettings(rounds=rounds, conversations=N, seed=1, runs=folder, candidates=("regressor-base",), bootstrap=30,
                        fqe_steps=50, truth_conversations=300, workers=1, part_size=200, faults=faults, **extra)


def _steps(entries, step):
    return [e for e in entries if e["step"] == step]


@pytest.fixture(scope="module")
def bad_canary(tmp_path_factory):
    """Two rounds; after round 0 a candidate trained on inverted labels goes to the canary as if it had passed."""
    folder = tmp_path_factory.mktemp("loop") / "bad"
    return run_loop(_settings(folder, 2, ("bad-canary@0",)))


def test_a_candidate_worse_in_truth_that_passed_offline_is_caught_by_the_canary_and_rolled_back(bad_canary):
    entries, summary = bad_canary.entries, bad_canary.summary
    (rollback,) = _steps(entries, "rollback")
    assert rollback["policy"] == "r00-corrupted" and rollback["round"] == 1
    assert rollback["reason"].startswith("worse: the success interval lies below zero")
    looks = _steps(entries, "canary_look")
    assert looks[-1]["decision"] == "rollback" and looks[-1]["success_cs"][1] < 0
    truth = {e_name: t for e in _steps(entries, "truth") for e_name, t in e["policies"].items()}
    assert truth["r00-corrupted"]["success_rate"] < truth["rule"]["success_rate"] - 0.1  # worse in truth, indeed
    assert summary["faults"] == [{"round": 0, "kind": "bad-canary", "policy": "r00-corrupted", "caught_by": "rollback in round 1"}]
    assert bad_canary.current == "rule" == current_policy(bad_canary.settings.registry)
    assert policy_history(bad_canary.settings.registry)[-1]["action"] == "rollback"
    assert summary["false_promotions"] == 0 and summary["rollouts"] == []
    (sent,) = _steps(entries, "canary_next")
    assert (sent["round"], sent["canary_round"], sent["policy"]) == (0, 1, "r00-corrupted")
    assert _steps(entries, "quarantine") == []  # its evidence was planted: round 0's logs are not blamed
    assert [e["rounds"] for e in _steps(entries, "train") if e["round"] == 1] == [[0, 1]]


def test_no_user_is_turned_away_when_the_canary_stops_early(bad_canary):
    serve = [e for e in bad_canary.entries if e["step"] == "serve" and e["round"] == 1][0]
    assert sum(serve["served"].values()) == N
    assert 0 < serve["served"]["r00-corrupted"] < N * 0.25  # stopped before its whole share; the rest went to the rule policy
    looks = _steps(bad_canary.entries, "canary_look")
    assert len(looks) < 4


def test_the_ledger_reads_back_and_the_report_draws_every_round(bad_canary, tmp_path):
    for text, message in (('{"a": 1}\n', "not a loop ledger entry"), ("", "holds no loop"), ("{oops\n", "is not JSON")):
        (tmp_path / "bad").mkdir(exist_ok=True)
        (tmp_path / "bad" / "ledger.jsonl").write_text(text)
        with pytest.raises(ConfigError, match=message):
            read_ledger(tmp_path / "bad")
    with pytest.raises(ConfigError, match="loop folder not found"):
        read_ledger(tmp_path / "nowhere")
    entries = read_ledger(bad_canary.settings.runs)
    assert [e["step"] for e in entries][0] == "start" and entries[-1]["step"] == "summary"
    html_path, md_path = write_loop_report(entries, tmp_path / "loop.html")
    text = md_path.read_text()
    assert "## Round 0" in text and "## Round 1" in text and "Canary: sequential test" in text
    assert "r00-corrupted" in text and "rollback" in text and "planted fault bad-canary@0: caught by rollback in round 1" in text
    assert html_path.read_text().startswith("<html>") and "base64," in html_path.read_text()
    assert "has not finished" not in text
    # a loop stopped before its summary (cut after round 0), drawn into a folder that does not exist yet
    cut = [e for e in entries if e["step"] != "summary" and (e["round"] is None or e["round"] == 0)]
    _, md_path = write_loop_report(cut, tmp_path / "new" / "folder" / "loop.html")
    text = md_path.read_text()
    assert "## Round 0" in text and "## Round 1" not in text and "final policy" not in text
    assert "the loop has not finished: no summary in its ledger yet (1 round recorded so far)" in text


def test_the_same_command_resumes_with_the_same_decisions_and_other_settings_are_refused(bad_canary):
    again = run_loop(bad_canary.settings)
    def decisions(entries):
        return [(e["round"], e["step"], e.get("policy")) for e in entries if e["step"] not in ("start", "summary")]
    assert decisions(again.entries) == decisions(bad_canary.entries)
    assert any(e["step"] == "train" and e["reused"] for e in again.entries)
    with pytest.raises(ConfigError, match=r"holds a loop made with other settings \(exploration: [0-9.]+ there, 0.5 now\); choose another --runs"):
        run_loop(_settings(bad_canary.settings.runs, 2, ("bad-canary@0",), exploration=0.5))


def test_a_canary_that_raises_falls_back_per_conversation_and_a_corrupted_round_is_quarantined(tmp_path):
    result = run_loop(_settings(tmp_path / "faults", 2, ("bad-canary@0", "raise@0", "corrupt@1")))
    entries = result.entries
    (rollback,) = _steps(entries, "rollback")
    assert "online guardrail: the canary raised while serving" in rollback["reason"] and rollback["fallback"]
    canary_folders = [f for f in (tmp_path / "faults" / "round-01").iterdir() if f.name.startswith("canary-")]
    assert sum(fallback_conversations(f) for f in canary_folders) > 0
    (quarantine,) = _steps(entries, "quarantine")
    assert quarantine["round"] == 1 and "usefulness" in quarantine["reason"]
    trained = [e for e in _steps(entries, "train") if e["round"] == 1]
    assert trained and all(e["rounds"] == [0] for e in trained)  # the quarantined round is never learnt from
    kinds = {f["kind"]: f["caught_by"] for f in result.summary["faults"]}
    assert kinds == {"bad-canary": "rollback in round 1", "raise": "rollback in round 1", "corrupt": "quarantine in round 1"}


def test_loop_settings_are_checked():
    with pytest.raises(ConfigError, match="--fault is KIND@ROUND"):
        Fault.parse("raise")
    with pytest.raises(ConfigError, match="--fault kind must be one of"):
        Fault.parse("melt@1")
    with pytest.raises(ConfigError, match="the loop has rounds 0..1"):
        LoopSettings(rounds=2, faults=("raise@2",))
    with pytest.raises(ConfigError, match="too few for a canary"):
        LoopSettings(conversations=5)
    with pytest.raises(ConfigError, match="every prompt needs a chance"):
        LoopSettings(exploration=0.0)
    with pytest.raises(ConfigError, match="each --fault once"):
        LoopSettings(rounds=3, faults=("raise@0", "raise@0"))
    with pytest.raises(ConfigError, match="a canary fault needs a round after it"):
        LoopSettings(rounds=2, faults=("bad-canary@1",))
    settings = _settings("x", 3, ("corrupt@1",))
    assert LoopSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_two_rounds_that_agree_with_each_other_but_not_with_their_band_rebaseline_it(small_logs, tmp_path):
    """What follows a corrupted round that slipped through (or a world that changed): the older band is dropped."""
    import shutil

    from logs.guardrails import round_figures
    from segue.progress import Reporter
    from segue.workflows.loop import _invert_labels, _Ledger, _Loop, _Round

    bad = tmp_path / "bad"
    shutil.copytree(small_logs, bad)
    _invert_labels(bad)
    loop = _Loop(_settings(tmp_path / "loop", 3), Reporter.silent())
    loop.accepted = [_Round(0, {"rule": [bad]}, {"rule": round_figures(bad)})]
    ledger = _Ledger(tmp_path / "ledger.jsonl")
    figures = round_figures(small_logs)
    assert not loop._rebaseline(1, "rule", [small_logs], figures, ledger)  # one round off the band: held, quarantined
    assert loop._rebaseline(2, "rule", [small_logs], figures, ledger)      # a second that agrees with it: the band moves
    assert [x.index for x in loop.accepted] == [1]  # round 0 dropped; round 2 is added by the caller
    (entry,) = ledger.entries
    assert entry["step"] == "rebaseline" and entry["dropped_rounds"] == [0] and entry["accepted_rounds"] == [1, 2]
    ledger.close()
