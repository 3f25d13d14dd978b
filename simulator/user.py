"""How a simulated user answers prompts, loses patience and is misheard.

``SimulatedUser`` holds one episode's user, goal and patience. ``respond``
returns the acts the user *meant*; ``hear`` passes them through the
NLU/ASR channel and returns what the system *understood* (a ``UserTurn``).
"""

from __future__ import annotations

import numpy as np

from dialogue.acts import Act, DialogueAct, Slot, UserTurn
from dialogue.prompts import PromptId, SystemPrompt
from recommender.catalog import Catalog
from recommender.history import HistoryProfile
from recommender.vocab import ACTIVITIES, ENERGIES, FAMILIARITIES, MOODS

from .goal import SessionGoal
from .population import SimUser

__all__ = ["SimulatedUser", "NLU_DIFFICULTY", "SENTIMENT_BASE"]

#: How much harder than average each prompt's answers are to recognize:
#: free-form answers to open questions are misheard more than a choice between two.
NLU_DIFFICULTY = {
    None: 1.5,  # the opening request
    PromptId.OPEN: 2.0, PromptId.ASK_GENRE: 1.6, PromptId.ASK_ACTIVITY: 1.3, PromptId.ASK_MOOD: 1.2,
    PromptId.ASK_DECADE: 1.2, PromptId.ASK_ENERGY: 0.6, PromptId.ASK_FAMILIARITY: 0.6,
    PromptId.SUGGEST_GENRES: 0.5, PromptId.SUGGEST_ARTIST: 0.5, PromptId.PLAY_SAMPLE: 0.5,
    PromptId.OFFER_STATION: 0.5,
}
SENTIMENT_BASE = {
    Act.ACCEPT: 0.8, Act.AFFIRM: 0.45, Act.INFORM: 0.3, Act.GREET: 0.2, Act.DONT_CARE: 0.0,
    Act.HELP: 0.0, Act.REQUEST_ALTERNATIVE: -0.2, Act.DENY: -0.25, Act.REJECT: -0.4,
    Act.RESTART: -0.3, Act.STOP: -0.7,
}
_SENTIMENT_ORDER = (Act.STOP, Act.ACCEPT, Act.REJECT, Act.DENY, Act.AFFIRM, Act.INFORM, Act.DONT_CARE, Act.GREET)
_LEAD_ORDER = (Slot.GENRE, Slot.ARTIST, Slot.ENERGY, Slot.MOOD, Slot.DECADE)
_BROAD_SLOTS = (Slot.GENRE, Slot.ENERGY, Slot.MOOD, Slot.ARTIST)  # what a station must get right


