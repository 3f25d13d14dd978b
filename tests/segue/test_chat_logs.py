"""Chat logs are training data: a forced prompt is logged as forced, sessions never share an id, and the chat
folder validates, summarizes and evaluates (the cases in ../shared/cases/chat, inlined)."""

from __future__ import annotations

import json
import warnings

import pyarrow.parquet as pq

from logs.store import fixed_column, read_logs
from tests.segue.in_process import segue_in_process

LEAD = "play some jazz\nno\nstop\n"                                   # chat_lead_zero_propensity.txt
TWO_SESSIONS = "I dont mind\nno idea\nupbeat\nno\nstop\n"             # chat_valid_two_sessions.txt, run twice


def chat(tmp_path, script: str, name: str, *extra: str):
    path = tmp_path / f"{name}.txt"
    path.write_text(script)
    return segue_in_process("chat", "--script", path, "--no-audio", "--registry", tmp_path / "noreg", "--scorer", "baseline",
                            "--log-dir", tmp_path / "chats", *extra)


def segue(*args):
    return segue_in_process(*args)


def test_a_prompt_the_person_forced_is_logged_as_forced(tmp_path):
    result = chat(tmp_path, LEAD, "lead")
    assert result.returncode == 0, result.stderr
    table = read_logs(tmp_path / "chats")
    first = table.slice(0, 1).to_pylist()[0]
    assert first["prompt"] == "play_sample" and first["forced"] is True and first["propensity"] == 1.0
    probs = fixed_column(table, "action_probs")[0]
    assert probs.tolist().count(1.0) == 1 and probs.sum() == 1.0  # one-hot on the forced prompt
    assert not any(table["forced"].to_pylist()[1:])  # the policy chose the rest
    validated = segue("logs", "validate", tmp_path / "chats")
    assert validated.returncode == 0 and "1 part, all valid" in validated.stdout, validated.stderr  # one session, one part
    with warnings.catch_warnings():  # one conversation: its jackknife printed "RuntimeWarning: invalid value ..."
        warnings.simplefilter("error", RuntimeWarning)
        evaluated = segue("evaluate", "--logs", tmp_path / "chats", "--policy", "rule", "--registry", tmp_path / "noreg",
                          "--estimator", "is", "--bootstrap", "20", "--min-ess", "0", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    entry = json.loads(evaluated.stdout)["policies"]["rule"]
    assert entry["supported"] and entry["diagnostics"]["weight_max"] == 1.0  # the forced turn weighs 1, the rest is the rule


def test_two_sessions_never_share_a_conversation_id_and_a_randomized_share_is_logged(tmp_path):
    for extra in ((), ("--exploration", "0.4")):
        result = chat(tmp_path, TWO_SESSIONS, "two", *extra)
        assert result.returncode == 0, result.stderr
    parts = sorted((tmp_path / "chats").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
    assert json.loads((tmp_path / "chats" / "manifest.json").read_text())["parts"] == [p.name for p in parts]
    ids = [set(pq.read_table(p)["conversation_id"].to_pylist()) for p in parts]
    assert not ids[0] & ids[1]
    second = pq.read_table(parts[1])
    probs, masks = fixed_column(second, "action_probs"), fixed_column(second, "valid_mask")
    for p, m, forced in zip(probs, masks, second["forced"].to_pylist()):
        if not forced:  # (1 - 0.4) on the rule's pick + 0.4 spread over the valid prompts
            assert p[m].min() >= 0.4 / m.sum() - 1e-6 and abs(p.max() - (0.6 + 0.4 / m.sum())) < 1e-6
    assert "+uniform(0.4)" in second.schema.metadata[b"segue.logging_policy"].decode()
    summary = json.loads(segue("logs", "summary", tmp_path / "chats", "--json").stdout)
    assert summary["conversations"] == 2 and summary["sources"] == {"chat": {"conversations": 2, "turns": summary["turns"],
                                                                             "success_rate": 0.0}}
    evaluated = segue("evaluate", "--logs", tmp_path / "chats", "--policy", "rule", "--registry", tmp_path / "noreg",
                      "--estimator", "is", "--bootstrap", "20", "--min-ess", "0", "--json")
    assert evaluated.returncode == 0, evaluated.stderr  # no "turns out of order": two conversations, two ids
    assert json.loads(evaluated.stdout)["conversations"] == 2


def test_a_simulated_folder_is_refused_before_the_chat_starts(tmp_path):
    """A newcomer's `segue chat --log-dir simA` on a folder `segue simulate` made: refused at once, and the folder is
    left as it was (it used to run the whole chat, write a stray part into the collection, then refuse)."""
    made = segue("simulate", "-n", "10", "--seed", "1", "--workers", "1", "--out", tmp_path / "sim")
    assert made.returncode == 0, made.stderr
    before = sorted(p.name for p in (tmp_path / "sim").iterdir())
    result = chat(tmp_path, LEAD, "lead", "--log-dir", str(tmp_path / "sim"))  # the last --log-dir wins
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds a simulated collection" in result.stderr and "segue>" not in result.stdout  # no conversation
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == before
