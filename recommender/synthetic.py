"""Seeded synthetic catalogs with the real catalog's schema, for scale.

The marginals (genres, styles per genre, energy per genre, moods from
styles, ratings) are read from the vendored freemusi.cc catalog so that a
synthetic catalog speaks the same vocabulary; tracks come in releases that
share artist, genre, styles and year, as real ones do. Generation is
vectorized: a million tracks take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import ConfigError

from .catalog import Catalog
from .schema import CATALOG_SCHEMA
from .vocab import ENERGIES, MOOD_PRIORITY, STYLE_MOOD

__all__ = ["synthetic_catalog", "synthetic_table"]

MAX_TRACKS = 20_000_000


def _distributions(reference: Catalog) -> dict[str, np.ndarray]:
    n_genres, n_styles = len(reference.genre_names), len(reference.style_names)
    primary = reference.genre_matrix.argmax(axis=1)
    genre_p = np.bincount(primary, minlength=n_genres).astype(float)
    style_given_genre = np.ones((n_genres, n_styles)) * 1e-3
    rows = np.repeat(np.arange(reference.n), np.diff(reference.style_indptr))
    np.add.at(style_given_genre, (primary[rows], reference.style_indices), 1.0)
    energy_given_genre = np.ones((n_genres, len(ENERGIES)))
    np.add.at(energy_given_genre, (primary, reference.energy), 1.0)
    styles_per_release = np.bincount(np.minimum(np.diff(reference.style_indptr), 3), minlength=4).astype(float)
    rated = reference.rating[~np.isnan(reference.rating)].astype(int)
    rating_p = np.bincount(rated, minlength=6)[1:].astype(float)
    return {
        "genre": genre_p / genre_p.sum(),
        "style": style_given_genre / style_given_genre.sum(axis=1, keepdims=True),
        "energy": energy_given_genre / energy_given_genre.sum(axis=1, keepdims=True),
        "n_styles": styles_per_release / styles_per_release.sum(),
        "rating": rating_p / rating_p.sum(),
        "unrated": np.array([np.isnan(reference.rating).mean()]),
    }


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (shape (m, k)) -> int array (m,)."""
    cumulative = probs.cumsum(axis=1)
    u = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def synthetic_table(n_tracks: int, *, seed: int = 0, reference: Catalog | None = None) -> pa.Table:
    """A catalog table of ``n_tracks`` synthetic tracks (schema ``CATALOG_SCHEMA``)."""
    if not 1 <= n_tracks <= MAX_TRACKS:
        raise ConfigError(f"--tracks (the synthetic catalog's size) must be between 1 and {MAX_TRACKS:,}, got {n_tracks}")
    reference = reference or Catalog.load()
    dist = _distributions(reference)
    rng = np.random.default_rng(seed)
    n_releases = max(1, n_tracks // 9)
    release_of = np.sort(rng.integers(0, n_releases, size=n_tracks))

    genre = rng.choice(len(dist["genre"]), size=n_releases, p=dist["genre"])
    n_styles = rng.choice(4, size=n_releases, p=dist["n_styles"])
    style_slots = np.stack([_categorical(rng, dist["style"][genre]) for _ in range(3)], axis=1)
    keep = np.arange(3)[None, :] < n_styles[:, None]
    # distinct styles per release: drop repeats of an earlier slot
    for j in (1, 2):
        for i in range(j):
            keep[:, j] &= style_slots[:, j] != style_slots[:, i]
    style_offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    style_values = np.array(reference.style_names, dtype=object)[style_slots[keep]]
    release_styles = pa.ListArray.from_arrays(pa.array(style_offsets), pa.array(style_values, pa.string()))
    n_artists = max(1, n_releases // 2)
    release_artist = rng.integers(0, n_artists, size=n_releases)
    release_year = np.where(rng.random(n_releases) < 0.98, rng.integers(2000, 2020, n_releases), rng.integers(1920, 2000, n_releases))

    track_genre = genre[release_of]
    # tracks of a release share its energy more often than not
    release_energy = _categorical(rng, dist["energy"][genre])
    own_energy = _categorical(rng, dist["energy"][track_genre])
    energy = np.where(rng.random(n_tracks) < 0.6, release_energy[release_of], own_energy)
    rating = (rng.choice(5, size=n_tracks, p=dist["rating"]) + 1).astype(np.float32)
    rating[rng.random(n_tracks) < dist["unrated"][0]] = np.nan
    duration = np.clip(rng.lognormal(np.log(280), 0.45, n_tracks), 30, 3600).astype(np.int32)

    styles = pc.take(release_styles, pa.array(release_of))
    mood_per_style = {s: STYLE_MOOD.get(s) for s in reference.style_names}
    release_mood = []
    for row in release_styles.to_pylist():
        moods = {mood_per_style[s] for s in row if mood_per_style[s]}
        release_mood.append(next((m for m in MOOD_PRIORITY if m in moods), None))
    mood = pc.take(pa.array(release_mood, pa.string()), pa.array(release_of))
    genre_names = np.array(reference.genre_names, dtype=object)
    year = release_year[release_of].astype(np.int16)
    decade = np.char.add(((year // 10) * 10).astype(str), "s")
    index = np.arange(n_tracks)
    columns = {
        "track_id": pa.array(np.char.add("syn-", np.char.zfill(index.astype(str), 8)), pa.string()),
        "title": pa.array(np.char.add("Synthetic track ", index.astype(str)), pa.string()),
        "artist": pa.array(np.char.add("Artist ", release_artist[release_of].astype(str)), pa.string()),
        "release": pa.array(np.char.add("Release ", release_of.astype(str)), pa.string()),
        "release_id": pa.array(np.char.add("syn-release-", release_of.astype(str)), pa.string()),
        "genre": pa.array(genre_names[track_genre], pa.string()),
        "genres": pa.ListArray.from_arrays(pa.array(np.arange(n_tracks + 1, dtype=np.int32)), pa.array(genre_names[track_genre], pa.string())),
        "styles": styles,
        "energy": pa.array(np.array(ENERGIES, dtype=object)[energy], pa.string()),
        "energy_source": pa.array(np.full(n_tracks, "synthetic", dtype=object), pa.string()),
        "mood": mood,
        "year": pa.array(year, pa.int16()),
        "decade": pa.array(decade, pa.string()),
        "rating": pa.array(rating, pa.float32(), from_pandas=True),
        "duration": pa.array(duration, pa.int32()),
        "license_url": pa.nulls(n_tracks, pa.string()),
    }
    return pa.table(columns, schema=CATALOG_SCHEMA)


def synthetic_catalog(n_tracks: int, *, seed: int = 0, reference: Catalog | None = None) -> Catalog:
    """A :class:`Catalog` of ``n_tracks`` synthetic tracks; same seed, same catalog."""
    return Catalog(synthetic_table(n_tracks, seed=seed, reference=reference), name=f"synthetic-{n_tracks}-seed{seed}")
