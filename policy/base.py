"""Policies every learner is measured against (uniform, constant) and the masked softmax.

The ``Policy`` protocol, ``Decision`` and ``sample_prompt`` are defined in ``dialogue.policy`` (where the
dialogue manager types against them) and re-exported here.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError
from dialogue.policy import Decision, Policy, decide, sample_prompt

__all__ = ["Decision", "Policy", "UniformPolicy", "ConstantPolicy", "decide", "sample_prompt", "masked_softmax"]


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


def masked_softmax(scores: np.ndarray, mask: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``scores / temperature`` over the valid entries; zero elsewhere."""
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    if not mask.any():
        raise ConfigError("the valid-prompt mask is empty: no prompt can be chosen")
    z = np.where(mask, scores / temperature, -np.inf)
    z = np.exp(z - z[mask].max())
    return z / z.sum()
