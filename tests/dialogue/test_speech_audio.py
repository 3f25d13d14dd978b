"""Audio plumbing of the voice demo: WAV files, voice activity, espeak-ng, the speaker sink, no-device errors."""

import shutil
import wave

import numpy as np
import pytest

from dialogue.speech.audio import (
    Detector,
    Speaker,
    VoiceError,
    find_microphone,
    narrow_band_note,
    read_wav,
    resample,
    split_utterances,
    write_wav,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make test installs it as root)")


def tone(seconds, rate=16_000, freq=220.0, amp=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_wav_round_trip_and_formats(tmp_path):
    x = tone(0.5)
    write_wav(tmp_path / "a.wav", x, 16_000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16_000 and len(y) == len(x) and np.max(np.abs(y - x)) < 1e-3
    assert not list(tmp_path.glob(".*tmp"))  # written atomically, nothing left behind
    stereo = np.stack([x, -x], axis=1)  # a stereo file is mixed down to mono
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8_000)
        w.writeframes((stereo * 32767).astype("<i2").tobytes())
    y, rate = read_wav(tmp_path / "s.wav")
    assert rate == 8_000 and len(y) == len(x) and np.max(np.abs(y)) < 1e-3


def test_bad_wav_files_are_one_clear_error(tmp_path):
    with pytest.raises(VoiceError, match="--input-wav file not found: .*missing.wav"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(VoiceError, match=r"text\.wav is not a WAV file soundfile can read"):
        read_wav(tmp_path / "text.wav")
    with wave.open(str(tmp_path / "empty.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
    with pytest.raises(VoiceError, match=r"empty\.wav holds no samples"):
        read_wav(tmp_path / "empty.wav")


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
@pytest.mark.parametrize("extensible", [False, True])
def test_every_pcm_variant_is_read(tmp_path, subtype, extensible):
    """8/16/24/32-bit and float, with the plain or the extensible header (WAVEFORMATEXTENSIBLE, format 65534)."""
    import soundfile

    x = tone(0.25, rate=16_000, freq=440.0) * 0.5
    path = tmp_path / f"{subtype}.wav"
    fmt = "WAVEX" if extensible else "WAV"
    soundfile.write(str(path), x, 16_000, subtype=subtype, format=fmt)
    assert (path.read_bytes()[20:22] == b"\xfe\xff") == extensible  # the header's format tag: 65534 is extensible
    y, rate = read_wav(path)
    assert rate == 16_000 and len(y) == len(x) and y.dtype == np.float32
    assert np.max(np.abs(y - x)) < (1e-2 if subtype == "PCM_U8" else 1e-4)


def test_narrow_band_audio_is_said():
    assert narrow_band_note(16_000, "me.wav") is None and narrow_band_note(44_100, "me.wav") is None
    note = narrow_band_note(8_000, "me.wav")
    assert "me.wav is 8 kHz (narrow-band" in note and "16 kHz" in note


def test_resample_keeps_duration_and_pitch():
    x = tone(1.0, rate=22_050, freq=440.0)
    y = resample(x, 22_050, 16_000)
    assert len(y) == 16_000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16_000 / len(y) - 440.0) < 2.0


def test_voice_activity_cuts_utterances_in_noise():
    rate = 16_000
    rng = np.random.default_rng(0)
    silence = lambda s: np.zeros(int(s * rate), np.float32)  # noqa: E731
    x = np.concatenate([silence(0.6), tone(0.8), silence(0.8), tone(0.5, freq=330), silence(0.7),
                        tone(0.05), silence(0.6)])  # the 50 ms click is too short to be speech
    x = x + 0.003 * rng.standard_normal(len(x)).astype(np.float32)
    parts = split_utterances(x, rate)
    assert [round(len(p) / rate, 1) for p in parts] == [1.1, 0.8]  # each utterance with 0.15 s padding
    assert split_utterances(silence(2.0), rate) == []
    assert split_utterances(np.zeros(10, np.float32), rate) == []
    # a pause shorter than the hangover does not split an utterance
    x = np.concatenate([silence(0.5), tone(0.5), silence(0.3), tone(0.5), silence(0.8)])
    assert len(split_utterances(x, rate)) == 1


def test_detector_needs_enough_speech_and_hangover():
    det = Detector(hangover=0.1, min_speech=0.1)  # 5 frames each
    levels = [-80] * 3 + [-20] * 6 + [-80] * 10
    spans = [s for i, lv in enumerate(levels) if (s := det.step(i, lv, -80.0))]
    assert spans == [(3, 9)]
    det = Detector(hangover=0.1, min_speech=0.2)
    assert [s for i, lv in enumerate(levels) if (s := det.step(i, lv, -80.0))] == []
    det = Detector()
    for i in range(5):
        det.step(i, -10.0, -80.0)
    assert det.step(5, -10.0, -80.0) is None and det.flush(20) is None  # 6 frames < 0.2 s minimum
    assert Detector().step(0, -60.0, -120.0) is None  # below the -55 dBFS floor: never speech


@needs_espeak
def test_espeak_synthesis_and_bad_settings():
    from core.errors import ConfigError
    from dialogue.speech.tts import synthesize

    x, rate = synthesize("play some jazz", voice="en-us+f2", speed=150)
    assert rate == 22_050 and 0.8 < len(x) / rate < 3.0 and np.max(np.abs(x)) > 0.1
    faster, _ = synthesize("play some jazz", voice="en-us+f2", speed=300)
    assert len(faster) < 0.75 * len(x)
    with pytest.raises(VoiceError, match="espeak-ng failed for --voice 'xx-nope'"):
        synthesize("hello", voice="xx-nope")
    with pytest.raises(ConfigError, match="--voice must be an espeak-ng voice name"):
        synthesize("hello", voice="en; rm -rf /")
    with pytest.raises(ConfigError, match="--speed must be between 80 and 450"):
        synthesize("hello", speed=20)
    y, _ = synthesize("\x00\x1b[31m")  # control characters only: still one valid (silent-ish) clip
    assert len(y) > 0


def test_speaker_writes_everything_to_the_wav_without_a_device(tmp_path):
    notices = []
    speaker = Speaker(wav=tmp_path / "out" / "reply.wav", device=False, notice=notices.append)
    speaker.play(tone(1.0, rate=16_000), 16_000, gap=0.5)
    speaker.play(tone(0.5, rate=22_050), 22_050, gap=0.0)
    speaker.close()
    y, rate = read_wav(tmp_path / "out" / "reply.wav")
    assert rate == 22_050 and abs(len(y) / rate - 2.0) < 0.01 and notices == []


def test_no_devices_degrade_with_one_message(tmp_path):
    sd = pytest.importorskip("sounddevice", exc_type=(ImportError, OSError))
    try:
        has_input = sd.query_devices(kind="input")["max_input_channels"] > 0
    except Exception:
        has_input = False
    if has_input:
        pytest.skip("this machine has a microphone")
    with pytest.raises(VoiceError, match="--input-wav"):
        find_microphone()
    notices = []
    speaker = Speaker(wav=tmp_path / "r.wav", device=True, notice=notices.append)
    speaker.play(tone(0.2), 16_000)
    speaker.close()
    assert len(notices) == 1 and "no audio output device" in notices[0] and "r.wav" in notices[0]
    assert (tmp_path / "r.wav").is_file()


class FakeStream:
    """sounddevice.InputStream over a prepared signal; raises like PortAudio once ``fail_after`` blocks are read."""

    def __init__(self, signal, fail_after=None):
        self.signal, self.pos, self.fail_after, self.reads = signal, 0, fail_after, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, frames):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError("Error reading stream: device unavailable [PaErrorCode -9985]")
        block = self.signal[self.pos : self.pos + frames]
        self.pos += frames
        if len(block) < frames:
            block = np.concatenate([block, np.zeros(frames - len(block), np.float32)])
        return block.reshape(-1, 1), False


class FakeDevice:
    def __init__(self, signal, fail_after=None):
        self.stream = FakeStream(signal, fail_after)

    def InputStream(self, **kw):  # noqa: N802  (sounddevice's name)
        assert kw["samplerate"] == 16_000 and kw["channels"] == 1
        return self.stream


def test_microphone_cuts_utterances_from_a_live_stream():
    from dialogue.speech.audio import Microphone

    rng = np.random.default_rng(1)
    rate = 16_000
    quiet = lambda s: 0.002 * rng.standard_normal(int(s * rate)).astype(np.float32)  # noqa: E731
    signal = np.concatenate([quiet(1.0), tone(0.7) + quiet(0.7), quiet(1.0), tone(0.4) + quiet(0.4), quiet(1.0)])
    mic = Microphone(backend=FakeDevice(signal), timeout=1.5)
    got = list(mic.utterances())
    assert len(got) == 2  # then 1.5 s without speech ends listening
    assert 0.9 < len(got[0]) / rate < 1.6 and 0.6 < len(got[1]) / rate < 1.3


def test_a_microphone_that_vanishes_is_one_voice_error():
    from dialogue.speech.audio import Microphone

    mic = Microphone(backend=FakeDevice(np.zeros(16_000 * 5, np.float32), fail_after=10))
    with pytest.raises(VoiceError, match="the microphone stopped"):
        list(mic.utterances())


def test_push_to_talk_records_between_two_enters():
    import time

    from dialogue.speech.audio import Microphone

    mic = Microphone(backend=FakeDevice(tone(3.0)), push_to_talk=True)
    prompts = []

    def ask(text):
        prompts.append(text)
        if len(prompts) == 2:
            time.sleep(0.3)  # "talking" until the second Enter
        if len(prompts) == 3:
            raise EOFError
        return ""

    got = list(mic.utterances(ask=ask))
    assert len(got) == 1 and len(got[0]) > 0 and "Enter" in prompts[0]
