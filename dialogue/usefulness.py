"""Prompt usefulness: which prompts helped find the music finally played.

After a conversation ends, each system prompt gets 1 when the user's answer
to it (as the system understood it) is consistent with the played track,
and 0 otherwise; every prompt gets 0 when nothing was played. "Consistent"
counts positive information only:

  inform(genre=v)        the played track has genre or style v
  inform(energy|mood|decade|artist=v)   the played track has that value
  inform(activity=v)     the played track's energy suits the activity
  inform(familiarity=v)  the played track's artist is (familiar) or is not
                         (new) in the listening history
  accept / affirm        to a sample or station: it is the played track;
                         to suggested genres or an artist (with no value
                         named): one of them matches the played track

Denials, rejections and "don't mind" answers gather no attribute of the
played track and get 0. This function is the labeller the logs use; it lives
beside the meaning representation so that the simulator can report labels
too.
"""

from __future__ import annotations

from collections.abc import Sequence

from recommender.catalog import Catalog
from recommender.history import HistoryProfile
from recommender.vocab import ACTIVITY_ENERGIES, ENERGIES, MOODS

from .acts import Act, DialogueAct, Slot
from .prompts import PromptId, SystemPrompt

__all__ = ["label_usefulness", "act_consistent"]


def act_consistent(
    act: DialogueAct, prompt: SystemPrompt, played: int, catalog: Catalog, profile: HistoryProfile | None = None
) -> bool:
    """Whether one understood act is consistent with the played track."""
    kind = act.act
    if kind is Act.INFORM and act.slot is not None and act.value is not None:
        slot, value = act.slot, act.value
        if slot is Slot.GENRE:
            return catalog.has_genre(played, value)
        if slot is Slot.ENERGY:
            return ENERGIES[catalog.energy[played]] == value
        if slot is Slot.MOOD:
            mood = int(catalog.mood[played])
            return mood >= 0 and MOODS[mood] == value
        if slot is Slot.DECADE:
            decade = int(catalog.decade[played])
            return decade >= 0 and catalog.decade_names[decade] == value
        if slot is Slot.ARTIST:
            return catalog.artist_code(value) == int(catalog.artist[played])
        if slot is Slot.ACTIVITY:
            return ENERGIES[catalog.energy[played]] in ACTIVITY_ENERGIES.get(value, ())
        if slot is Slot.FAMILIARITY:
            if profile is None or value not in ("familiar", "new"):
                return False
            return bool(profile.familiar_mask[played]) == (value == "familiar")
        return False
    if kind in (Act.ACCEPT, Act.AFFIRM):
        if prompt.prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):
            return prompt.track == played
        if prompt.prompt is PromptId.SUGGEST_GENRES:
            return any(catalog.has_genre(played, g) for g in prompt.genres)
        if prompt.prompt is PromptId.SUGGEST_ARTIST and prompt.artist is not None:
            return catalog.artist_code(prompt.artist) == int(catalog.artist[played])
    return False


def label_usefulness(
    turns: Sequence[tuple[SystemPrompt, Sequence[DialogueAct]]],
    played: int | None,
    catalog: Catalog,
    profile: HistoryProfile | None = None,
) -> list[int]:
    """One 0/1 label per (prompt, understood answer) turn; all 0 when ``played`` is None."""
    if played is None:
        return [0] * len(turns)
    return [
        int(any(act_consistent(act, prompt, played, catalog, profile) for act in acts)) for prompt, acts in turns
    ]
