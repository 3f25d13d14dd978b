"""Typed records of conversations as they happen, and the sink they go to.

Whoever drives a conversation (the dialogue manager with a person, the
simulator's rollouts with a simulated user) describes each system prompt as a
``TurnRecord`` and each finished conversation as a ``ConversationRecord``, and
hands the latter to a ``ConversationSink`` that the application provides. The
dialogue layer writes no files: the one writer of log rows is in ``logs/``
(``logs.writer``), for simulated and person-led conversations alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .acts import DialogueAct
from .prompts import SystemPrompt

__all__ = ["TurnRecord", "ConversationRecord", "ConversationSink", "ConversationBuffer", "PERSON"]

#: ``persona`` of a conversation with a real person (simulated users have decisive or explorer).
PERSON = "person"


@dataclass(frozen=True, eq=False)
class TurnRecord:
    """One system prompt and the answer to it.

    prompt: the prompt as asked, with its arguments. distribution: float32 (N_PROMPTS,), the serving
    distribution the prompt was drawn from (sums to 1). mask: bool (N_PROMPTS,), the prompts valid in
    that state. propensity: the distribution's probability of the asked prompt, in (0, 1].
    features: float32 (n_features,), the state before the prompt in the *history* layout (base features
    first), so that either variant can be trained from it (a base-feature simulation, never logged, keeps the
    base features only). acts, sentiment (in [-1, 1]) and confidence
    (in [0, 1]): the answer as the system understood it (empty acts if the person never answered).
    forced: the prompt was not the system's choice (the person led, "play some jazz"): its distribution is
    one-hot on it and its propensity 1, so that off-policy estimators treat it as no decision.
    """

    prompt: SystemPrompt
    distribution: np.ndarray
    mask: np.ndarray
    propensity: float
    features: np.ndarray
    acts: tuple[DialogueAct, ...] = ()
    sentiment: float = 0.0
    confidence: float = 0.0
    forced: bool = False


@dataclass(frozen=True, eq=False)
class ConversationRecord:
    """A finished (or interrupted) conversation with at least one prompt.

    labels: one prompt-usefulness label per turn (0 or 1, ``dialogue.usefulness.label_usefulness``).
    success: a sample or station was accepted (``played_track`` is its catalog row); abandoned: the
    person stopped or left; truncated: cut at the turn limit. user_id: the simulated user's id, or -1
    for a person; persona: the simulated user's persona, or ``PERSON``. opening, opening_sentiment,
    opening_confidence: what the user said before the first prompt, as understood (what a replay of the state
    tracker starts from).
    """

    turns: tuple[TurnRecord, ...]
    labels: tuple[float, ...]
    success: bool
    abandoned: bool
    truncated: bool
    played_track: int | None = None
    user_id: int = -1
    persona: str = PERSON
    opening: tuple[DialogueAct, ...] = ()
    opening_sentiment: float = 0.0
    opening_confidence: float = 0.0

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.turns):
            raise ValueError(f"a conversation record needs one label per turn: {len(self.labels)} for {len(self.turns)}")

    @property
    def n_prompts(self) -> int:
        return len(self.turns)

    @property
    def usefulness(self) -> float:
        return float(sum(self.labels))


@runtime_checkable
class ConversationSink(Protocol):
    """Where finished conversations go (a log writer, a buffer in tests)."""

    def add(self, conversation: ConversationRecord) -> None: ...


@dataclass
class ConversationBuffer:
    """A sink that keeps the conversations in memory, in order."""

    conversations: list[ConversationRecord] = field(default_factory=list)

    def add(self, conversation: ConversationRecord) -> None:
        self.conversations.append(conversation)
