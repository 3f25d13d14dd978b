"""The scorer with learned embeddings: filter by the constraints, rank by similarity.

Same protocol as :class:`BaselineScorer`, which it extends: without a
listening history (a new person) it falls back to the rating prior; with
one, the user vector (the user tower over the history) is compared with
every track's target embedding, on CUDA when available, else on the CPU.
The catalog matrix is put on the device once, in the constructor.

The one play threshold (picked at training, the same for every user and
genre) calibrates the affinity: ``sigmoid((similarity - threshold) / 0.05)``,
so 0.5 means "at the threshold", above it "confident enough to play".
"""

from __future__ import annotations

import numpy as np

from .catalog import Catalog
from .constraints import Constraints
from .embeddings import Embeddings
from .errors import EmbeddingsError
from .history import HistoryProfile
from .scorer import BaselineScorer, PopularityScorer, Ranking
from .topk import DeviceMatrix

__all__ = ["EmbeddingScorer", "make_scorer"]

_AFFINITY_SCALE = 0.05
_SUGGEST_POOL = 200  # genre and artist suggestions are read off this many best candidates


class EmbeddingScorer(BaselineScorer):
    """Rank by cosine similarity between the user's history vector and each track's embedding."""

    def __init__(self, catalog: Catalog, embeddings: Embeddings, *, device: str = "auto", min_candidates: int = 5) -> None:
        super().__init__(catalog, min_candidates=min_candidates)
        if embeddings.target.shape[0] != catalog.n:
            raise EmbeddingsError(f"embeddings cover {embeddings.target.shape[0]:,} tracks, the catalog has {catalog.n:,}: retrain them")
        fingerprint = embeddings.meta.get("catalog")
        if fingerprint is not None and fingerprint != catalog.fingerprint:
            raise EmbeddingsError(f"embeddings {embeddings.version} were trained on catalog {fingerprint!r}, not {catalog.fingerprint!r}: retrain them")
        self.embeddings = embeddings
        self.matrix = DeviceMatrix(embeddings.target, device)
        self.device = self.matrix.device
        self.threshold = float(embeddings.threshold)
        self.version = embeddings.version
        self._user: tuple[HistoryProfile, np.ndarray, np.ndarray] | None = None

    def session(self) -> "EmbeddingScorer":
        clone = super().session()
        clone._user = None
        return clone

    def user_vector(self, profile: HistoryProfile) -> np.ndarray:
        return self._similarities(profile)[0]

    def _similarities(self, profile: HistoryProfile) -> tuple[np.ndarray, np.ndarray]:
        """(user vector, similarity of every track), cached for the last profile."""
        if self._user is None or self._user[0] is not profile:
            u = self.embeddings.user_vector(profile.plays)
            self._user = (profile, u, self.matrix.scores(u).astype(np.float32))
        return self._user[1], self._user[2]

    def score_all(self, profile: HistoryProfile | None) -> np.ndarray:
        if profile is None or len(profile) == 0:
            return super().score_all(None)
        return self._similarities(profile)[1]

    def _top(self, mask: np.ndarray, n_candidates: int, profile: HistoryProfile | None, k: int) -> Ranking:
        if profile is None or len(profile) == 0:
            return super()._top(mask, n_candidates, None, k)
        scores, indices = self.matrix.topk(self.user_vector(profile), k, mask)
        return Ranking(indices.astype(np.int64), scores.astype(np.float32), n_candidates)

    def affinity(self, profile: HistoryProfile, indices: np.ndarray) -> np.ndarray:
        sims = self._similarities(profile)[1][np.asarray(indices, dtype=np.int64)]
        return (1.0 / (1.0 + np.exp(-(sims - self.threshold) / _AFFINITY_SCALE))).astype(np.float32)

    def confident(self, profile: HistoryProfile, track: int) -> bool:
        """Whether a track clears the play threshold for this listener."""
        return bool(self._similarities(profile)[1][int(track)] >= self.threshold)

    def _pool(self, constraints: Constraints, profile: HistoryProfile, mask: np.ndarray) -> Ranking:
        return self.rank(constraints, profile=profile, k=_SUGGEST_POOL, mask=mask)

    _weights_per_listener = False  # the weights come from the best candidates of the constraints

    def _genre_weights(self, constraints: Constraints, profile: HistoryProfile | None, mask: np.ndarray) -> np.ndarray | None:
        """Genre values weighted by how much of the best candidates they hold (weights: affinity)."""
        if profile is None or len(profile) == 0:
            return None
        cat = self.catalog
        pool = self._pool(constraints, profile, mask)
        if pool.empty:
            return None
        w = self.affinity(profile, pool.indices).astype(np.float64) + 1e-3
        genre = np.bincount(cat.primary_genre[pool.indices], weights=w, minlength=len(cat.genre_names))
        starts, stops = cat.style_indptr[pool.indices], cat.style_indptr[pool.indices + 1]
        style = np.zeros(len(cat.style_names))
        for i, (a, b) in enumerate(zip(starts, stops)):
            style[cat.style_indices[a:b]] += w[i]
        return np.concatenate([genre, 1.5 * style]) / w.sum() + 0.02 * self._prevalence

    def suggest_artist(self, constraints: Constraints, *, profile: HistoryProfile | None = None) -> str | None:
        """The artist with the most affinity among the best candidates."""
        if profile is None or len(profile) == 0:
            return super().suggest_artist(constraints, profile=None)
        cat = self.catalog
        base = constraints.without("artist")
        mask = self.candidates(base, profile)
        pool = self._pool(base, profile, mask)
        if pool.empty:
            return None
        artists = cat.artist[pool.indices]
        weight = np.bincount(artists, weights=self.affinity(profile, pool.indices).astype(np.float64) + 1e-3)
        best = int(np.argmax(weight))  # ties to the lower code
        return str(cat.artist_names[best])


def make_scorer(spec: str | None, catalog: Catalog, *, device: str = "auto") -> BaselineScorer:
    """``"baseline"`` (or None): the rating-and-history scorer; ``"popularity"``: the same ranking for everyone
    (``recommender.scorer.PopularityScorer``, non-personalized samples); anything else: a folder of embeddings."""
    if spec is None or spec == "baseline":
        return BaselineScorer(catalog)
    if spec == PopularityScorer.spec:
        return PopularityScorer(catalog)
    return EmbeddingScorer(catalog, Embeddings.load(spec, catalog=catalog), device=device)
