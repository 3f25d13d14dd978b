import numpy as np

from recommender.snippet import ENERGY_RMS, ENERGY_TEMPO_BPM, SAMPLE_RATE, render_snippet
from recommender.vocab import ENERGIES


def estimate_tempo(x: np.ndarray, sr: int = SAMPLE_RATE, win: int = 1024, hop: int = 128) -> float:
    """Tempo by autocorrelation of the onset envelope (an independent analysis of the samples)."""
    frames = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(frames)[:, None]
    envelope = np.sqrt((x[idx] ** 2).mean(axis=1))
    onset = np.maximum(np.diff(envelope), 0)
    onset -= onset.mean()
    ac = np.correlate(onset, onset, "full")[len(onset) - 1 :]
    dt = hop / sr
    lags = np.arange(int(60 / 170 / dt), int(60 / 55 / dt) + 1)
    values = ac[lags]
    peaks = [lag for i, lag in enumerate(lags[1:-1], 1)
             if values[i] >= values[i - 1] and values[i] >= values[i + 1] and values[i] >= 0.85 * values.max()]
    return 60.0 / (min(peaks) * dt)


def test_snippets_are_deterministic(catalog):
    a = render_snippet(catalog, 5)
    b = render_snippet(catalog, 5)
    assert a.dtype == np.float32 and a.shape == (4 * SAMPLE_RATE,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render_snippet(catalog, 6))
    assert np.abs(a).max() <= 1.0


def test_tempo_and_loudness_follow_energy(catalog):
    rng = np.random.default_rng(0)
    tempo, loudness = {}, {}
    for code, energy in enumerate(ENERGIES):
        rows = rng.choice(np.flatnonzero(catalog.energy == code), 12, replace=False)
        snippets = [render_snippet(catalog, int(r), seconds=3.0) for r in rows]
        tempo[energy] = [estimate_tempo(s) for s in snippets]
        loudness[energy] = [float(np.sqrt(np.mean(s**2))) for s in snippets]
        for bpm in tempo[energy]:
            assert abs(bpm / ENERGY_TEMPO_BPM[energy] - 1) < 0.08
        for rms in loudness[energy]:
            assert abs(rms / ENERGY_RMS[energy] - 1) < 0.15
    # any upbeat snippet is faster and louder than any laid-back one
    assert min(tempo["upbeat"]) > max(tempo["medium"]) > 0 and min(tempo["medium"]) > max(tempo["laid_back"])
    assert min(loudness["upbeat"]) > max(loudness["medium"]) and min(loudness["medium"]) > max(loudness["laid_back"])
