"""Dialogue state and the tracker that updates it from user turns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.constraints import Constraints

from .acts import Act, DialogueAct, Slot, UserTurn
from .prompts import N_PROMPTS, PROMPTS, PromptId, SystemPrompt

__all__ = ["SlotBelief", "DialogueState", "StateTracker", "CONFIDENT", "SLOTS"]

#: A slot known with at least this confidence is not asked again (its prompt is masked).
CONFIDENT = 0.7
SLOTS: tuple[Slot, ...] = tuple(Slot)


@dataclass(slots=True)
class SlotBelief:
    value: str | None  # None with dont_care=True means "the user does not mind"
    confidence: float
    dont_care: bool = False
    turn: int = 0


@dataclass
class DialogueState:
    """Everything the system knows about the conversation so far."""

    turn: int = 0  # system prompts asked so far
    beliefs: dict[Slot, SlotBelief] = field(default_factory=dict)
    denied_genres: set[str] = field(default_factory=set)
    denied_artists: set[str] = field(default_factory=set)
    rejected_tracks: set[int] = field(default_factory=set)
    n_rejected: int = 0
    asked: np.ndarray = field(default_factory=lambda: np.zeros(N_PROMPTS, dtype=np.int16))
    last_prompt: SystemPrompt | None = None
    last_acts: tuple[DialogueAct, ...] = ()
    sentiments: list[float] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    user_led: int = 0  # user turns that informed a slot the prompt did not ask about
    accepted_track: int | None = None
    station_accepted: bool = False
    stopped: bool = False
    version: int = 0  # bumped on every update, so views of the state can be cached

    @property
    def finished(self) -> bool:
        return self.accepted_track is not None or self.stopped

    def known(self, slot: Slot) -> str | None:
        belief = self.beliefs.get(slot)
        return belief.value if belief is not None and not belief.dont_care else None

    def settled(self, slot: Slot) -> bool:
        """Known with confidence, or the user said they do not mind: do not ask again."""
        belief = self.beliefs.get(slot)
        return belief is not None and (belief.dont_care or belief.confidence >= CONFIDENT)

    def constraints(self) -> Constraints:
        values = {slot.value: self.known(slot) for slot in SLOTS}
        return Constraints(
            **values,
            excluded_tracks=frozenset(self.rejected_tracks),
            excluded_genres=frozenset(self.denied_genres),
            excluded_artists=frozenset(self.denied_artists),
        )


class StateTracker:
    """Rule-based belief tracking over the meaning representation.

    The prompt gives context to short answers: "yes" to a genre suggestion
    affirms a suggested genre, "yes" to a sample accepts it, "no" to a
    sample rejects it.
    """

    def update(self, state: DialogueState, prompt: SystemPrompt | None, turn: UserTurn) -> DialogueState:
        if prompt is not None:
            state.turn += 1
            state.asked[prompt.index] += 1
        asked_slot = _asked_slot(prompt)
        informed_other = False
        for act in turn.acts:
            kind = act.act
            if kind is Act.INFORM and act.slot is not None and act.value is not None:
                self._inform(state, act.slot, act.value, turn.confidence)
                if act.slot is not asked_slot:
                    informed_other = True
            elif kind is Act.DONT_CARE:
                slot = act.slot or asked_slot
                if slot is not None:
                    state.beliefs[slot] = SlotBelief(None, turn.confidence, dont_care=True, turn=state.turn)
            elif kind in (Act.AFFIRM, Act.ACCEPT) and prompt is not None:
                self._affirm(state, prompt, turn)
            elif kind is Act.DENY and act.slot is not None and act.value is not None:
                self._exclude(state, act.slot, act.value)  # "not jazz anymore", "anything but rap": at any turn
                if prompt is not None and prompt.prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):
                    self._deny(state, prompt, act)  # said to a sample, it is not this track either
            elif kind in (Act.DENY, Act.REJECT, Act.REQUEST_ALTERNATIVE) and prompt is not None:
                self._deny(state, prompt, act)
            elif kind is Act.RESTART:
                state.beliefs.clear()
                state.denied_genres.clear()
                state.denied_artists.clear()
            elif kind is Act.STOP:
                state.stopped = True
        if (prompt is not None and prompt.prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION)
                and prompt.track is not None and state.accepted_track is None):
            # a track not taken ("whatever", "hmm") is not offered again; a "no" also counts in n_rejected (``_deny``)
            state.rejected_tracks.add(prompt.track)
        if informed_other and prompt is not None:
            state.user_led += 1
        state.last_prompt = prompt
        state.last_acts = turn.acts
        state.sentiments.append(float(turn.sentiment))
        state.confidences.append(float(turn.confidence))
        state.version += 1
        return state

    @staticmethod
    def _inform(state: DialogueState, slot: Slot, value: str, confidence: float) -> None:
        state.beliefs[slot] = SlotBelief(value, confidence, turn=state.turn)
        if slot is Slot.GENRE:
            state.denied_genres.discard(value)
        elif slot is Slot.ARTIST:
            state.denied_artists.discard(value)

    @staticmethod
    def _exclude(state: DialogueState, slot: Slot, value: str) -> None:
        """A retracted or excluded value: it leaves the beliefs, and a genre or artist is excluded from candidates."""
        belief = state.beliefs.get(slot)
        if belief is not None and belief.value is not None and belief.value.lower() == value.lower():
            del state.beliefs[slot]
        if slot is Slot.GENRE:
            state.denied_genres.add(value)
        elif slot is Slot.ARTIST:
            state.denied_artists.add(value)

    def _affirm(self, state: DialogueState, prompt: SystemPrompt, turn: UserTurn) -> None:
        if prompt.prompt is PromptId.PLAY_SAMPLE and prompt.track is not None:
            state.accepted_track = prompt.track
        elif prompt.prompt is PromptId.OFFER_STATION and prompt.track is not None:
            state.accepted_track = prompt.track
            state.station_accepted = True
        elif prompt.prompt is PromptId.SUGGEST_GENRES and prompt.genres:
            if not any(a.act is Act.INFORM and a.slot is Slot.GENRE for a in turn.acts):
                self._inform(state, Slot.GENRE, prompt.genres[0], turn.confidence)
        elif prompt.prompt is PromptId.SUGGEST_ARTIST and prompt.artist is not None:
            if not any(a.act is Act.INFORM and a.slot is Slot.ARTIST for a in turn.acts):
                self._inform(state, Slot.ARTIST, prompt.artist, turn.confidence)

    @staticmethod
    def _deny(state: DialogueState, prompt: SystemPrompt, act: DialogueAct) -> None:
        if prompt.prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION) and prompt.track is not None:
            state.rejected_tracks.add(prompt.track)
            state.n_rejected += 1
        elif prompt.prompt is PromptId.SUGGEST_GENRES:
            denied = (act.value,) if act.value else prompt.genres
            state.denied_genres.update(g for g in denied if g is not None)
            belief = state.beliefs.get(Slot.GENRE)
            if belief is not None and belief.value in state.denied_genres:
                del state.beliefs[Slot.GENRE]
        elif prompt.prompt is PromptId.SUGGEST_ARTIST and prompt.artist is not None:
            state.denied_artists.add(act.value or prompt.artist)


def _asked_slot(prompt: SystemPrompt | None) -> Slot | None:
    return None if prompt is None else PROMPTS[prompt.index].slot
