"""Short, deterministic audio snippets synthesized from a track's attributes.

The real catalog's audio lives on archive.org and is unreachable offline,
so "How about this?" plays a sketch of the track instead: energy sets the
tempo and the loudness (laid back ~70 BPM and quiet, upbeat ~135 BPM and
loud), mood sets the chord (major, minor, soft seventh, power chord) and
the coarse genre the timbre (harmonics, distortion). The same track always
renders the same samples (the random parts are seeded from its id).
"""

from __future__ import annotations

import zlib

import numpy as np

from .catalog import Catalog
from .vocab import ENERGIES

__all__ = ["render_snippet", "ENERGY_TEMPO_BPM", "ENERGY_RMS", "SAMPLE_RATE"]

SAMPLE_RATE = 22_050
#: Beats per minute and target RMS loudness for each energy level.
ENERGY_TEMPO_BPM = {"laid_back": 72.0, "medium": 100.0, "upbeat": 136.0}
ENERGY_RMS = {"laid_back": 0.06, "medium": 0.12, "upbeat": 0.22}
_CHORDS = {  # just-intonation frequency ratios: no slow beating between chord tones
    "happy": (1.0, 5 / 4, 3 / 2),
    "melancholic": (1.0, 6 / 5, 3 / 2),
    "calm": (1.0, 5 / 4, 3 / 2, 15 / 8),
    "intense": (1.0, 3 / 2, 2.0),
    None: (1.0, 5 / 4, 3 / 2, 5 / 3),
}
# (number of harmonics, harmonic roll-off exponent, drive) per coarse genre
_TIMBRE = {
    "electronic": (8, 1.0, 1.2), "rock": (6, 0.8, 3.0), "pop": (4, 1.5, 1.0),
    "hip hop": (3, 2.0, 1.5), "classical": (5, 2.0, 0.0), "jazz": (4, 1.8, 0.3),
    "world": (5, 1.4, 0.5), "funk / soul": (5, 1.3, 0.8), "stage & screen": (5, 1.8, 0.0),
}


def render_snippet(catalog: Catalog, index: int, *, seconds: float = 4.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render track ``index`` as mono float32 samples in [-1, 1], shape (seconds * sample_rate,)."""
    track = catalog.track(index)
    rng = np.random.default_rng(zlib.crc32(track.track_id.encode()))
    energy = track.energy if track.energy in ENERGIES else "medium"
    bpm = ENERGY_TEMPO_BPM[energy] * (1.0 + rng.uniform(-0.03, 0.03))
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    beat = 60.0 / bpm
    phase = (t % beat) / beat  # 0 at each beat

    root = 110.0 * 2 ** (rng.integers(0, 12) / 12.0)
    harmonics, rolloff, drive = _TIMBRE.get(track.genre, (4, 1.5, 0.5))
    pad = np.zeros(n)
    for ratio in _CHORDS.get(track.mood, _CHORDS[None]):
        freq = root * ratio
        for h in range(1, harmonics + 1):
            pad += np.sin(2 * np.pi * freq * h * t + rng.uniform(0, 2 * np.pi)) / h**rolloff
    pad /= np.max(np.abs(pad)) + 1e-9
    if drive > 0:
        pad = np.tanh(pad * (1 + drive)) / np.tanh(1 + drive)
    # the pad pulses on every beat, so tempo shows in the envelope
    pulse = 0.35 + 0.65 * np.exp(-phase * (3.0 if energy == "laid_back" else 6.0))
    kick = np.sin(2 * np.pi * 55.0 * t * (1 + 2 * np.exp(-phase * 30))) * np.exp(-phase * beat * 25)
    signal = 0.6 * pad * pulse + 0.5 * kick
    if energy != "laid_back":
        off = ((t + beat / 2) % beat) / beat
        hat = rng.standard_normal(n) * np.exp(-off * beat * 120)
        signal += 0.15 * hat
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)
    signal *= fade
    target = ENERGY_RMS[energy] * (1.0 + rng.uniform(-0.08, 0.08))
    signal *= target / (np.sqrt(np.mean(signal**2)) + 1e-12)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)
