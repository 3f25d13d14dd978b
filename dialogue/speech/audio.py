"""Audio plumbing for the voice demo: WAV files, resampling, voice activity, microphone and speaker.

*Voice activity* is a documented energy detector, the same for files and the
microphone: 20 ms frames; a frame is speech when its level is ``gap_db``
(12 dB) above the noise floor and above -55 dBFS; an utterance starts at the
first speech frame, ends after ``hangover`` (0.5 s) without speech, keeps
``pad`` (0.15 s) of audio either side and must hold at least ``min_speech``
(0.2 s) of speech. The noise floor of a file is its 10th-percentile frame
level; the microphone's follows the quietest recent frames (a slow-rising
minimum, so speech does not drag it up).

Devices go through sounddevice (PortAudio; Debian's libportaudio2). Nothing
here raises a bare PortAudio error: a missing library, no device or a device
that vanishes mid-run becomes one ``VoiceError`` that says what to do.
"""

from __future__ import annotations

import itertools
import os
import wave
from math import gcd
from pathlib import Path

import numpy as np

from core.errors import SegueError

__all__ = ["VoiceError", "ASR_RATE", "read_wav", "write_wav", "resample", "to_pcm16", "split_utterances", "Detector",
           "Microphone", "Speaker", "find_microphone"]

ASR_RATE = 16_000
FRAME = 0.02


class VoiceError(SegueError):
    """Audio files, devices or speech engines are missing or unusable."""


#: Below this sample rate the audio is narrow-band (a phone or Bluetooth headset: nothing above 4 kHz), and the
#: recognizer's 16 kHz acoustic model hears it poorly; the user is told (``narrow_band_note``).
WIDE_BAND_RATE = 16_000


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate of a WAV file: any PCM variant (8/16/24/32-bit,
    the extensible header, float), read with soundfile (libsndfile). Stereo is averaged to mono.

    Raises ``VoiceError`` naming the file when it is missing, not audio, or empty.
    """
    import soundfile

    path = Path(path)
    if path.is_dir():
        raise VoiceError(f"--input-wav must be a WAV file, got the folder {path}")
    if not path.is_file():
        raise VoiceError(f"--input-wav file not found: {path}")
    try:
        x, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise VoiceError(f"--input-wav {path} is not a WAV file soundfile can read ({exc})") from None
    if x.shape[0] == 0:
        raise VoiceError(f"--input-wav {path} holds no samples")
    return (x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]).astype(np.float32), int(rate)


def narrow_band_note(rate: int, what: str) -> str | None:
    """A warning for audio sampled below ``WIDE_BAND_RATE`` (None otherwise); ``what`` names the source."""
    if rate >= WIDE_BAND_RATE:
        return None
    return (f"{what} is {rate / 1000:g} kHz (narrow-band, as from a phone or Bluetooth microphone): recognition is "
            f"much less reliable than at 16 kHz; doubtful answers will be confirmed. Record at 16 kHz or more if you can.")


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """16-bit mono WAV, written atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_pcm16(samples))
    os.replace(tmp, path)


