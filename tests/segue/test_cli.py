import json
import subprocess
import sys
import wave

import pytest

from tests.segue.in_process import segue_in_process

SEGUE = [sys.executable, "-m", "segue.cli"]


def run(*args, timeout=300):
    """A real ``segue`` process: the installed entry point and its worker processes, once per work command here; the
    other tests run the CLI in-process (``tests/segue/in_process.py``)."""
    return subprocess.run([*SEGUE, *args], capture_output=True, text=True, timeout=timeout)


def test_simulate_json_contract(tmp_path):
    result = run("simulate", "--conversations", "150", "--seed", "2", "--out", str(tmp_path / "logs"), "--part-size", "50", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["conversations"] == 150 and isinstance(data["turns"], int) and data["turns"] >= 150
    for key in ("success_rate", "mean_prompts", "usefulness_rate", "abandon_rate"):
        assert isinstance(data[key], float)
    assert set(data["prompt_share"]) >= {"open", "ask_energy", "suggest_genres", "play_sample", "offer_station"}
    summary = segue_in_process("logs", "summary", str(tmp_path / "logs"), "--json")
    assert summary.returncode == 0
    again = json.loads(summary.stdout)
    assert {k: again[k] for k in ("conversations", "turns", "success_rate", "prompt_share")} == {
        k: data[k] for k in ("conversations", "turns", "success_rate", "prompt_share")}
    rerun = segue_in_process("simulate", "--conversations", "150", "--seed", "2", "--out", str(tmp_path / "logs"), "--part-size", "50", "--json")
    assert json.loads(rerun.stdout)["parts_reused"] == 3
    validate = segue_in_process("logs", "validate", str(tmp_path / "logs"))
    assert validate.returncode == 0 and "all valid" in validate.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("simulate", "--conversations", "0", "--out", "{tmp}/x"), "--conversations must be between 1"),
        (("simulate", "--conversations", "10", "--exploration", "2", "--out", "{tmp}/x"), "--exploration must be within [0, 1], got 2.0"),
        (("simulate", "--conversations", "10", "--workers", "0", "--out", "{tmp}/x"), "--workers must be >= 1, got 0"),
        (("simulate", "--conversations", "10", "--envs", "0", "--out", "{tmp}/x"), "--envs must be between 1 and 65,536, got 0"),
        (("ab", "--policy", "rule", "--address", "127.0.0.1:1"), "--address 127.0.0.1:1 needs --engine ray"),
        (("evaluate", "--logs", "{tmp}/x", "--policy", "rule", "--engine", "dask"), "--engine must be one of local, ray, got 'dask'"),
        (("simulate", "--conversations", "10", "--catalog", "{tmp}/none.parquet", "--out", "{tmp}/x"), "--catalog file not found"),
        (("logs", "summary", "{tmp}/nothing"), "log folder not found"),
        (("catalog", "snippet", "no-such-track", "--out", "{tmp}/s.wav"), "no track with id 'no-such-track'"),
        (("catalog", "snippet", "fmc-00005", "--out", "{tmp}/s.mp3"), "--out must be a .wav file (the snippet is written as "
                                                                       "16-bit WAV), got '"),  # WAV bytes went into s.mp3
        (("catalog", "info", "--catalog", "{tmp}/none.csv"), "catalog file not found"),
        # click's own usage errors too: one line, the value given, where the help is
        (("simulate", "--conversations", "ten", "--out", "{tmp}/x"),
         "'--conversations' / '-n': Input should be a valid integer, unable to parse string as an integer, got 'ten' (see '"),
        (("simulate", "--seed=1.5", "--out", "{tmp}/x"),
         "'--seed': Input should be a valid integer, unable to parse string as an integer, got '1.5'"),
        (("simulate", "--bogus"), "No such option: --bogus (see '"),  # nothing close: click had offered --out
        (("simulate", "--conversation", "5"), "No such option: --conversation (did you mean --conversations?)"),
        (("evaluate", "--polcy", "rule"), "No such option: --polcy (did you mean --policy?)"),
        (("voice", "--input-wave", "x.wav"), "No such option: --input-wave (did you mean --input-wav?)"),  # not --output-wav
        (("simulate", "--out"), "Option '--out' requires an argument. (see 'segue simulate --help')"),  # said 'segue --help'
        (("nlu", "parse", "  "), "nlu parse needs an utterance to understand, got '  '"),  # answered with nothing, rc 0
        (("bogus",), "No such command 'bogus'"),
        (("simulate", "-n", "10", "--nlu-error-rate", "-0.1", "--out", "{tmp}/x"), "--nlu-error-rate must be within [0, 1], got -0.1"),
        (("catalog", "synthetic", "--tracks", "0", "--out", "{tmp}/s.parquet"), "--tracks (the synthetic catalog's size) must be"),
        (("bench", "scorer", "--tracks", "0"), "--tracks must be between 1,000 and 50,000,000, got 0"),
        (("chat", "--script", "{tmp}", "--no-audio"), "is a folder, not a file"),
        (("ab", "--policy", "rule@nosuch", "--conversations", "10"),
         "if 'nosuch' was meant as the scorer of 'rule': a scorer after @ is baseline, popularity or a folder holding"),
        (("evaluate", "--logs", "{tmp}/x", "--policy", "rule", "--truth", "--truth-conversations", "0"),
         "--truth-conversations must be >= 1 with --truth, got 0"),
    ],
)
def test_user_mistakes_are_one_clear_line(tmp_path, args, message):
    result = segue_in_process(*(a.format(tmp=tmp_path) for a in args))  # the entry point, without a process start
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert message in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_flags_show_no_value_in_the_help():
    """typer's rich help printed ``--json <bool>`` as if a flag took a value; options that take one keep their type."""
    text = segue_in_process("simulate", "--help").stdout
    assert "<bool>" not in text
    assert any("--json" in line for line in text.splitlines())
    assert any("--conversations" in line and "<int>" in line for line in text.splitlines())


