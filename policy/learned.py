"""Learned policies behind the ``Policy`` protocol: d3rlpy Q-learners and the regressor.

Both serve greedily over the valid prompts; ``epsilon`` > 0 mixes in a
uniform share over valid prompts (for the next round of logs), so that every
valid prompt keeps a known probability.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS

from .d3rlpy_support import observation, observations
from .regressor import ActionFeatures, CompiledTrees

__all__ = ["QPolicy", "RegressorPolicy", "greedy_with_share", "greedy_with_share_batch"]

_BATCH = 65_536


def greedy_with_share(best: int, mask: np.ndarray, epsilon: float) -> np.ndarray:
    """(1 - epsilon) on ``best`` + epsilon spread uniformly over the valid prompts."""
    probs = np.zeros(N_PROMPTS, dtype=np.float64)
    if epsilon > 0:
        probs[mask] = epsilon / mask.sum()
    probs[best] += 1.0 - epsilon
    return probs


def greedy_with_share_batch(best: np.ndarray, masks: np.ndarray, epsilon: float) -> np.ndarray:
    """Row-wise ``greedy_with_share``: best int (n,), masks bool (n, N_PROMPTS) -> float64 (n, N_PROMPTS)."""
    probs = masks * (epsilon / masks.sum(axis=1, keepdims=True)) if epsilon > 0 else np.zeros(masks.shape)
    probs[np.arange(len(best)), best] += 1.0 - epsilon
    return probs


def _check_epsilon(epsilon: float) -> float:
    if not 0.0 <= epsilon <= 1.0:
        raise ConfigError(f"randomized share must be within [0, 1], got {epsilon}")
    return float(epsilon)


class QPolicy:
    """A d3rlpy discrete Q-learner (CQL, BCQ) or behaviour cloner, with masks enabled."""

    def __init__(self, algo, *, name: str, epsilon: float = 0.0) -> None:
        self.algo = algo
        self.name = name
        self.epsilon = _check_epsilon(epsilon)

    def best(self, features: np.ndarray, mask: np.ndarray) -> int:
        x = torch.from_numpy(observation(features, mask)[None, :])
        with torch.inference_mode():
            action = self.algo.impl.predict_best_action(x)
        best = int(action[0])
        if not mask[best]:  # cannot happen with masking enabled; never serve an invalid prompt
            raise ConfigError(f"policy {self.name} chose masked prompt {best}")
        return best

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return greedy_with_share(self.best(features, mask), mask, self.epsilon)

    def batch_probabilities(self, features: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
        """Many states at once (off-policy evaluation): features (n, F), masks (n, N_PROMPTS) -> (n, N_PROMPTS)."""
        best = np.empty(len(features), dtype=np.int64)
        for start in range(0, len(features), _BATCH):
            rows = slice(start, start + _BATCH)
            x = torch.from_numpy(observations(features[rows], masks[rows]))
            with torch.inference_mode():
                best[rows] = np.asarray(self.algo.impl.predict_best_action(x))
            if progress:
                progress(min(start + _BATCH, len(features)), len(features))
        if not masks[np.arange(len(best)), best].all():
            raise ConfigError(f"policy {self.name} chose a masked prompt")
        return greedy_with_share_batch(best, masks, self.epsilon)


class RegressorPolicy:
    """Greedy over the regressor's predicted usefulness of each valid prompt."""

    def __init__(self, model, action_features: ActionFeatures, *, name: str, epsilon: float = 0.0) -> None:
        self.model = model
        self.trees = CompiledTrees(model)
        self.action_features = action_features
        self.name = name
        self.epsilon = _check_epsilon(epsilon)

    def scores(self, features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        actions, rows = self.action_features.candidates(features, mask)
        return actions, self.trees.predict(rows)

    def best(self, features: np.ndarray, mask: np.ndarray) -> int:
        actions, predicted = self.scores(features, mask)
        return int(actions[int(np.argmax(predicted))])

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return greedy_with_share(self.best(features, mask), mask, self.epsilon)

    def batch_probabilities(self, features: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
        """Many states at once, with scikit-learn's multi-threaded ``predict`` (about 10x faster than the
        compiled trees for hundreds of thousands of rows). Same trees; the two sum leaf values in a
        different order, so a choice can differ only between prompts whose scores tie to ~1e-12."""
        scores = np.full(masks.shape, -np.inf)
        chunk = max(1, _BATCH // 8)
        for start in range(0, len(features), chunk):
            rows = slice(start, start + chunk)
            state, action = np.nonzero(masks[rows])
            x = self.action_features.rows(features[rows][state], action)
            scores[start + state, action] = self.model.predict(x)
            if progress:
                progress(min(start + chunk, len(features)), len(features))
        return greedy_with_share_batch(scores.argmax(axis=1), masks, self.epsilon)