def to_pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if rate == target:
        return x
    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def _levels(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    frames = np.asarray(x[: n * frame], dtype=np.float64).reshape(n, frame)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


class Detector:
    """Frame-by-frame utterance cutting (see the module docstring); feed levels, get (start, stop) frame spans."""

    def __init__(self, *, gap_db: float = 12.0, floor_dbfs: float = -55.0, hangover: float = 0.5,
                 min_speech: float = 0.2) -> None:
        self.gap_db, self.floor_dbfs = gap_db, floor_dbfs
        self.hang = max(1, int(round(hangover / FRAME)))
        self.min_frames = max(1, int(round(min_speech / FRAME)))
        self.start: int | None = None
        self.speech = 0
        self.silent = 0

    def step(self, i: int, level: float, noise: float) -> tuple[int, int] | None:
        """Frame ``i`` has ``level`` dBFS over a noise floor of ``noise``; returns a finished span or None."""
        is_speech = level > max(noise + self.gap_db, self.floor_dbfs)
        if is_speech:
            if self.start is None:
                self.start, self.speech = i, 0
            self.speech += 1
            self.silent = 0
            return None
        if self.start is None:
            return None
        self.silent += 1
        if self.silent <= self.hang:
            return None
        span = (self.start, i - self.silent + 1)
        enough = self.speech >= self.min_frames
        self.start, self.speech, self.silent = None, 0, 0
        return span if enough else None

    def flush(self, n: int) -> tuple[int, int] | None:
        if self.start is None or self.speech < self.min_frames:
            return None
        span = (self.start, n - self.silent)
        self.start = None
        return span


def split_utterances(x: np.ndarray, rate: int, *, pad: float = 0.15, **detector) -> list[np.ndarray]:
    """The utterances in a recording, cut by the energy detector (empty list: no speech)."""
    frame = max(1, int(FRAME * rate))
    levels = _levels(np.asarray(x), frame)
    if len(levels) == 0:
        return []
    noise = float(np.percentile(levels, 10))
    det = Detector(**detector)
    spans = [s for i, level in enumerate(levels) if (s := det.step(i, float(level), noise))]
    last = det.flush(len(levels))
    if last:
        spans.append(last)
    p = int(pad * rate)
    return [x[max(0, a * frame - p) : min(len(x), b * frame + p)] for a, b in spans]


# ------------------------------------------------------------------ devices
def _sounddevice():
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: PortAudio library not found
        raise VoiceError(f"sound devices unavailable ({str(exc).splitlines()[0]}); install Debian's libportaudio2, "
                         "or use --input-wav FILE / --output-wav FILE") from None
    return sd


def find_microphone() -> tuple[object, str]:
    """(sounddevice module, input device name), or one clear VoiceError saying what to do instead."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(kind="input")
    except Exception as exc:
        raise VoiceError(f"no microphone found ({type(exc).__name__}). Plug one in (check `arecord -l` or "
                         "`python -m sounddevice`), or run without one: segue voice --input-wav FILE.wav "
                         "[--output-wav reply.wav]") from None
    if not info or int(info.get("max_input_channels", 0)) < 1:
        raise VoiceError("the default audio device has no input channels; choose a microphone as the default "
                         "input, or run with --input-wav FILE.wav")
    return sd, str(info.get("name", "default"))


class Microphone:
    """Utterances from the default input device: voice activity cuts them, or push-to-talk (Enter ... Enter)."""

    RATE = ASR_RATE

    def __init__(self, *, push_to_talk: bool = False, max_seconds: float = 15.0, timeout: float = 60.0,
                 pad: float = 0.15, backend=None) -> None:
        # backend: a module with sounddevice's InputStream (tests pass a fake one); default: the real default input
        self.sd, self.name = (backend, "test input") if backend is not None else find_microphone()
        self.push_to_talk, self.max_seconds, self.timeout, self.pad = push_to_talk, max_seconds, timeout, pad

    def utterances(self, ask=input):
        """Yield utterances until EOF on stdin (push-to-talk), a timeout without speech, or Ctrl-C."""
        while True:
            if self.push_to_talk:
                try:
                    ask("[Enter] to talk, [Enter] again to stop: ")
                except EOFError:
                    return
                x = self._record_until_enter(ask)
            else:
                x = self._listen()
            if x is None:
                return
            if len(x):
                yield x

    def _stream(self):
        try:
            return self.sd.InputStream(samplerate=self.RATE, channels=1, dtype="float32",
                                       blocksize=int(FRAME * self.RATE))
        except Exception as exc:
            raise VoiceError(f"could not open the microphone {self.name!r} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}); use --input-wav FILE") from None

    def _read(self, stream, frames: int) -> np.ndarray:
        try:
            block, _overflow = stream.read(frames)
        except Exception as exc:  # the device vanished mid-run
            raise VoiceError(f"the microphone stopped ({type(exc).__name__}); the conversation so far is kept") from None
        return np.asarray(block, dtype=np.float32).reshape(-1)

    def _listen(self) -> np.ndarray | None:
        """One utterance; None after ``timeout`` seconds without speech."""
        frame = int(FRAME * self.RATE)
        det = Detector()
        history: list[np.ndarray] = []
        noise = None
        keep = int(self.pad / FRAME) + 1
        waited = 0
        with self._stream() as stream:
            for i in itertools.count():
                block = self._read(stream, frame)
                history.append(block)
                level = float(_levels(block, len(block))[0]) if len(block) else -120.0
                # the floor: follows quiet frames at once, rises slowly (0.05 dB a frame) through speech
                noise = level if noise is None else min(level, noise + 0.05)
                span = det.step(i, level, noise)
                if det.start is None and span is None:
                    history = history[-keep:]
                    waited += 1
                    if waited * FRAME > self.timeout:
                        return None
                    continue
                waited = 0
                if span is not None or len(history) * FRAME > self.max_seconds:
                    return np.concatenate(history)
        return None

    def _record_until_enter(self, ask) -> np.ndarray:
        import threading

        blocks: list[np.ndarray] = []
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._stream() as stream:
                    while not done.is_set() and len(blocks) * FRAME < self.max_seconds:
                        blocks.append(self._read(stream, int(FRAME * self.RATE)))
            except BaseException as exc:  # surfaced in the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            ask("(recording... [Enter] to stop) ")
        except EOFError:
            pass
        done.set()
        thread.join()
        if failure:
            raise failure[0]
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


class Speaker:
    """Where Segue's voice and snippets go: a WAV file, the default output device, both, or nowhere.

    A device that is missing or fails mid-run is dropped with one notice (``notice``); the WAV file (written
    when ``close`` is called, atomically) still gets everything.
    """

    RATE = 22_050

    def __init__(self, *, wav: str | Path | None = None, device: bool = True, notice=print) -> None:
        self.wav = Path(wav) if wav is not None else None
        self.chunks: list[np.ndarray] = []
        self.notice = notice
        self.sd = None
        self.reason = ""
        if device:
            try:
                sd = _sounddevice()
                sd.query_devices(kind="output")
                self.sd = sd
            except Exception as exc:  # no PortAudio, no device: never fatal
                line = str(exc).splitlines()[0] if str(exc) else "none"
                self.reason = f"no audio output device ({type(exc).__name__}: {line})"
                self.notice(f"{self.reason}: replies are printed"
                            + (f" and written to {self.wav}" if self.wav else "; add --output-wav FILE to keep them"))

    def play(self, samples: np.ndarray, rate: int, *, gap: float = 0.3, blocking: bool = True) -> None:
        """Play (``blocking``: until done) and/or keep for the WAV file, followed by ``gap`` seconds of silence there."""
        x = resample(samples, rate, self.RATE)
        if self.wav is not None:
            self.chunks += [x, np.zeros(int(gap * self.RATE), np.float32)]
        if self.sd is not None:
            try:
                self.sd.play(x, self.RATE, blocking=blocking)
            except Exception as exc:  # the device vanished mid-run
                self.sd = None
                self.reason = f"audio output failed ({type(exc).__name__})"
                self.notice(f"{self.reason}; replies are printed from now on")

    @property
    def seconds(self) -> float:
        return sum(len(c) for c in self.chunks) / self.RATE

    def close(self) -> None:
        if self.wav is not None:
            write_wav(self.wav, np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32), self.RATE)
