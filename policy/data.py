"""Training data for the learners: turn-level arrays (built from logs by ``logs.to_transitions``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS

__all__ = ["Transitions"]


@dataclass(frozen=True)
class Transitions:
    """Turn-level arrays (n = number of logged prompts), conversations contiguous and in order.

    observations float32 (n, n_features): state features (base or history variant);
    actions int64 (n,); rewards float32 (n,): usefulness labels; terminals
    float32 (n,): 1 on a conversation's last turn when it ended (accepted or
    abandoned); timeouts float32 (n,): 1 on the last turn when it was cut at
    max_turns; masks bool (n, N_PROMPTS): valid prompts at each turn;
    propensities float64 (n,); conversation int64 (n,); feature_names: the
    columns of ``observations``.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    masks: np.ndarray
    propensities: np.ndarray
    conversation: np.ndarray
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.actions)
        for name in ("observations", "rewards", "terminals", "timeouts", "masks", "propensities", "conversation"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"transitions: {name} has {len(getattr(self, name))} rows, actions has {n}")
        if self.masks.shape[1:] != (N_PROMPTS,):
            raise ConfigError(f"transitions: masks must have {N_PROMPTS} columns, got shape {self.masks.shape}")
        if self.feature_names and len(self.feature_names) != self.observations.shape[1]:
            raise ConfigError(f"transitions: {len(self.feature_names)} feature names for {self.observations.shape[1]} columns")
        if n and not self.masks[np.arange(n), self.actions].all():
            row = int(np.flatnonzero(~self.masks[np.arange(n), self.actions])[0])
            raise ConfigError(f"transitions: row {row} logs a prompt its own mask marks invalid")

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def n_conversations(self) -> int:
        return int((self.terminals + self.timeouts).sum())

    def select_conversations(self, keep: np.ndarray) -> "Transitions":
        """The rows of the conversations whose ids are in ``keep``."""
        rows = np.isin(self.conversation, keep)
        return Transitions(
            self.observations[rows], self.actions[rows], self.rewards[rows], self.terminals[rows],
            self.timeouts[rows], self.masks[rows], self.propensities[rows], self.conversation[rows], self.feature_names,
        )
