"""Natural-language understanding: text -> the meaning representation (acts, slots, sentiment, confidence).

Two backends behind one protocol: ``EmbeddedNLU`` (default; gazetteers from
the catalog + a trained intent classifier + a sentiment estimate) and
``RasaNLU`` (a Rasa Open Source server over HTTP, trained on the same
``nlu.yml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from ..acts import DialogueAct, UserTurn
from ..prompts import PromptId

__all__ = ["NLU", "NLUResult", "make_nlu"]


@dataclass(frozen=True)
class NLUResult:
    acts: tuple[DialogueAct, ...]
    sentiment: float
    confidence: float
    intent: str | None = None
    entities: tuple[dict, ...] = field(default=())  # {"slot", "value", "text", "score"}; "in_catalog": False marks
    text: str = ""                                  # a well-known genre the catalog lacks ("blues"): no act made of it

    def heard_with(self, speech_confidence: float) -> "NLUResult":
        """This reading of recognized speech: the confidence scaled by the recognizer's (clipped to [0, 1])."""
        scale = min(max(float(speech_confidence), 0.0), 1.0)
        return replace(self, confidence=round(self.confidence * scale, 4))

    def to_turn(self) -> UserTurn:
        return UserTurn(self.acts, sentiment=self.sentiment, confidence=self.confidence, text=self.text)

    def to_json(self) -> dict:
        return {
            "acts": [{"act": str(a.act), "slot": None if a.slot is None else str(a.slot), "value": a.value} for a in self.acts],
            "sentiment": round(float(self.sentiment), 4),
            "confidence": round(float(self.confidence), 4),
            "intent": self.intent,
            "entities": list(self.entities),
            "text": self.text,
        }


@runtime_checkable
class NLU(Protocol):
    name: str

    def parse(self, text: str, *, prompt: PromptId | None = None) -> NLUResult:
        """Understand one utterance; ``prompt`` is what the system just asked (context for "yes"/"no")."""
        ...


def make_nlu(kind: str = "embedded", *, catalog=None, rasa_url: str | None = None, start_rasa: bool = False):
    """``"embedded"`` (default) or ``"rasa"``."""
    from core.errors import ConfigError

    if kind == "embedded":
        from .embedded import EmbeddedNLU

        return EmbeddedNLU.for_catalog(catalog)
    if kind == "rasa":
        from .rasa_client import RasaNLU

        return RasaNLU(catalog=catalog, url=rasa_url, start=start_rasa)
    raise ConfigError(f"--nlu must be embedded or rasa, got {kind!r}")
