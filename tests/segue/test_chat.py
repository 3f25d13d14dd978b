import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.segue.in_process import segue_in_process

SEGUE = [sys.executable, "-m", "segue.cli"]


def run(*args, stdin=None):
    return segue_in_process(*args, stdin=stdin)


def run_process(*args, stdin=None, timeout=300):
    """A real ``segue`` process: where a real pipe is the point."""
    return subprocess.run([*SEGUE, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


def test_nlu_parse_json_contract():
    result = run("nlu", "parse", "something laid back, maybe jazz", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"act": "inform", "slot": "energy", "value": "laid_back"} in data["acts"]
    assert {"act": "inform", "slot": "genre", "value": "jazz"} in data["acts"]
    assert isinstance(data["sentiment"], float) and isinstance(data["confidence"], float)
    bad = segue_in_process("nlu", "parse", "yes", "--prompt", "nonsense")
    assert bad.returncode == 2 and "--prompt must be one of" in bad.stderr and "Traceback" not in bad.stderr
    bad = segue_in_process("nlu", "parse", "yes", "--nlu", "gpt")
    assert bad.returncode == 2 and "--nlu must be embedded or rasa, got 'gpt'" in bad.stderr


def test_rasa_backend_without_a_server_is_one_clear_error():
    result = segue_in_process("nlu", "parse", "jazz", "--nlu", "rasa", "--rasa-url", "http://127.0.0.1:9")
    assert result.returncode == 2 and "no Rasa server answers at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_scripted_chat_plays_and_logs(tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("upbeat jazz please\nyes\nyes\nyes\nyes\nyes\n\n" + "x" * 100_000 + "\n\x00\x07\nstop\n")
    logs = tmp_path / "chats"
    result = run("chat", "--script", str(script), "--registry", str(tmp_path / "none"), "--scorer", "baseline",
                 "--log-dir", str(logs), "--no-audio")
    assert result.returncode == 0, result.stderr
    assert "Enjoy! Playing" in result.stdout and "Traceback" not in result.stderr
    assert "the track is shown, not played" in result.stderr  # said once
    assert result.stderr.count("the track is shown") == 1
    table = pq.read_table(logs / "part-00000.parquet")
    assert table.num_rows >= 2 and set(table.column("prompt").to_pylist()) >= {"play_sample"}
    summary = run("logs", "summary", str(logs), "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["conversations"] >= 1


def test_a_misspelt_genre_and_a_broken_name_in_a_scripted_chat(tmp_path):
    """chat_misspelled_genre_stops.txt ("jaz please" ended the chat) and chat_mojibake_artist.txt ("eva muller")."""
    script = tmp_path / "lines.txt"
    script.write_text("jaz please\n" + "I don't mind\n" * 8 + "stop\n")
    result = run("chat", "--script", str(script), "--registry", str(tmp_path / "none"), "--scorer", "baseline",
                 "--no-log", "--no-audio")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "(jazz, " in result.stdout  # a jazz sample was played, the chat went on
    assert result.stdout.index("(jazz, ") < result.stdout.index("OK, stopping here")
    script.write_text("play something by eva muller\nstop\n")
    result = run("chat", "--script", str(script), "--registry", str(tmp_path / "none"), "--scorer", "baseline",
                 "--no-log", "--no-audio")
    assert result.returncode == 0 and "by Eva Müller" in result.stdout and "Ã" not in result.stdout


def test_piped_stdin_and_eof(tmp_path):
    result = run_process("chat", "--registry", str(tmp_path / "none"), "--scorer", "baseline", "--no-log", "--no-audio", stdin="")
    assert result.returncode == 0 and "What would you like to listen to?" in result.stdout
    result = segue_in_process("chat", "--script", str(tmp_path / "missing.txt"), "--no-log")
    assert result.returncode == 2 and "--script file not found" in result.stderr


def test_a_script_through_a_pipe_is_read_and_a_user_outside_the_population_is_refused(tmp_path):
    """``--script <(...)`` hands over a pipe, not a regular file: it is read like one."""
    fifo = tmp_path / "lines"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf 'something upbeat\\nstop\\n' > {fifo}"])
    result = run_process("chat", "--script", str(fifo), "--registry", str(tmp_path / "none"), "--scorer", "baseline", "--no-log",
                 "--no-audio")
    writer.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert "not found" not in result.stderr and "script ended" not in result.stderr
    (tmp_path / "stop.txt").write_text("stop\n")
    bad = segue_in_process("chat", "--user-id", "10000", "--script", str(tmp_path / "stop.txt"), "--no-log")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--user-id must be one of the simulated population's users, 0 to 9999, got 10000" in bad.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (make test installs it when it can)")
def test_chat_in_a_real_terminal(tmp_path):
    session = f"segue-test-{time.time_ns()}"
    command = " ".join([sys.executable, "-m", "segue.cli", "chat", "--registry", str(tmp_path / "none"), "--scorer",
                        "baseline", "--no-log", "--no-audio"])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", command], check=True)
    try:
        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session, "-S", "-200"], capture_output=True, text=True).stdout

        def wait_for(text: str, timeout: float = 90) -> str:
            deadline = time.time() + timeout
            while time.time() < deadline:
                shown = screen()
                if text in shown:
                    return shown
                time.sleep(0.3)
            raise AssertionError(f"{text!r} never appeared:\n{screen()}")

        wait_for("you>")
        subprocess.run(["tmux", "send-keys", "-t", session, "upbeat jazz please", "Enter"], check=True)
        for _ in range(8):
            time.sleep(0.5)
            if "Did you like it?" in screen() or "What do you think?" in screen() or "Is it any good?" in screen() \
                    or "Does it work for you?" in screen():
                break
            subprocess.run(["tmux", "send-keys", "-t", session, "yes", "Enter"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "yes, I love it", "Enter"], check=True)
        shown = wait_for("Enjoy! Playing")
        assert "jazz" in shown
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_a_script_that_ends_mid_conversation_says_so(tmp_path):
    script = tmp_path / "short.txt"
    script.write_text("something upbeat\n")
    result = run("chat", "--script", str(script), "--registry", str(tmp_path / "none"), "--scorer", "baseline",
                 "--log-dir", str(tmp_path / "chats"), "--no-audio")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "note: the script ended before the conversation did" in result.stderr
    assert pq.read_table(tmp_path / "chats" / "part-00000.parquet").num_rows == 1  # the unanswered prompt is logged
    script.write_text("something upbeat\nstop\n")
    done = run("chat", "--script", str(script), "--registry", str(tmp_path / "none"), "--scorer", "baseline", "--no-log",
               "--no-audio")
    assert done.returncode == 0 and "script ended" not in done.stderr
    # piped lines that run out say it too; with --no-log nothing is counted, so nothing is said to be
    piped = segue_in_process("chat", "--registry", tmp_path / "none", "--scorer", "baseline", "--no-log", "--no-audio",
                             stdin="something upbeat\n")
    assert piped.returncode == 0 and "note: the input ended before the conversation did" in piped.stderr, piped.stderr
    assert "counted as abandoned" not in piped.stderr and "logged" not in piped.stderr


def test_a_script_that_is_no_text_is_refused_and_utf16_is_read(tmp_path):
    """A WAV given to --script played 2,619 turns of binary "you>" lines (a newcomer's finding); UTF-16 text with its
    byte-order mark (what Windows editors write) is text."""
    import soundfile

    wav = tmp_path / "me.wav"
    soundfile.write(str(wav), np.zeros(8000, dtype=np.float32), 8000, subtype="PCM_16")
    result = segue_in_process("chat", "--script", wav, "--no-audio", "--no-log")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--script {wav} is not a text file (a WAV file" in result.stderr and "you>" not in result.stdout
    noise = tmp_path / "noise.bin"  # no known signature: told by its share of control bytes
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    refused = segue_in_process("chat", "--script", noise, "--no-audio", "--no-log")
    assert refused.returncode == 2 and "is not a text file: give one utterance per line" in refused.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert "is empty: give one utterance per line" in segue_in_process("chat", "--script", empty, "--no-audio").stderr
    odd = tmp_path / "odd.txt"  # short, one stray control byte and a form feed: text, the lines as written
    odd.write_bytes(b"jazz\x01 please\x0c\r\nstop\r\n")
    said = segue_in_process("chat", "--script", odd, "--no-audio", "--no-log")
    assert said.returncode == 0 and said.stdout.count("you>") == 2 and "you> jazz please" in said.stdout, said.stderr
    assert "\x01" not in said.stdout  # no raw control byte on the terminal
    text = tmp_path / "utf16.txt"
    text.write_text("play some jazz\nstop\n", encoding="utf-16")
    read = segue_in_process("chat", "--script", text, "--no-audio", "--no-log")
    assert read.returncode == 0 and "you> play some jazz" in read.stdout and "stopping here" in read.stdout, read.stderr


def test_blank_lines_are_nothing_said(tmp_path):
    """Three blank lines before "jazz" were three turns: "Any idea what you'd like to hear?", "Which genre...?",
    then genres offered, before jazz was even said."""
    script = tmp_path / "blank.txt"
    script.write_text("\n\n   \njazz\n")
    result = segue_in_process("chat", "--script", script, "--registry", tmp_path / "none", "--scorer", "baseline",
                              "--log-dir", tmp_path / "chats", "--no-audio")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.startswith("segue>")]
    assert len(replies) == 2 and "Any idea" not in result.stdout and "genre" not in replies[1], result.stdout
    assert result.stdout.count("you>") == 1
    assert pq.read_table(tmp_path / "chats" / "part-00000.parquet").num_rows == 1  # one prompt, unanswered
    piped = segue_in_process("chat", "--registry", tmp_path / "none", "--scorer", "baseline", "--no-log", "--no-audio",
                             stdin="\n\njazz\n")
    assert piped.returncode == 0 and piped.stdout.count("segue>") == 2 and "Any idea" not in piped.stdout, piped.stdout
