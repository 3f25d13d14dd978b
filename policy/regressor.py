"""The per-turn usefulness regressor: gradient-boosted trees over state and per-prompt features.

It predicts a prompt's usefulness label from the state features and features
of that prompt: its one-hot id, how often it was asked, whether it was the
last prompt, and (history variant) its user-item affinity ``aff_<prompt>``.
The policy asks the valid prompt with the highest predicted usefulness (the
kind of policy Amazon found best in offline evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS, PROMPTS

__all__ = ["ActionFeatures", "RegressorConfig", "fit_regressor", "CompiledTrees"]


class ActionFeatures:
    """Builds the regressor's input rows: state features + per-prompt features."""

    def __init__(self, feature_names: tuple[str, ...]) -> None:
        if not feature_names:
            raise ConfigError("the regressor needs the feature names of the logs")
        self.feature_names = tuple(feature_names)
        index = {name: i for i, name in enumerate(feature_names)}
        self._asked = np.array([index[f"asked_{p.id}"] for p in PROMPTS])
        self._last = np.array([index[f"last_prompt_{p.id}"] for p in PROMPTS])
        self._affinity = np.array([index[f"aff_{p.id}"] for p in PROMPTS]) if f"aff_{PROMPTS[0].id}" in index else None
        self.n_extra = N_PROMPTS + 2 + (1 if self._affinity is not None else 0)

    @property
    def names(self) -> tuple[str, ...]:
        extra = [f"is_{p.id}" for p in PROMPTS] + ["this_asked", "this_was_last"]
        return self.feature_names + tuple(extra) + (("this_affinity",) if self._affinity is not None else ())

    def rows(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """features float32 (n, F), actions int (n,) -> float32 (n, F + n_extra)."""
        n = len(actions)
        out = np.zeros((n, features.shape[1] + self.n_extra), dtype=np.float32)
        out[:, : features.shape[1]] = features
        base = features.shape[1]
        out[np.arange(n), base + actions] = 1.0
        out[:, base + N_PROMPTS] = features[np.arange(n), self._asked[actions]]
        out[:, base + N_PROMPTS + 1] = features[np.arange(n), self._last[actions]]
        if self._affinity is not None:
            out[:, base + N_PROMPTS + 2] = features[np.arange(n), self._affinity[actions]]
        return out

    def candidates(self, features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows for every valid prompt of one state: (prompt ids, rows)."""
        actions = np.flatnonzero(mask)
        return actions, self.rows(np.repeat(features[None, :], len(actions), axis=0), actions)


@dataclass(frozen=True)
class RegressorConfig:
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    seed: int = 0


def fit_regressor(rows: np.ndarray, labels: np.ndarray, config: RegressorConfig, progress=None):
    """Fit a HistGradientBoostingRegressor (squared error on the 0/1 labels: it estimates P(useful))."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        max_iter=config.max_iter, learning_rate=config.learning_rate, max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf, l2_regularization=config.l2_regularization,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=20, random_state=config.seed,
    )
    model.fit(rows, labels)
    if progress:
        progress(config.max_iter, config.max_iter)
    return model


class CompiledTrees:
    """A fitted HistGradientBoostingRegressor's trees as flat numpy arrays.

    scikit-learn's ``predict`` costs milliseconds per call for a dozen rows
    (input checks, a thread pool); serving one decision needs well under one.
    This evaluates the same trees level by level over all rows and trees at
    once: the same predictions (numerical features without missing values,
    as the state features are), in tens of microseconds. Checked against
    ``model.predict`` in the tests.
    """

    def __init__(self, model) -> None:
        predictors = [tree for per_iteration in model._predictors for tree in per_iteration]
        if not predictors:
            raise ConfigError("the regressor has no trees")
        offsets = np.cumsum([0] + [len(t.nodes) for t in predictors[:-1]])
        nodes = np.concatenate([t.nodes for t in predictors])
        if nodes["is_categorical"].any():
            raise ConfigError("categorical splits are not supported by the compiled regressor")
        tree_of = np.repeat(np.arange(len(predictors)), [len(t.nodes) for t in predictors])
        self.feature = nodes["feature_idx"].astype(np.int64)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.left = (nodes["left"].astype(np.int64) + offsets[tree_of])
        self.right = (nodes["right"].astype(np.int64) + offsets[tree_of])
        self.is_leaf = nodes["is_leaf"].astype(bool)
        self.value = np.where(self.is_leaf, nodes["value"], 0.0)
        self.roots = offsets.astype(np.int64)
        self.depth = int(nodes["depth"].max())
        self.baseline = float(np.ravel(model._baseline_prediction)[0])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """rows float (n, n_features) -> float64 (n,)."""
        x = np.asarray(rows, dtype=np.float64)
        n = len(x)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        row_index = np.arange(n)[:, None]
        for _ in range(self.depth):
            leaf = self.is_leaf[node]
            if leaf.all():
                break
            go_left = x[row_index, self.feature[node]] <= self.threshold[node]
            node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
        return self.baseline + self.value[node].sum(axis=1)
