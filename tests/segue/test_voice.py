"""`segue voice` end to end without a sound card: espeak-ng speech in WAV files, replies to a WAV file."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from dialogue.speech.audio import read_wav, write_wav
from tests.segue.in_process import segue_in_process

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng not installed (make test installs it as root)")


def run(*args):
    return segue_in_process(*args)


def spoken(path, *texts, voice="en-us+f2", speed=150, gap=0.8):
    """One WAV file holding each text spoken by espeak-ng, with pauses between (and a little room noise)."""
    from dialogue.speech.tts import synthesize

    rng = np.random.default_rng(0)
    parts = []
    for text in texts:
        x, rate = synthesize(text, voice=voice, speed=speed)
        parts += [np.zeros(int(gap * rate), np.float32), x]
    x = np.concatenate(parts + [np.zeros(int(gap * rate), np.float32)])
    write_wav(path, x + 0.002 * rng.standard_normal(len(x)).astype(np.float32), rate)
    return path


def test_recognition_only_json_contract(tmp_path):
    a = spoken(tmp_path / "a.wav", "play some jazz", "yes please")
    b = spoken(tmp_path / "b.wav", "something upbeat", voice="en-us+klatt4", speed=170)
    result = run("voice", "--input-wav", str(a), "--input-wav", str(b), "--no-dialogue", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["utterances"] and len(data["utterances"]) == 3
    for u in data["utterances"]:
        assert set(u) == {"text", "confidence", "nlu"} and isinstance(u["text"], str)
        assert 0.0 <= u["confidence"] <= 1.0
        assert set(u["nlu"]) == {"acts", "sentiment", "confidence", "intent", "entities", "text"}  # = nlu parse --json
        assert u["nlu"]["text"] == u["text"] and u["nlu"]["confidence"] <= u["confidence"] + 1e-9
    first, second, third = data["utterances"]
    assert {"act": "inform", "slot": "genre", "value": "jazz"} in first["nlu"]["acts"]
    assert second["nlu"]["intent"] == "affirm"
    assert {"act": "inform", "slot": "energy", "value": "upbeat"} in third["nlu"]["acts"]
    # the same audio through `segue nlu parse` on the recognized text gives the same acts
    parsed = json.loads(run("nlu", "parse", first["text"], "--json").stdout)
    assert parsed["acts"] == first["nlu"]["acts"]


def test_spoken_conversation_writes_the_reply_audio_and_the_log(tmp_path):
    # the default recognizer (pocketsphinx and Whisper, chosen per utterance) hears the request, two answers and
    # the acceptance (how often such turns are heard right is measured in benchmarks/voice.py, not here)
    wav = spoken(tmp_path / "me.wav", "I want jazz", "something lively", "a happy mood", "I love it")
    out, logs = tmp_path / "segue.wav", tmp_path / "chats"
    result = run("voice", "--input-wav", str(wav), "--output-wav", str(out), "--registry", str(tmp_path / "none"),
                 "--scorer", "baseline", "--log-dir", str(logs), "--no-audio")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "recognizer pocketsphinx + Whisper tiny.en, chosen per utterance" in result.stderr
    assert "you> i want jazz" in result.stdout and "you> a happy mood" in result.stdout
    assert "Enjoy! Playing" in result.stdout
    x, rate = read_wav(out)  # greeting + sample prompt + 4 s snippet + goodbye, all spoken/played into the file
    assert rate == 22_050 and len(x) / rate > 8.0 and np.abs(x).max() > 0.1
    table = pq.read_table(logs / "part-00000.parquet")
    assert table.num_rows >= 1 and "play_sample" in table.column("prompt").to_pylist()
    conf = table.column("nlu_confidence").to_pylist()
    assert all(0.0 <= c <= 1.0 for c in conf)


def test_mistakes_are_one_clear_message(tmp_path):
    """Refused before any model loads, and a file with no speech loads none: run in the test process (the
    spoken tests above and below go through a real process)."""
    missing = segue_in_process("voice", "--input-wav", str(tmp_path / "nope.wav"), "--no-dialogue")
    assert missing.returncode == 2 and "--input-wav file not found" in missing.stderr
    (tmp_path / "bad.wav").write_text("hello")
    bad = segue_in_process("voice", "--input-wav", str(tmp_path / "bad.wav"), "--no-dialogue")
    assert bad.returncode == 2 and "is not a WAV file soundfile can read" in bad.stderr
    flag = segue_in_process("voice", "--input-wav", str(tmp_path / "bad.wav"), "--json")
    assert flag.returncode == 2 and "--json needs --no-dialogue" in flag.stderr
    kind = segue_in_process("voice", "--input-wav", str(tmp_path / "bad.wav"), "--recognizer", "kaldi")
    assert kind.returncode == 2 and "--recognizer must be one of auto, combined, whisper, pocketsphinx, got 'kaldi'" in kind.stderr
    mixed = segue_in_process("voice", "--input-wav", str(tmp_path / "bad.wav"), "--recognizer", "whisper", "--no-bias")
    assert mixed.returncode == 2 and "--no-bias" in mixed.stderr
    folder = segue_in_process("voice", "--input-wav", str(tmp_path), "--no-dialogue")
    assert folder.returncode == 2 and f"--input-wav must be a WAV file, got the folder {tmp_path}" in folder.stderr
    slow = segue_in_process("voice", "--input-wav", str(tmp_path / "bad.wav"), "--no-dialogue", "--speed", "10")
    assert slow.returncode == 2 and "--speed must be between 80 and 450 words per minute, got 10" in slow.stderr  # unused there, still said
    for result in (missing, bad, flag, kind, mixed, folder, slow):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(16_000, np.float32), 16_000)
    quiet = segue_in_process("voice", "--input-wav", str(silent), "--no-dialogue", "--json")
    assert quiet.returncode == 0 and json.loads(quiet.stdout) == {"utterances": []}
    assert "no speech found" in quiet.stderr


def test_without_a_microphone_one_message_says_what_to_do():
    try:
        import sounddevice as sd

        if sd.query_devices(kind="input")["max_input_channels"] > 0:
            pytest.skip("this machine has a microphone")
    except Exception:
        pass
    result = segue_in_process("voice", "--no-log")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--input-wav" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_extensible_header_is_read_and_narrow_band_audio_is_said(tmp_path):
    """voice_extensible_16bit_play_some_rock.wav was refused (format 65534); voice_8k_upbeat.wav was heard as
    nonsense without a word. Both rebuilt here with espeak-ng and soundfile."""
    import soundfile

    from dialogue.speech.audio import resample

    x, rate = read_wav(spoken(tmp_path / "plain.wav", "play some rock"))
    soundfile.write(str(tmp_path / "ext.wav"), x, rate, subtype="PCM_16", format="WAVEX")
    # pocketsphinx alone (--recognizer): the header is read whichever recognizer listens
    result = run("voice", "--input-wav", str(tmp_path / "ext.wav"), "--no-dialogue", "--json", "--recognizer", "pocketsphinx")
    assert result.returncode == 0, result.stderr
    acts = [a for u in json.loads(result.stdout)["utterances"] for a in u["nlu"]["acts"]]
    assert {"act": "inform", "slot": "genre", "value": "rock"} in acts
    narrow = resample(read_wav(spoken(tmp_path / "u.wav", "something upbeat please"))[0], rate, 8_000)
    soundfile.write(str(tmp_path / "8k.wav"), narrow, 8_000, subtype="PCM_16")
    result = run("voice", "--input-wav", str(tmp_path / "8k.wav"), "--no-dialogue", "--json", "--recognizer", "pocketsphinx")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "8k.wav is 8 kHz (narrow-band" in " ".join(result.stderr.split())
    for u in json.loads(result.stdout)["utterances"]:  # whatever was heard, a doubtful hearing ends nothing
        ends = {a["act"] for a in u["nlu"]["acts"]} & {"stop", "restart", "accept"}
        assert not ends or u["nlu"]["confidence"] < 0.5
