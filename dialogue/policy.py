"""What the dialogue manager needs of a policy: the ``Policy`` protocol, ``Decision`` and ``sample_prompt``.

They live here, below ``policy/``, so that the manager (and the simulator's
rollouts) can type against them; ``policy/`` implements the protocol (rule,
randomized, learned, constant) and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Decision", "Policy", "sample_prompt", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The prompt chosen (action id, an index into ``dialogue.prompts.PROMPTS``) and the probability the
    serving distribution gave it (the propensity that is logged), in (0, 1]."""

    prompt: int
    probability: float


@runtime_checkable
class Policy(Protocol):
    """Any prompt-selection policy.

    ``probabilities(features, mask)``: features float32 (n_features,) in the layout of the policy's
    feature variant, mask bool (N_PROMPTS,) -> float64 (N_PROMPTS,), zero where the mask is False,
    summing to 1. A greedy policy puts all mass on one prompt.
    """

    name: str

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def sample_prompt(probs: np.ndarray, rng: np.random.Generator) -> Decision:
    """Draw one prompt from a distribution over prompts (float (N_PROMPTS,), summing to 1 up to round-off).

    One uniform draw from ``rng`` per call (inverse CDF), so a seeded generator gives the same prompts
    on every machine. The decision carries the drawn prompt's probability.
    """
    index = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum(), side="right"))
    index = min(index, len(probs) - 1)
    while probs[index] <= 0.0:  # guard against float round-off at the top end
        index -= 1
    return Decision(index, float(probs[index]))


def decide(policy: Policy, features: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Decision:
    """Draw a prompt from ``policy`` (greedy policies are deterministic)."""
    return sample_prompt(policy.probabilities(features, mask), rng)
