"""A conversation's system side: state, candidate view, valid prompts, prompt arguments.

The simulator and the dialogue manager both drive a :class:`Conversation`:
it owns the dialogue state, asks the scorer what the constraints leave,
decides which prompts are valid (the mask) and fills a chosen prompt's
arguments (the genres to suggest, the sample to play).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.catalog import Catalog
from recommender.constraints import Constraints
from recommender.history import HistoryProfile
from recommender.scorer import BaselineScorer, Ranking, Scorer

from .acts import Slot, UserTurn
from .prompts import N_PROMPTS, PROMPTS, PromptId, SystemPrompt, prompt_index
from .state import DialogueState, StateTracker

__all__ = ["CandidateView", "Conversation", "STATION_MIN_CANDIDATES"]

STATION_MIN_CANDIDATES = 10
_RELAX_ORDER = (Slot.DECADE, Slot.MOOD, Slot.FAMILIARITY, Slot.ACTIVITY, Slot.ARTIST, Slot.ENERGY, Slot.GENRE)


@dataclass
class CandidateView:
    """What the scorer says about the current constraints (computed once per constraint set).

    ``relaxed`` lists the slots dropped because together they matched no track.
    ``ranking`` uses the history when there is one; ``base_ranking`` the rating only.
    """

    constraints: Constraints
    mask: np.ndarray
    n_candidates: int
    relaxed: tuple[Slot, ...]
    ranking: Ranking
    base_ranking: Ranking
    features: dict = field(default_factory=dict, repr=False)  # featurizer's cache, per variant
    _genres: tuple[str, ...] | None = field(default=None, repr=False)
    _artist: str | None | bool = field(default=False, repr=False)


class Conversation:
    """One conversation's system side, independent of who the user is."""

    def __init__(self, catalog: Catalog, scorer: Scorer | None = None, profile: HistoryProfile | None = None) -> None:
        self.catalog = catalog
        self.scorer = scorer or BaselineScorer(catalog)
        self.profile = profile
        self.state = DialogueState()
        self.tracker = StateTracker()
        self._views: dict[Constraints, CandidateView] = {}
        self._current: tuple[int, CandidateView, np.ndarray | None] | None = None

    # -------------------------------------------------------------- candidates
    def view(self) -> CandidateView:
        """The candidate view of the current state (cached per state version and per constraints)."""
        if self._current is not None and self._current[0] == self.state.version:
            return self._current[1]
        constraints = self.state.constraints()
        cached = self._views.get(constraints)
        if cached is None:
            cached = self._compute_view(constraints)
            self._views[constraints] = cached
        self._current = (self.state.version, cached, None)
        return cached

    def _compute_view(self, constraints: Constraints) -> CandidateView:
        relaxed: list[Slot] = []
        current = constraints
        mask = self.scorer.candidates(current, self.profile)
        n = int(np.count_nonzero(mask))
        for slot in _RELAX_ORDER:  # drop constraints, least telling first, until something matches
            if n > 0:
                break
            if getattr(current, slot.value) is not None:
                current = current.without(slot.value)
                relaxed.append(slot)
                mask = self.scorer.candidates(current, self.profile)
                n = int(np.count_nonzero(mask))
        ranking = self.scorer.rank(current, profile=self.profile, k=2, mask=mask)
        base = self.scorer.rank(current, profile=None, k=2, mask=mask) if self.profile is not None else ranking
        return CandidateView(current, mask, n, tuple(relaxed), ranking, base)

    def suggested_genres(self, view: CandidateView | None = None) -> tuple[str, ...]:
        view = view or self.view()
        if view._genres is None:
            view._genres = self.scorer.suggest_genres(view.constraints, profile=self.profile, n=2)
        return view._genres

    def suggested_artist(self, view: CandidateView | None = None) -> str | None:
        view = view or self.view()
        if view._artist is False:
            view._artist = self.scorer.suggest_artist(view.constraints, profile=self.profile)
        return view._artist  # type: ignore[return-value]

    # -------------------------------------------------------------- prompts
    def valid_mask(self, view: CandidateView | None = None) -> np.ndarray:
        """Which prompts may be asked now: bool, shape (N_PROMPTS,). Never all False. Do not modify."""
        if view is None:
            view = self.view()
            if self._current is not None and self._current[2] is not None:
                return self._current[2]
        mask = self._compute_mask(view)
        if self._current is not None and self._current[1] is view:
            self._current = (self._current[0], view, mask)
        return mask

    def _compute_mask(self, view: CandidateView) -> np.ndarray:
        state = self.state
        mask = np.zeros(N_PROMPTS, dtype=bool)
        for i, spec in enumerate(PROMPTS):
            if state.asked[i] >= spec.max_asks:
                continue
            pid = spec.id
            if pid is PromptId.OPEN:
                mask[i] = not state.beliefs
            elif pid is PromptId.SUGGEST_GENRES:
                mask[i] = not state.settled(Slot.GENRE) and bool(self.suggested_genres(view))
            elif pid is PromptId.SUGGEST_ARTIST:
                mask[i] = not state.settled(Slot.ARTIST) and self.suggested_artist(view) is not None
            elif pid is PromptId.ASK_FAMILIARITY:
                mask[i] = self.profile is not None and not state.settled(Slot.FAMILIARITY)
            elif pid is PromptId.PLAY_SAMPLE:
                mask[i] = view.n_candidates > 0
            elif pid is PromptId.OFFER_STATION:
                mask[i] = view.n_candidates >= STATION_MIN_CANDIDATES and any(
                    state.known(s) is not None for s in (Slot.GENRE, Slot.ENERGY, Slot.MOOD, Slot.ARTIST)
                )
            else:
                mask[i] = not state.settled(spec.slot)
        if not mask.any():  # everything asked: a sample is always possible while tracks remain
            mask[prompt_index(PromptId.PLAY_SAMPLE) if view.n_candidates > 0 else prompt_index(PromptId.OPEN)] = True
        mask.setflags(write=False)  # it is cached and handed out
        return mask

    def realize(self, prompt: PromptId | int) -> SystemPrompt:
        """The prompt with its arguments filled from the current view."""
        pid = PROMPTS[prompt].id if isinstance(prompt, (int, np.integer)) else PromptId(prompt)
        view = self.view()
        if pid is PromptId.SUGGEST_GENRES:
            return SystemPrompt(pid, genres=self.suggested_genres(view))
        if pid is PromptId.SUGGEST_ARTIST:
            return SystemPrompt(pid, artist=self.suggested_artist(view))
        if pid in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):
            track = int(view.ranking.indices[0]) if view.n_candidates else None
            genre = view.constraints.genre or (self.catalog.genre_names[self.catalog.primary_genre[track]] if track is not None else None)
            return SystemPrompt(pid, track=track, genres=(genre,) if pid is PromptId.OFFER_STATION and genre else ())
        return SystemPrompt(pid)

    def observe(self, prompt: SystemPrompt | None, turn: UserTurn) -> None:
        """Update the state with what the user said in answer to ``prompt``."""
        self.tracker.update(self.state, prompt, turn)