class SimulatedUser:
    def __init__(
        self,
        user: SimUser,
        goal: SessionGoal,
        profile: HistoryProfile,
        catalog: Catalog,
        rng: np.random.Generator,
        *,
        nlu_error_rate: float,
    ) -> None:
        self.user, self.goal, self.profile, self.catalog, self.rng = user, goal, profile, catalog, rng
        self.persona = user.persona
        self.nlu_error_rate = nlu_error_rate
        self.patience0 = max(1.0, self.persona.patience_median * user.patience_factor * float(rng.lognormal(0.0, self.persona.patience_sigma)))
        self.patience = self.patience0
        self.conveyed: dict[Slot, str] = {}  # what the user has said so far (as they meant it)
        anchor_affinity = float(profile.track_affinity[goal.anchor])
        self._affinity_ref = max(anchor_affinity, 0.1)

    # ------------------------------------------------------------------ intent
    def _say(self, slot: Slot) -> DialogueAct:
        """Inform a cared slot, as this user would phrase it."""
        value = self.goal.slots[slot]
        if slot is Slot.GENRE and value in self.catalog.style_index and self.rng.random() > self.persona.knows_names:
            value = self.catalog.parent_genre(value)  # "something electronic" instead of "techno"
        self.conveyed[slot] = value
        return DialogueAct(Act.INFORM, slot, value)

    def _unsaid(self) -> list[Slot]:
        return [s for s in _LEAD_ORDER if s in self.goal.slots and self.conveyed.get(s) != self.goal.slots[s]]

    def opening(self) -> list[DialogueAct]:
        """The first request: "help me find music", sometimes with a preference."""
        acts = [DialogueAct(Act.GREET)]
        unsaid = self._unsaid()
        if unsaid and self.rng.random() < self.persona.opening_lead * self.user.lead_factor:
            acts.append(self._say(unsaid[0] if self.rng.random() < 0.6 else unsaid[int(self.rng.integers(len(unsaid)))]))
        return acts

    def taste(self, track: int) -> float:
        """How much the user likes a track for its own sake, in [0.55, 1]."""
        return 0.55 + 0.45 * min(1.0, float(self.profile.track_affinity[track]) / self._affinity_ref)

    def _misses(self, track: int, slots=None) -> list[Slot]:
        misses = []
        for slot, value in self.goal.slots.items():
            if slots is not None and slot not in slots:
                continue
            if slot is Slot.FAMILIARITY:
                ok = bool(self.profile.familiar_mask[track]) == (value == "familiar")
            else:
                ok = bool(self.catalog.mask(slot.value, value)[track])
            if not ok:
                misses.append(slot)
        return misses

    def _hint(self, misses: list[Slot], p: float) -> list[DialogueAct]:
        """After a miss, sometimes say what was wrong ("something more upbeat")."""
        sayable = [s for s in misses if s is not Slot.FAMILIARITY]
        if sayable and self.rng.random() < p:
            return [self._say(sayable[0])]
        return []

    def respond(self, prompt: SystemPrompt) -> list[DialogueAct]:
        """The acts the user means in answer to ``prompt`` (before the NLU channel)."""
        rng, goal, persona = self.rng, self.goal, self.persona
        pid = prompt.prompt
        if pid not in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):
            unsaid = self._unsaid()
            if unsaid and rng.random() < persona.lead_rate * self.user.lead_factor:
                return [self._say(unsaid[0])]  # takes the lead: "just play some jazz"
        if pid is PromptId.OPEN:
            options = [s for s in (Slot.GENRE, Slot.ARTIST, Slot.ENERGY) if s in goal.slots]
            if options and rng.random() > self.user.vagueness:
                return [self._say(options[int(rng.integers(len(options)))])]
            if goal.activity is not None and rng.random() > self.user.vagueness:
                return [DialogueAct(Act.INFORM, Slot.ACTIVITY, goal.activity)]
            return [DialogueAct(Act.DONT_CARE)]
        if pid is PromptId.SUGGEST_GENRES:
            return self._genres(prompt)
        if pid is PromptId.SUGGEST_ARTIST:
            return self._artist(prompt)
        if pid is PromptId.PLAY_SAMPLE:
            return self._sample(prompt)
        if pid is PromptId.OFFER_STATION:
            return self._station(prompt)
        slot = {
            PromptId.ASK_ENERGY: Slot.ENERGY, PromptId.ASK_MOOD: Slot.MOOD, PromptId.ASK_GENRE: Slot.GENRE,
            PromptId.ASK_DECADE: Slot.DECADE, PromptId.ASK_FAMILIARITY: Slot.FAMILIARITY,
            PromptId.ASK_ACTIVITY: Slot.ACTIVITY,
        }[pid]
        if slot is Slot.ACTIVITY:
            if goal.activity is not None and rng.random() > self.user.vagueness:
                return [DialogueAct(Act.INFORM, Slot.ACTIVITY, goal.activity)]
            return [DialogueAct(Act.DONT_CARE, Slot.ACTIVITY)]
        if slot in goal.slots and rng.random() > self.user.vagueness:
            return [self._say(slot)]
        return [DialogueAct(Act.DONT_CARE, slot)]

    def _covers(self, offered: str, wanted: str) -> bool:
        """Whether an offered genre value is what the user wants (same, broader or a sub-style)."""
        cat = self.catalog
        return offered == wanted or offered == cat.parent_genre(wanted) or cat.parent_genre(offered) == wanted

    def _genres(self, prompt: SystemPrompt) -> list[DialogueAct]:
        wanted = self.goal.slots.get(Slot.GENRE)
        if wanted is None:
            if self.rng.random() < 0.4 and prompt.genres:  # "sure, the first one"
                return [DialogueAct(Act.AFFIRM), DialogueAct(Act.INFORM, Slot.GENRE, prompt.genres[0])]
            return [DialogueAct(Act.DONT_CARE, Slot.GENRE)]
        for genre in prompt.genres:
            if self._covers(genre, wanted):
                self.conveyed[Slot.GENRE] = genre
                return [DialogueAct(Act.AFFIRM), DialogueAct(Act.INFORM, Slot.GENRE, genre)]
        acts = [DialogueAct(Act.DENY)]
        if self.rng.random() < 0.5:
            acts.append(self._say(Slot.GENRE))
        return acts

    def _artist(self, prompt: SystemPrompt) -> list[DialogueAct]:
        artist = prompt.artist
        wanted = self.goal.slots.get(Slot.ARTIST)
        if wanted is not None:
            if artist == wanted:
                self.conveyed[Slot.ARTIST] = wanted
                return [DialogueAct(Act.AFFIRM), DialogueAct(Act.INFORM, Slot.ARTIST, artist)]
            return [DialogueAct(Act.DENY)] + ([self._say(Slot.ARTIST)] if self.rng.random() < 0.5 else [])
        code = self.catalog.artist_code(artist) if artist else -1
        fits = code >= 0 and bool(np.any(self.goal.mask[self.catalog.artist == code]))
        familiar = code in self.profile.artist_plays
        p_yes = (0.6 if familiar else 0.35) if fits else 0.05
        if self.rng.random() < p_yes:
            return [DialogueAct(Act.AFFIRM), DialogueAct(Act.INFORM, Slot.ARTIST, artist)]
        return [DialogueAct(Act.DENY)]

    def _sample(self, prompt: SystemPrompt) -> list[DialogueAct]:
        track = prompt.track
        misses = self._misses(track)
        if not misses:
            p = self.persona.accept_match * self.user.playfulness * self.taste(track)
        elif len(misses) == 1:
            p = self.persona.accept_near
        else:
            p = 0.005
        if self.rng.random() < p:
            return [DialogueAct(Act.ACCEPT)]
        return [DialogueAct(Act.REJECT)] + self._hint(misses, self.persona.hint_rate)

    def _station(self, prompt: SystemPrompt) -> list[DialogueAct]:
        misses = self._misses(prompt.track, _BROAD_SLOTS)
        p = self.persona.station_accept * self.taste(prompt.track) if not misses else 0.0
        if self.rng.random() < p:
            return [DialogueAct(Act.ACCEPT)]
        return [DialogueAct(Act.REJECT)] + self._hint(misses, self.persona.hint_rate)

    # ------------------------------------------------------------------ patience
    def spend(self, prompt: SystemPrompt, acts: list[DialogueAct], *, repeated: bool, valid: bool) -> bool:
        """Charge the turn to patience; True when patience has run out."""
        p = self.persona
        cost = 1.0
        kinds = {a.act for a in acts}
        if Act.DONT_CARE in kinds:
            cost += p.dont_care_cost
        if Act.REJECT in kinds or Act.DENY in kinds:
            cost += p.reject_cost if Act.REJECT in kinds else 0.5 * p.reject_cost
        if repeated:
            cost += 1.0
        if not valid:
            cost += 2.0
        self.patience -= cost
        return self.patience <= 0 and Act.ACCEPT not in kinds

    def sentiment(self, acts: list[DialogueAct]) -> float:
        kinds = {a.act for a in acts}
        main = next((k for k in _SENTIMENT_ORDER if k in kinds), Act.INFORM)
        mood = 0.5 * (self.patience / self.patience0 - 0.5)
        value = (SENTIMENT_BASE[main] + mood + self.rng.normal(0.0, 0.12)) * self.user.expressiveness
        return float(np.clip(value, -1.0, 1.0))

    # ------------------------------------------------------------------ channel
    def hear(self, acts: list[DialogueAct], prompt_id: PromptId | None, sentiment: float) -> UserTurn:
        """What the NLU/ASR understands: some acts misheard or lost, with a confidence."""
        rng = self.rng
        p_error = min(0.95, self.nlu_error_rate * NLU_DIFFICULTY[prompt_id])
        heard: list[DialogueAct] = []
        corrupted = False
        for act in acts:
            if act.act in (Act.INFORM, Act.AFFIRM, Act.DENY, Act.DONT_CARE) and rng.random() < p_error:
                corrupted = True
                if rng.random() < 0.4 or act.act is Act.DONT_CARE:
                    continue  # lost
                heard.append(self._mishear(act))
            else:
                heard.append(act)
        if not heard:
            confidence = rng.beta(2.0, 6.0)
        elif corrupted:
            confidence = rng.beta(3.0, 4.0)
        else:
            confidence = rng.beta(9.0, 2.0)
        return UserTurn(tuple(heard), sentiment=sentiment, confidence=float(confidence))

    def _mishear(self, act: DialogueAct) -> DialogueAct:
        rng = self.rng
        if act.act is Act.AFFIRM:
            return DialogueAct(Act.DENY)
        if act.act is Act.DENY:
            return DialogueAct(Act.AFFIRM)
        slot = act.slot
        cat = self.catalog
        if slot is Slot.GENRE:
            pool = cat.genre_names + cat.style_names[:40]
        elif slot is Slot.ENERGY:
            pool = ENERGIES
        elif slot is Slot.MOOD:
            pool = MOODS
        elif slot is Slot.DECADE:
            pool = cat.decade_names
        elif slot is Slot.ACTIVITY:
            pool = ACTIVITIES
        elif slot is Slot.FAMILIARITY:
            pool = FAMILIARITIES
        else:
            return DialogueAct(Act.INFORM, slot, str(cat.artist_names[rng.integers(len(cat.artist_names))]))
        others = [v for v in pool if v != act.value]
        return DialogueAct(Act.INFORM, slot, others[int(rng.integers(len(others)))] if others else act.value)
