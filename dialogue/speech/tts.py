"""Speech out with espeak-ng (Debian package ``espeak-ng``): text -> samples, fully offline."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave

import numpy as np

from core.errors import ConfigError

from .audio import VoiceError

__all__ = ["synthesize", "check_voice"]


def check_voice(voice: str, speed: int) -> None:
    """Raise ``ConfigError`` naming the option for a ``--speed`` outside 80-450 words per minute or a ``--voice``
    that is not an espeak-ng voice name (before anything is spoken, and where nothing will be)."""
    if not 80 <= int(speed) <= 450:
        raise ConfigError(f"--speed must be between 80 and 450 words per minute, got {speed}")
    if not re.fullmatch(r"[A-Za-z0-9_+\-]{1,40}", voice):
        raise ConfigError(f"--voice must be an espeak-ng voice name such as en-us or en-us+f2, got {voice!r}")


def synthesize(text: str, *, voice: str = "en-us", speed: int = 160, pitch: int | None = None) -> tuple[np.ndarray, int]:
    """(float32 samples, rate) of ``text`` spoken by espeak-ng ``voice`` at ``speed`` words per minute."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceError("espeak-ng is not installed (Debian: apt-get install espeak-ng; `make test` installs it "
                         "when run as root)")
    check_voice(voice, speed)
    clean = re.sub(r"[\x00-\x1f\x7f]", " ", text)[:2000].strip() or "."
    args = [exe, "-v", voice, "-s", str(int(speed)), "--stdout"]
    if pitch is not None:
        args += ["-p", str(int(pitch))]
    try:
        proc = subprocess.run(args + ["--", clean], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise VoiceError("espeak-ng took over 60 s") from None
    if proc.returncode != 0 or len(proc.stdout) < 44:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise VoiceError(f"espeak-ng failed for --voice {voice!r}: {message[-1] if message else 'no audio'}")
    with wave.open(io.BytesIO(proc.stdout), "rb") as w:
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0, rate
