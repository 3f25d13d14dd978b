"""The scorer: which tracks, genres and artists to offer, given the constraints.

``Scorer`` is the protocol the dialogue and the simulator use; the
``BaselineScorer`` ranks the tracks that pass the constraint filter by a
rating prior plus the user's history affinity. ``EmbeddingScorer``
(``embedding_scorer.py``) ranks by learned embeddings behind the same protocol.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .catalog import Catalog
from .constraints import Constraints
from .history import HistoryProfile

__all__ = ["Ranking", "Scorer", "BaselineScorer"]

class _CountAll(Exception):
    """Raised by ``BaselineScorer._suggest_genres``'s one-at-a-time count when counting every value is cheaper."""


_KEPT_MASKS = 64  # candidate masks a scorer keeps for one listener (a conversation has a handful of constraint sets)


@dataclass(frozen=True)
class Ranking:
    """Top tracks for some constraints.

    ``indices``: int64 (k,), catalog rows, best first; ``scores``: float32 (k,);
    ``n_candidates``: how many tracks passed the filter (0 means none: an
    answer, not an error).
    """

    indices: np.ndarray
    scores: np.ndarray
    n_candidates: int

    @property
    def empty(self) -> bool:
        return self.n_candidates == 0

    @property
    def margin(self) -> float:
        """Top score minus the second (0 with fewer than two candidates)."""
        return float(self.scores[0] - self.scores[1]) if len(self.scores) > 1 else 0.0


@runtime_checkable
class Scorer(Protocol):
    """Ranks tracks and picks what the suggest prompts offer."""

    catalog: Catalog
    version: str

    def rank(
        self, constraints: Constraints, *, profile: HistoryProfile | None = None, k: int = 10, mask: np.ndarray | None = None
    ) -> Ranking:
        """Top ``k`` tracks passing ``constraints`` (``mask``, if given, is their precomputed filter), the artists of
        ``constraints.excluded_tracks`` after the others."""
        ...

    def candidates(self, constraints: Constraints, profile: HistoryProfile | None = None) -> np.ndarray:
        """The tracks passing ``constraints``: bool (n_tracks,), read-only."""
        ...

    def suggest_genres(self, constraints: Constraints, *, profile: HistoryProfile | None = None, n: int = 2) -> tuple[str, ...]:
        """Up to ``n`` genre values worth offering; empty when nothing matches."""
        ...

    def suggest_artist(self, constraints: Constraints, *, profile: HistoryProfile | None = None) -> str | None:
        """An artist worth offering, or ``None`` when nothing matches."""
        ...

    def affinity(self, profile: HistoryProfile, indices: np.ndarray) -> np.ndarray:
        """How well the given tracks suit this listener, in [0, 1]."""
        ...