def test_a_group_alone_shows_its_help():
    result = segue_in_process("logs")
    assert result.returncode == 0 and "logs [OPTIONS] COMMAND" in result.stdout  # help, as asked: not a mistake and "Traceback" not in result.stderr + result.stdout
    assert "summary" in result.stdout


def test_catalog_info_and_snippet(tmp_path):
    info = json.loads(segue_in_process("catalog", "info", "--json").stdout)
    assert info["tracks"] == 21_502 and info["genres"]["electronic"] > 10_000
    assert sum(info["energy"].values()) == 21_502
    table = segue_in_process("catalog", "info").stdout  # without --json: a table, not the JSON again
    assert not table.lstrip().startswith("{") and "21,502" in table
    assert f"electronic {info['genres']['electronic']:,}" in table and info["fingerprint"] in table
    result = segue_in_process("catalog", "snippet", "fmc-00005", "--out", str(tmp_path / "s.wav"), "--seconds", "2")
    assert result.returncode == 0, result.stderr
    with wave.open(str(tmp_path / "s.wav")) as handle:
        assert handle.getnchannels() == 1 and handle.getnframes() == 2 * handle.getframerate()


def test_bench_scorer_json_contract():
    result = segue_in_process("bench", "scorer", "--tracks", "5000", "--dim", "16", "--batch", "64", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for engine in ("cpu", "faiss_cpu"):
        assert set(data[engine]) >= {"single_ms", "batch_qps"}
        assert data[engine]["single_ms"] > 0 and data[engine]["batch_qps"] > 0
    assert data["gpu"] is None or set(data["gpu"]) >= {"single_ms", "batch_qps"}
    assert data["agreement_with_faiss"] == 1.0
    assert data["cpu"]["recall"] == 1.0 and data["cpu"]["precision"] in ("fp32", "bf16") and data["cpu"]["single_p99_ms"] > 0
    roof = data["cpu_roofline"]
    assert roof["batch_roofline_qps"]["fp32"] > 0 and 0 < roof["fraction_of_fp32_roofline"]
    bad = segue_in_process("bench", "scorer", "--tracks", "10", "--json")
    assert bad.returncode == 2 and "--tracks must be between 1,000 and 50,000,000, got 10" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_embeddings_show_and_errors(small_embeddings, tmp_path):
    emb, folder, _ = small_embeddings
    shown = segue_in_process("embeddings", "show", str(folder), "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["version"] == emb.version and data["evaluation"]["heldout"]["model"]["recall@10"] > 0
    missing = segue_in_process("embeddings", "show", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no embeddings in" in missing.stderr and "Traceback" not in missing.stderr
    bad = segue_in_process("embeddings", "train", "--dim", "0", "--out", str(tmp_path / "e"))
    assert bad.returncode == 2 and "dim must be between 1 and 1024, got 0" in bad.stderr
    assert not (tmp_path / "e").exists()


def test_the_command_list_does_not_break_a_sentence():
    """typer's rich command list kept docstring line breaks ('roll out or' / 'back' in `segue --help`): every
    command's summary is one paragraph on one line, and the list shows the loop's sentence whole."""
    from segue.cli import app

    def commands(typer_app):
        yield from typer_app.registered_commands
        for group in typer_app.registered_groups:
            yield from commands(group.typer_instance)

    summaries = [info.help.split("\n\n")[0] for info in commands(app)]
    assert len(summaries) > 20 and all(s and "\n" not in s for s in summaries)
    lines = [line.strip("│ ") for line in segue_in_process("--help").stdout.splitlines()]
    lone = [line for line in lines if len(line.split()) == 1 and not line.endswith((".", ":")) and len(line) < 12]
    assert not lone  # was: a lone "or" between "roll out" and "back"; a wrapped sentence's last word is fine
