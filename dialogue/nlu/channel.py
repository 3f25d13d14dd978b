"""The simulated user speaking text: acts -> paraphrased text -> NLU -> what the system understood.

Plugged into ``MusicUserEnv(channel=TextChannel(...))`` it replaces the
meaning-level noise model, so the whole stack runs end to end: simulator
text -> NLU -> manager state -> policy prompt -> simulator. By default the
user speaks only the held-out phrasings (never in the NLU's training data).
"""

from __future__ import annotations

from recommender.catalog import Catalog

from ..acts import UserTurn
from .templates import verbalize

__all__ = ["TextChannel"]


class TextChannel:
    def __init__(self, nlu, catalog: Catalog, *, part: str = "test") -> None:
        self.nlu, self.catalog, self.part = nlu, catalog, part
        self.last_text = ""

    def __call__(self, acts, prompt_id, sentiment: float, rng) -> UserTurn:
        text = verbalize(acts, self.catalog, rng, sentiment=sentiment, part=self.part)
        self.last_text = text
        return self.nlu.parse(text, prompt=prompt_id).to_turn()
