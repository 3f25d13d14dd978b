"""The simulated user population: tastes, listening histories, personas.

A user is a deterministic function of ``(population_seed, user_id)``: the
same id is the same person in every episode, with the same history. Tastes
are concentrated (a Dirichlet over coarse genres, an energy preference);
histories are drawn from that taste the way people listen: a few anchor
tracks picked by genre, energy and rating, and most plays spent on the
anchors' albums, favourites more than others.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from recommender.catalog import Catalog

from .config import PERSONAS, Persona, SimulatorConfig

__all__ = ["SimUser", "Population"]


@dataclass(frozen=True)
class SimUser:
    user_id: int
    persona: Persona
    genre_taste: np.ndarray   # float (n_genres,), sums to 1
    energy_taste: np.ndarray  # float (3,), sums to 1
    plays: np.ndarray         # int64 (n_plays,), catalog rows
    patience_factor: float    # multiplies the persona's patience
    vagueness: float          # P(a vague answer to a question they could answer)
    lead_factor: float        # multiplies the persona's lead rates
    expressiveness: float     # scales sentiment
    playfulness: float        # multiplies the persona's accept_match (explorers like to hear more)


class Population:
    """Users over a catalog; ``user(i)`` is deterministic and cached (LRU, all users by default)."""

    def __init__(self, catalog: Catalog, config: SimulatorConfig, *, cache_size: int | None = None) -> None:
        self.catalog = catalog
        self.config = config
        self._cache: OrderedDict[int, SimUser] = OrderedDict()
        self._cache_size = cache_size if cache_size is not None else config.n_users
        n_genres = len(catalog.genre_names)
        weight = catalog.prior.astype(np.float64) + 0.1
        # buckets of (primary genre, energy) with cumulative rating weights
        self._buckets: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        key = catalog.primary_genre.astype(np.int64) * 3 + catalog.energy
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(n_genres * 3 + 1))
        for g in range(n_genres):
            for e in range(3):
                rows = order[bounds[g * 3 + e] : bounds[g * 3 + e + 1]]
                if rows.size:
                    self._buckets[(g, e)] = (rows, np.cumsum(weight[rows]))
        prevalence = np.bincount(catalog.primary_genre, minlength=n_genres).astype(np.float64)
        root = np.sqrt(prevalence) / np.sqrt(prevalence).sum()
        self._genre_alpha = 0.35 * n_genres * root
        self._global_cumulative = np.cumsum(weight)
        rel_order = np.argsort(catalog.release, kind="stable")
        self._release_rows = rel_order
        self._release_ptr = np.searchsorted(catalog.release[rel_order], np.arange(catalog.release.max() + 2))

    # ---------------------------------------------------------------- sampling
    def _from_bucket(self, rng: np.random.Generator, genre: int, energy: int) -> int:
        bucket = self._buckets.get((genre, energy))
        if bucket is None:  # no such (genre, energy): any energy of that genre
            options = [self._buckets[(genre, e)] for e in range(3) if (genre, e) in self._buckets]
            if not options:
                return self.random_track(rng)
            bucket = options[int(rng.integers(len(options)))]
        rows, cumulative = bucket
        return int(rows[np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")])

    def random_track(self, rng: np.random.Generator) -> int:
        """A track drawn from the whole catalog, weighted by rating (the moment's context)."""
        c = self._global_cumulative
        return int(np.searchsorted(c, rng.random() * c[-1], side="right"))

    def release_mates(self, track: int) -> np.ndarray:
        r = self.catalog.release[track]
        return self._release_rows[self._release_ptr[r] : self._release_ptr[r + 1]]

    def _make(self, user_id: int) -> SimUser:
        cfg = self.config
        rng = np.random.default_rng([cfg.population_seed, user_id])
        persona = PERSONAS["explorer"] if rng.random() < cfg.explorer_share else PERSONAS["decisive"]
        genre_taste = rng.dirichlet(self._genre_alpha)
        energy_taste = rng.dirichlet([1.2, 1.2, 1.2])
        n_plays = int(np.clip(rng.lognormal(np.log(60), 0.9), 5, 800))
        n_anchor = max(1, n_plays // 6)
        genres = rng.choice(len(genre_taste), size=n_anchor, p=genre_taste)
        energies = rng.choice(3, size=n_anchor, p=energy_taste)
        anchors = np.array([self._from_bucket(rng, int(g), int(e)) for g, e in zip(genres, energies)], dtype=np.int64)
        favourites = 1.0 / (np.arange(n_anchor) + 1.0) ** 0.8
        picks = anchors[rng.choice(n_anchor, size=n_plays - n_anchor, p=favourites / favourites.sum())]
        release = self.catalog.release[picks]
        start, stop = self._release_ptr[release], self._release_ptr[release + 1]
        rest = self._release_rows[start + (rng.random(len(picks)) * (stop - start)).astype(np.int64)]
        plays = np.concatenate([anchors, rest])
        rng.shuffle(plays)
        return SimUser(
            user_id=user_id,
            persona=persona,
            genre_taste=genre_taste,
            energy_taste=energy_taste,
            plays=plays,
            patience_factor=float(rng.lognormal(0.0, 0.25)),
            vagueness=float(rng.beta(1.5, 12.0)),
            lead_factor=float(rng.uniform(0.5, 1.5)),
            expressiveness=float(rng.uniform(0.6, 1.4)),
            playfulness=float(rng.uniform(*persona.playfulness)),
        )

    def user(self, user_id: int) -> SimUser:
        user_id = int(user_id)
        cached = self._cache.get(user_id)
        if cached is not None:
            self._cache.move_to_end(user_id)
            return cached
        user = self._make(user_id)
        self._cache[user_id] = user
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return user
