"""The meaning representation: dialogue acts, slots and user turns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Act", "Slot", "DialogueAct", "UserTurn", "ENERGY_VALUES"]


class Act(StrEnum):
    INFORM = "inform"
    AFFIRM = "affirm"
    DENY = "deny"
    ACCEPT = "accept"
    REJECT = "reject"
    DONT_CARE = "dont_care"
    REQUEST_ALTERNATIVE = "request_alternative"
    RESTART = "restart"
    STOP = "stop"
    GREET = "greet"
    HELP = "help"


class Slot(StrEnum):
    GENRE = "genre"
    ENERGY = "energy"
    MOOD = "mood"
    DECADE = "decade"
    ARTIST = "artist"
    ACTIVITY = "activity"
    FAMILIARITY = "familiarity"


#: Energy values a person can state ("something in between" is medium).
ENERGY_VALUES: tuple[str, ...] = ("laid_back", "medium", "upbeat")


@dataclass(frozen=True, slots=True)
class DialogueAct:
    """One act: ``inform(genre=jazz)``, ``accept()``, ``dont_care(energy)``."""

    act: Act
    slot: Slot | None = None
    value: str | None = None

    def __str__(self) -> str:
        if self.slot is None:
            return f"{self.act}()"
        return f"{self.act}({self.slot}={self.value})" if self.value is not None else f"{self.act}({self.slot})"


@dataclass(frozen=True, slots=True)
class UserTurn:
    """What the system understood of one user utterance.

    ``sentiment`` in [-1, 1]; ``confidence`` in [0, 1] is the NLU's (or
    ASR's) confidence in the acts; ``text`` is the utterance when there was one.
    """

    acts: tuple[DialogueAct, ...]
    sentiment: float = 0.0
    confidence: float = 1.0
    text: str | None = None

    def has(self, act: Act) -> bool:
        return any(a.act is act for a in self.acts)
