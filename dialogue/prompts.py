"""The prompt catalogue: the system's actions, versioned, with their slots.

The order below is the action id order of every policy and of the logs;
changing it (or adding a prompt) bumps ``PROMPT_CATALOGUE_VERSION`` so that
old policies and logs are refused instead of misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .acts import Slot

__all__ = [
    "PromptId",
    "PromptSpec",
    "PROMPTS",
    "N_PROMPTS",
    "PROMPT_CATALOGUE_VERSION",
    "SystemPrompt",
    "prompt_index",
    "ASK_PROMPTS",
]

PROMPT_CATALOGUE_VERSION = "1"


class PromptId(StrEnum):
    OPEN = "open"
    ASK_ENERGY = "ask_energy"
    ASK_MOOD = "ask_mood"
    ASK_GENRE = "ask_genre"
    SUGGEST_GENRES = "suggest_genres"
    ASK_DECADE = "ask_decade"
    ASK_ACTIVITY = "ask_activity"
    ASK_FAMILIARITY = "ask_familiarity"
    SUGGEST_ARTIST = "suggest_artist"
    PLAY_SAMPLE = "play_sample"
    OFFER_STATION = "offer_station"


@dataclass(frozen=True)
class PromptSpec:
    id: PromptId
    slot: Slot | None
    example: str
    max_asks: int


PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(PromptId.OPEN, None, "Do you have anything in mind?", 1),
    PromptSpec(PromptId.ASK_ENERGY, Slot.ENERGY, "Something laid back? Or more upbeat?", 2),
    PromptSpec(PromptId.ASK_MOOD, Slot.MOOD, "What mood are you in: happy, melancholic, calm or intense?", 2),
    PromptSpec(PromptId.ASK_GENRE, Slot.GENRE, "What kind of music would you like?", 2),
    PromptSpec(PromptId.SUGGEST_GENRES, Slot.GENRE, "May I suggest some {0}? Or perhaps {1}?", 3),
    PromptSpec(PromptId.ASK_DECADE, Slot.DECADE, "Any particular decade?", 2),
    PromptSpec(PromptId.ASK_ACTIVITY, Slot.ACTIVITY, "What are you up to right now?", 2),
    PromptSpec(PromptId.ASK_FAMILIARITY, Slot.FAMILIARITY, "Something you know, or something new?", 2),
    PromptSpec(PromptId.SUGGEST_ARTIST, Slot.ARTIST, "How about some {artist}?", 2),
    PromptSpec(PromptId.PLAY_SAMPLE, None, "How about this? <snippet> Did you like it?", 100),
    PromptSpec(PromptId.OFFER_STATION, None, "Shall I start a {genre} station for you?", 2),
)
N_PROMPTS = len(PROMPTS)
_INDEX = {spec.id: i for i, spec in enumerate(PROMPTS)}
#: Prompts that ask for one slot's value.
ASK_PROMPTS: dict[PromptId, Slot] = {
    p.id: p.slot for p in PROMPTS if p.slot is not None and p.id not in (PromptId.SUGGEST_GENRES, PromptId.SUGGEST_ARTIST)
}


def prompt_index(prompt: PromptId | str) -> int:
    """Action id of a prompt (accepts the enum or its string id)."""
    return _INDEX[PromptId(prompt)]


@dataclass(frozen=True, slots=True)
class SystemPrompt:
    """A prompt as asked: its id plus its arguments (what it offers)."""

    prompt: PromptId
    genres: tuple[str, ...] = ()
    artist: str | None = None
    track: int | None = None

    @property
    def index(self) -> int:
        return _INDEX[self.prompt]