class BaselineScorer:
    """Filter by constraints; rank by ``prior_weight * rating prior + history affinity``, the artists of the tracks
    turned down after the others.

    With no history profile the ranking is by rating alone (ties by row).
    Genre suggestions are the genre values with at least ``min_candidates``
    matching tracks, by history share (styles weighted x1.5, as they say
    more; catalog prevalence breaks ties) or, without history, by prevalence
    among the candidates; the second suggestion comes from a different
    coarse genre when there is one.
    """

    version = "baseline"  # what the history features' affinity comes from (part of their feature version)

    def __init__(self, catalog: Catalog, *, prior_weight: float = 0.5, min_candidates: int = 5) -> None:
        self.catalog = catalog
        self.prior_weight = prior_weight
        self.min_candidates = min_candidates
        self._base_scores: np.ndarray | None = None
        self._order: np.ndarray | None = None
        self._cached_profile: HistoryProfile | None = None
        self._cached_scores: np.ndarray | None = None
        self._suggest_profile: HistoryProfile | None = None
        self._suggest_cache: dict = {}
        self._masks: dict[Constraints, np.ndarray] = {}  # candidates of the constraints met with ``_suggest_profile``
        self._genre_order: np.ndarray | None = None  # genre values by weight for ``_suggest_profile``
        self._value_names = catalog.genre_names + catalog.style_names  # genre values: coarse genres, then styles
        self._value_index = {name: i for i, name in enumerate(self._value_names)}
        self._rows_of_values: dict[int, np.ndarray] = {}  # shared by the sessions (``session`` copies the reference)
        self._value_parents = np.concatenate([np.arange(len(catalog.genre_names)), catalog.style_parent])
        self._parents: list[int] = self._value_parents.tolist()
        genre_n = catalog.genre_matrix.sum(axis=0)
        style_n = np.bincount(catalog.style_indices, minlength=len(catalog.style_names))
        self._prevalence = np.concatenate([genre_n, style_n]).astype(np.float32) / catalog.n

    def session(self) -> "BaselineScorer":
        """A scorer for another concurrent conversation: it shares this one's catalog-wide precomputations (and,
        for the embedding scorer, the device matrix) and keeps its own per-user caches, so conversations stepped
        in turn (``simulator.vector``) do not evict each other's. Same answers as this scorer."""
        _ = self._prior_order, self.score_all(None)  # computed once, shared
        clone = copy.copy(self)
        clone._cached_profile, clone._cached_scores = None, None
        clone._suggest_profile, clone._suggest_cache, clone._masks, clone._genre_order = None, {}, {}, None
        return clone

    def _listener(self, profile: HistoryProfile | None) -> None:
        """Forget what was kept for another listener (the suggestions, candidate masks and genre order)."""
        if profile is not self._suggest_profile:
            self._suggest_profile, self._suggest_cache, self._masks, self._genre_order = profile, {}, {}, None

    def candidates(self, constraints: Constraints, profile: HistoryProfile | None = None) -> np.ndarray:
        """``constraints.mask(catalog, profile)`` (bool (n_tracks,), read-only), kept for the listener's conversation:
        a view's candidates are those its genre and artist suggestions start from when it has no genre or artist."""
        self._listener(profile)
        mask = self._masks.get(constraints)
        if mask is None:
            mask = constraints.mask(self.catalog, profile)
            mask.setflags(write=False)
            if len(self._masks) >= _KEPT_MASKS:
                self._masks.clear()
            self._masks[constraints] = mask
        return mask

    @property
    def _prior_order(self) -> np.ndarray:
        """Rows by rating-only score, best first, ties to the lower row (computed once)."""
        if self._order is None:
            base = self.score_all(None)
            self._order = np.lexsort((np.arange(len(base)), -base))
        return self._order

    def score_all(self, profile: HistoryProfile | None) -> np.ndarray:
        """Scores of every track for this user (float32, shape (n_tracks,)); cached per profile."""
        if profile is None:
            if self._base_scores is None:
                self._base_scores = (self.prior_weight * self.catalog.prior).astype(np.float32)
            return self._base_scores
        if profile is not self._cached_profile:
            self._cached_profile = profile
            self._cached_scores = (self.prior_weight * self.catalog.prior + profile.track_affinity).astype(np.float32)
        return self._cached_scores

    def rank(
        self, constraints: Constraints, *, profile: HistoryProfile | None = None, k: int = 10, mask: np.ndarray | None = None
    ) -> Ranking:
        """Top ``k`` tracks by score among those passing the filter; ties go to the lower row. The artists of the
        tracks turned down (``constraints.excluded_tracks``) come after every other artist's tracks: after a "no",
        the next sample is someone else's while anyone else is left."""
        if mask is None:
            mask = self.candidates(constraints, profile)
        n_candidates = int(np.count_nonzero(mask))
        if n_candidates == 0:
            return Ranking(np.zeros(0, np.int64), np.zeros(0, np.float32), 0)
        if constraints.excluded_tracks:
            turned = self.catalog.artists_tracks(np.unique(self.catalog.artist[np.fromiter(constraints.excluded_tracks, np.int64)]))
            others = mask.copy()
            others[turned] = False
            n_others = int(np.count_nonzero(others))
            if 0 < n_others < n_candidates:
                first = self._top(others, n_others, profile, k)
                if len(first.indices) < min(k, n_candidates):  # too few other artists: theirs first, then the rest
                    rest = self._top(mask & ~others, n_candidates - n_others, profile, k - len(first.indices))
                    return Ranking(np.concatenate([first.indices, rest.indices]), np.concatenate([first.scores, rest.scores]),
                                   n_candidates)
                return Ranking(first.indices, first.scores, n_candidates)
        return self._top(mask, n_candidates, profile, k)

    def _top(self, mask: np.ndarray, n_candidates: int, profile: HistoryProfile | None, k: int) -> Ranking:
        """The best ``k`` of the (non-empty) candidates in ``mask``."""
        scores = self.score_all(profile)
        k = min(k, n_candidates)
        if profile is None and k <= 4:  # rating only: walk the precomputed order
            order = self._prior_order
            hits = np.flatnonzero(mask[order[: max(64, 8 * k)]])
            if len(hits) < k:
                hits = np.flatnonzero(mask[order])
            top = order[hits[:k]].astype(np.int64)
            return Ranking(top, scores[top], n_candidates)
        if k <= 4 and 2 * n_candidates > len(mask):  # most tracks: argmax passes over all, the others at -inf
            masked = np.where(mask, scores, -np.inf)
            top = np.empty(k, dtype=np.int64)
            for i in range(k):
                top[i] = int(np.argmax(masked))  # the first maximum: the lowest row among ties
                masked[top[i]] = -np.inf
            return Ranking(top, scores[top], n_candidates)
        if k <= 4:  # a few argmax passes over the candidates' scores beat a partition for the dialogue's small k
            rows = np.flatnonzero(mask)  # ascending, so the first maximum is the lowest row among ties
            candidate = scores[rows]
            top = np.empty(k, dtype=np.int64)
            for i in range(k):
                j = int(np.argmax(candidate))
                top[i] = rows[j]
                candidate[j] = -np.inf
            return Ranking(top, scores[top], n_candidates)
        masked = np.where(mask, scores, -np.inf)
        kth = -np.partition(-masked, k - 1)[k - 1]
        part = np.flatnonzero(masked >= kth)  # every tie at the k-th score, so ties go to the lower row
        top = part[np.lexsort((part, -masked[part]))][:k].astype(np.int64)
        return Ranking(top, scores[top], n_candidates)

    def genre_counts(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate counts per primary coarse genre and per style, for a candidate mask."""
        cat = self.catalog
        return np.bincount(cat.primary_genre[mask], minlength=len(cat.genre_names)), self._style_counts(mask)

    def _style_counts(self, mask: np.ndarray) -> np.ndarray:
        """Candidates in ``mask`` per style (a track counts once for each of its styles)."""
        cat = self.catalog
        return np.bincount(cat.style_indices[mask[cat.style_rows]], minlength=len(cat.style_names))

    def offer_counts(self, mask: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
        """How many candidates in ``mask`` each genre value (coarse genres, then styles) would leave if the person
        took it: int (n_genres + n_styles,). A coarse genre counts every track that has it, primary or not, as the
        genre filter (``Catalog.mask``) does. ``style``: the style counts when ``genre_counts`` already made them."""
        cat = self.catalog
        return np.concatenate([cat.genre_matrix[mask].sum(axis=0), self._style_counts(mask) if style is None else style])

    def suggest_genres(self, constraints: Constraints, *, profile: HistoryProfile | None = None, n: int = 2) -> tuple[str, ...]:
        self._listener(profile)
        key = (constraints.without("genre"), constraints.genre, n)
        cached = self._suggest_cache.get(key)
        if cached is None:
            cached = self._suggest_cache[key] = self._suggest_genres(constraints, profile, n)
        return cached

    def _suggest_genres(self, constraints: Constraints, profile: HistoryProfile | None, n: int) -> tuple[str, ...]:
        mask = self.candidates(constraints.without("genre"), profile)
        counts = None
        if self._genre_order is not None:  # weights of this listener alone (the baseline's): ordered once
            order = self._genre_order
        else:
            weight = self._genre_weights(constraints, profile, mask)
            if weight is None:
                genre_n, style_n = self.genre_counts(mask)
                counts = self.offer_counts(mask, style_n)
                weight = np.concatenate([genre_n, 0.5 * style_n]) / max(1, int(np.count_nonzero(mask)))
            order = np.lexsort((np.arange(len(weight)), -weight))
            if profile is not None and self._weights_per_listener:
                self._genre_order = order
        blocked = {self._value_index[v] for v in (*constraints.excluded_genres, constraints.genre) if v in self._value_index}
        chosen = None
        if counts is None:  # the best values are usually usable: count them one at a time, six at most
            lazy: dict[int, bool] = {}

            def usable(i: int) -> bool:
                if i in blocked:
                    return False
                if i not in lazy:
                    if len(lazy) >= 6:
                        raise _CountAll
                    lazy[i] = int(np.count_nonzero(mask[self._value_rows(i)])) >= self.min_candidates
                return lazy[i]

            try:
                chosen = self._choose(order.tolist(), usable, n)
            except _CountAll:  # many misses: count every value at once (the same counts: no track repeats a style)
                counts = self.offer_counts(mask)
        if chosen is None:
            ok = counts >= self.min_candidates
            ok[list(blocked)] = False
            chosen = self._choose(order[ok[order]].tolist(), lambda i: True, n)
        return tuple(self._value_names[i] for i in chosen)

    def _choose(self, order: list[int], usable, n: int) -> list[int]:
        """The first ``n`` usable values of ``order``: from distinct coarse genres first, then the next best."""
        parents = self._parents
        chosen: list[int] = []
        taken: set[int] = set()
        for i in order:  # best first, then the best from another coarse genre
            if len(chosen) == n:
                break
            if parents[i] not in taken and usable(i):
                chosen.append(i)
                taken.add(parents[i])
        for i in order:  # not enough distinct coarse genres: the next best
            if len(chosen) == n:
                break
            if i not in chosen and usable(i):
                chosen.append(i)
        return chosen

    def _value_rows(self, i: int) -> np.ndarray:
        """The tracks of genre value ``i`` (coarse genres, then styles), as ``Catalog.mask("genre", ...)`` has them:
        int64 rows, computed once and shared by the sessions."""
        rows = self._rows_of_values.get(i)
        if rows is None:
            rows = self._rows_of_values[i] = np.flatnonzero(self.catalog.mask("genre", self._value_names[i]))
        return rows

    #: whether ``_genre_weights`` with a profile depends on the listener alone (not on the constraints): then the
    #: genre order is computed once per listener
    _weights_per_listener = True

    def _genre_weights(self, constraints: Constraints, profile: HistoryProfile | None, mask: np.ndarray) -> np.ndarray | None:
        """How much each genre value (coarse genres, then styles) is worth offering; ``None``: by prevalence
        among the candidates. Here: history share (styles x1.5: they say more), catalog prevalence breaks
        ties; candidate counts are checked lazily, best first."""
        if profile is None:
            return None
        return np.concatenate([profile.genre_share, 1.5 * profile.style_share]) + 0.02 * self._prevalence

    def affinity(self, profile: HistoryProfile, indices: np.ndarray) -> np.ndarray:
        """How well the given tracks suit this listener, in [0, 1] (the history features' per-action affinity)."""
        return profile.affinity(indices)

    def suggest_artist(self, constraints: Constraints, *, profile: HistoryProfile | None = None) -> str | None:
        """The most played history artist with a candidate track; else the best candidate's artist."""
        cat = self.catalog
        mask = self.candidates(constraints.without("artist"), profile)
        if profile is not None and len(profile.artist_codes):
            excluded = {cat.artist_code(a) for a in constraints.excluded_artists}
            for i in np.lexsort((profile.artist_codes, -profile.artist_counts)):
                code = int(profile.artist_codes[i])
                if code not in excluded and mask[cat.tracks_by(code)].any():
                    return str(cat.artist_names[code])
        top = self.rank(constraints.without("artist"), profile=profile, k=1, mask=mask)
        return None if top.empty else str(cat.artist_names[cat.artist[top.indices[0]]])


class PopularityScorer(BaselineScorer):
    """Non-personalized samples: the same ranking for everyone, by the catalog's rating prior (what its listeners
    rated) among the tracks that pass the gathered constraints. Listening history is not read for the ranking nor
    for the genre and artist suggestions; it still filters when the person asked for something new or familiar.
    The history features' affinity is the baseline's, so the feature version is the baseline's too.

    The arm the seed article's first experiment served: "the music samples it played were not personalized"
    (``../shared/seeds/003_*``)."""

    spec = "popularity"

    def rank(
        self, constraints: Constraints, *, profile: HistoryProfile | None = None, k: int = 10, mask: np.ndarray | None = None
    ) -> Ranking:
        if mask is None:
            mask = constraints.mask(self.catalog, profile)
        return super().rank(constraints, profile=None, k=k, mask=mask)

    def suggest_genres(self, constraints: Constraints, *, profile: HistoryProfile | None = None, n: int = 2) -> tuple[str, ...]:
        return super().suggest_genres(constraints, profile=None, n=n)

    def suggest_artist(self, constraints: Constraints, *, profile: HistoryProfile | None = None) -> str | None:
        return super().suggest_artist(constraints, profile=None)

