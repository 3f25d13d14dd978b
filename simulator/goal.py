"""Hidden session goals: what a user wants from this conversation.

Most goals (``history_goal_share``) start from a track in the user's own
history, the rest from a track of the whole catalog (the moment's
context). The goal keeps some of that anchor's attributes as slots the user
cares about and leaves the others open; the anchor always satisfies its
goal, so every goal can be met.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dialogue.acts import Slot
from recommender.catalog import Catalog
from recommender.history import HistoryProfile
from recommender.vocab import ACTIVITIES, ACTIVITY_ENERGIES, ENERGIES, MOODS

from .population import Population, SimUser

__all__ = ["SessionGoal", "sample_goal", "GOAL_CARE"]

#: P(the user cares about a slot), given the anchor has a value for it.
GOAL_CARE = {
    "genre": 0.85,
    "genre_style_level": 0.40,  # P(the genre goal is a style of the anchor rather than its coarse genre)
    "energy_extreme": 0.85,     # anchor laid back or upbeat
    "energy_medium": 0.35,      # anchor medium: "something in between"
    "mood": 0.30,
    "decade": 0.08,
    "artist_history": 0.15,
    "artist_context": 0.03,
    "familiarity": 0.20,
    "activity": 0.40,           # P(the user is doing something that the music should suit)
}


@dataclass
class SessionGoal:
    slots: dict[Slot, str]       # the slots the user cares about, with their values
    anchor: int                  # the track the goal was drawn from (it satisfies the goal)
    from_history: bool
    activity: str | None         # context; answers "what are you up to?"
    mask: np.ndarray             # bool (n_tracks,): tracks meeting every cared slot

    def wants(self, slot: Slot) -> str | None:
        return self.slots.get(slot)


def goal_mask(catalog: Catalog, slots: dict[Slot, str], profile: HistoryProfile) -> np.ndarray:
    mask = np.ones(catalog.n, dtype=bool)
    for slot, value in slots.items():
        if slot is Slot.FAMILIARITY:
            mask &= profile.familiar_mask if value == "familiar" else ~profile.familiar_mask
        else:
            mask &= catalog.mask(slot.value, value)
    return mask


def sample_goal(
    rng: np.random.Generator, population: Population, user: SimUser, profile: HistoryProfile, history_share: float
) -> SessionGoal:
    catalog = population.catalog
    from_history = bool(rng.random() < history_share)
    anchor = int(user.plays[rng.integers(len(user.plays))]) if from_history else population.random_track(rng)
    slots: dict[Slot, str] = {}
    if rng.random() < GOAL_CARE["genre"]:
        styles = catalog.styles_of(anchor)
        if styles.size and rng.random() < GOAL_CARE["genre_style_level"]:
            slots[Slot.GENRE] = catalog.style_names[int(styles[rng.integers(styles.size)])]
        else:
            slots[Slot.GENRE] = catalog.genre_names[int(catalog.primary_genre[anchor])]
    energy = ENERGIES[int(catalog.energy[anchor])]
    if rng.random() < GOAL_CARE["energy_medium" if energy == "medium" else "energy_extreme"]:
        slots[Slot.ENERGY] = energy
    mood = int(catalog.mood[anchor])
    if mood >= 0 and rng.random() < GOAL_CARE["mood"]:
        slots[Slot.MOOD] = MOODS[mood]
    decade = int(catalog.decade[anchor])
    if decade >= 0 and rng.random() < GOAL_CARE["decade"]:
        slots[Slot.DECADE] = catalog.decade_names[decade]
    if rng.random() < GOAL_CARE["artist_history" if from_history else "artist_context"]:
        slots[Slot.ARTIST] = str(catalog.artist_names[catalog.artist[anchor]])
    if rng.random() < GOAL_CARE["familiarity"]:
        slots[Slot.FAMILIARITY] = "familiar" if profile.familiar_mask[anchor] else "new"
    activity = None
    if rng.random() < GOAL_CARE["activity"]:
        suitable = [a for a in ACTIVITIES if energy in ACTIVITY_ENERGIES[a]]
        activity = suitable[int(rng.integers(len(suitable)))]
    return SessionGoal(slots, anchor, from_history, activity, goal_mask(catalog, slots, profile))
