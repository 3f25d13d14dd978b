"""The policy interface: featurized state + valid-prompt mask -> prompt distribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import ConfigError

__all__ = ["Decision", "Policy", "UniformPolicy", "ConstantPolicy", "decide", "sample_prompt", "masked_softmax"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The prompt chosen (action id) and the probability the policy gave it."""

    prompt: int
    probability: float


@runtime_checkable
class Policy(Protocol):
    """Any prompt-selection policy.

    ``probabilities(features, mask)``: features float32 (n_features,), mask
    bool (n_prompts,) -> float64 (n_prompts,), zero where the mask is False,
    summing to 1. A greedy policy puts all mass on one prompt.
    """

    name: str

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


class UniformPolicy:
    """Every valid prompt equally likely: the floor any policy must clear."""

    name = "uniform"

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return mask / mask.sum()


class ConstantPolicy:
    """Always the same prompt when it is valid, else the first valid prompt in catalogue order.

    A deliberately bad policy: the deployment gate must refuse it (it collapses onto one prompt).
    """

    def __init__(self, prompt: int, name: str | None = None) -> None:
        if not 0 <= prompt < len(_prompt_ids()):
            raise ConfigError(f"constant policy: prompt index {prompt} is not a prompt")
        self.prompt = int(prompt)
        self.name = name or f"always-{_prompt_ids()[prompt]}"

    def _best(self, masks: np.ndarray) -> np.ndarray:
        return np.where(masks[:, self.prompt], self.prompt, masks.argmax(axis=1))

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.batch_probabilities(features[None, :], mask[None, :])[0]

    def batch_probabilities(self, features: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
        probs = np.zeros(masks.shape, dtype=np.float64)
        probs[np.arange(len(masks)), self._best(masks)] = 1.0
        return probs


def _prompt_ids() -> tuple[str, ...]:
    from dialogue.prompts import PROMPTS

    return tuple(p.id.value for p in PROMPTS)


def sample_prompt(probs: np.ndarray, rng: np.random.Generator) -> Decision:
    """Draw one prompt from a distribution over prompts (float (n_prompts,))."""
    index = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum(), side="right"))
    index = min(index, len(probs) - 1)
    while probs[index] <= 0.0:  # guard against float round-off at the top end
        index -= 1
    return Decision(index, float(probs[index]))


def decide(policy: Policy, features: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Decision:
    """Draw a prompt from ``policy`` (greedy policies are deterministic)."""
    return sample_prompt(policy.probabilities(features, mask), rng)


def masked_softmax(scores: np.ndarray, mask: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``scores / temperature`` over the valid entries; zero elsewhere."""
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    if not mask.any():
        raise ConfigError("the valid-prompt mask is empty: no prompt can be chosen")
    z = np.where(mask, scores / temperature, -np.inf)
    z = np.exp(z - z[mask].max())
    return z / z.sum()
