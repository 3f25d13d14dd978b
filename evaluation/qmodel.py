"""Fitted Q models of a target policy, for the direct method and doubly robust estimators.

``fqe``: d3rlpy's ``DiscreteFQE`` (Le et al. 2019), one per metric, with two
adaptations made the way ``policy.d3rlpy_support`` adapts the learners:

- the target is any policy, not only a d3rlpy one: its distribution over
  prompts at each logged state is computed once (``evaluation.target``) and
  appended to the FQE observation, so the Q network also sees which prompt
  the target would ask;
- the bootstrap target is the *expected* value under that distribution,
  sum_a pi(a|s') Q'(s', a) (d3rlpy uses the target's single best action),
  which is the same for greedy targets and right for randomized ones, and
  never bootstraps from an invalid prompt.

Minibatches are sampled with numpy and passed to ``DiscreteFQE.update``
(d3rlpy's replay buffer picks transitions one by one in Python, several
times slower here). The metrics are undiscounted sums (gamma = 1); the last
turn of a conversation is terminal.

``regressor``: the usefulness regressor's model family (gradient-boosted
trees over state and per-prompt features) fitted to each metric's
return-to-go. It models the *logging* policy's value, so the direct method
with it is biased for a target that behaves differently; doubly robust stays
unbiased with any Q model (the propensities are known), and a better Q model
only lowers its variance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from core.errors import ConfigError
from core.threads import torch_threads
from dialogue.prompts import N_PROMPTS

from .data import METRICS, OPEData

__all__ = ["Q_MODELS", "FQESettings", "fit_q"]

Q_MODELS = ("fqe", "regressor")


@dataclass(frozen=True)
class FQESettings:
    steps: int = 2_000
    batch_size: int = 512
    learning_rate: float = 1e-3
    hidden: tuple[int, ...] = (128, 128)
    target_update_interval: int = 100
    seed: int = 0
    regressor_iterations: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 1_000_000:
            raise ConfigError(f"--fqe-steps must be between 1 and 1,000,000, got {self.steps}")
        if self.batch_size < 1:
            raise ConfigError(f"FQE batch size must be >= 1, got {self.batch_size}")

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}


def _q_input(data: OPEData, target: np.ndarray) -> np.ndarray:
    return np.concatenate([data.features, data.history, data.masks.astype(np.float32), target.astype(np.float32)], axis=1)


def _expected_fqe_impl():
    import torch
    from d3rlpy.ope.torch.fqe_impl import DiscreteFQEImpl

    class ExpectedDiscreteFQEImpl(DiscreteFQEImpl):
        """Bootstrap from sum_a pi(a|s') Q'(s', a); pi is the observation's last N_PROMPTS entries."""

        def compute_target(self, batch, next_actions):
            with torch.no_grad():
                q = self._targ_q_func_forwarder.compute_expected_q(batch.next_observations)
                return (q * batch.next_observations[:, -N_PROMPTS:]).sum(dim=1, keepdim=True)

    return ExpectedDiscreteFQEImpl


class _TargetFromObservation:
    """Stands for the target policy inside d3rlpy's FQE: its greedy prompt, read from the observation."""

    class impl:  # noqa: N801  (d3rlpy reads ``algo.impl.predict_best_action``)
        @staticmethod
        def predict_best_action(x):
            return x[:, -N_PROMPTS:].argmax(dim=1)


def _resampled_rows(data: OPEData, conversation_counts: np.ndarray | None) -> np.ndarray | None:
    """The turns of a resample of conversations (each conversation's turns repeated its count times), or None."""
    if conversation_counts is None:
        return None
    counts = np.asarray(conversation_counts, dtype=np.int64)
    if counts.shape != (data.n_conversations,) or np.any(counts < 0) or counts.sum() == 0:
        raise ConfigError(f"conversation counts must be {data.n_conversations} non-negative integers, not all 0")
    return np.repeat(np.arange(data.n_turns), counts[data.conversation])


def _fit_fqe(data: OPEData, target: np.ndarray, settings: FQESettings, metrics, progress,
             conversation_counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
    import torch

    from policy.d3rlpy_support import import_d3rlpy

    d3rlpy = import_d3rlpy()
    from d3rlpy.dataset import TransitionMiniBatch

    x = _q_input(data, target)
    n = data.n_turns
    terminal = data.last.astype(np.float32)[:, None]
    rewards = {m: data.metric_rewards(m).astype(np.float32)[:, None] for m in metrics}
    actions = data.actions.astype(np.float32)[:, None]
    impl_class = _expected_fqe_impl()
    with torch_threads(1):  # small networks: one thread is fastest, and robust on a busy machine (core.threads)
        models = {}
        for i, metric in enumerate(metrics):
            torch.manual_seed(settings.seed + i)
            config = d3rlpy.ope.FQEConfig(
                gamma=1.0, batch_size=settings.batch_size, learning_rate=settings.learning_rate,
                encoder_factory=d3rlpy.models.VectorEncoderFactory(hidden_units=list(settings.hidden)),
                target_update_interval=settings.target_update_interval,
            )
            fqe = d3rlpy.ope.DiscreteFQE(algo=_TargetFromObservation(), config=config, device="cpu:0")
            fqe.create_impl((x.shape[1],), N_PROMPTS)
            fqe.impl.__class__ = impl_class
            models[metric] = fqe
        rng = np.random.default_rng(settings.seed)
        ones = np.ones((settings.batch_size, 1), dtype=np.float32)
        zeros = np.zeros((settings.batch_size, 1), dtype=np.float32)
        total = settings.steps * len(metrics)
        pool = _resampled_rows(data, conversation_counts)
        for step in range(settings.steps):
            rows = rng.integers(0, n, settings.batch_size) if pool is None else pool[rng.integers(0, len(pool), settings.batch_size)]
            following = np.minimum(rows + 1, n - 1)  # the next turn; unused (times 1 - terminal) on a last turn
            obs, next_obs = x[rows], x[following]
            for j, metric in enumerate(metrics):
                batch = TransitionMiniBatch(
                    observations=obs, actions=actions[rows], rewards=rewards[metric][rows], next_observations=next_obs,
                    next_actions=zeros, terminals=terminal[rows], intervals=ones, transitions=[],
                )
                models[metric].update(batch)
            if progress and (step % 50 == 49 or step == settings.steps - 1):
                progress((step + 1) * len(metrics), total)
        out = {}
        for metric, fqe in models.items():
            q = np.empty((n, N_PROMPTS), dtype=np.float64)
            with torch.inference_mode():
                for start in range(0, n, 65_536):
                    chunk = torch.from_numpy(x[start : start + 65_536])
                    q[start : start + 65_536] = fqe.impl._q_func_forwarder.compute_expected_q(chunk).numpy()
            out[metric] = q
        return out


def _returns_to_go(data: OPEData, rewards: np.ndarray) -> np.ndarray:
    totals = np.bincount(data.conversation, rewards, minlength=data.n_conversations)
    before = np.cumsum(rewards) - rewards  # sum of rewards before this row, over all rows
    start_offset = (np.cumsum(rewards) - rewards)[data.first][data.conversation]
    return totals[data.conversation] - (before - start_offset)


def _fit_regressor(data: OPEData, target: np.ndarray, settings: FQESettings, metrics, progress,
                   conversation_counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from policy.regressor import ActionFeatures

    if len(data.feature_names) != data.features.shape[1] + data.history.shape[1]:
        raise ConfigError("the regressor Q model needs the logs' feature names (segue.*_names metadata), which these logs lack")
    action_features = ActionFeatures(data.feature_names)
    x = np.concatenate([data.features, data.history], axis=1)
    rows = action_features.rows(x, data.actions)
    # where Q is needed: the logged prompt and every prompt the target may ask
    state, action = np.nonzero(target > 0)
    query = action_features.rows(x[state], action)
    out = {}
    for i, metric in enumerate(metrics):
        model = HistGradientBoostingRegressor(max_iter=settings.regressor_iterations, learning_rate=0.1, max_leaf_nodes=31,
                                              min_samples_leaf=40, early_stopping=False, random_state=settings.seed)
        weight = None if conversation_counts is None else np.asarray(conversation_counts, dtype=np.float64)[data.conversation]
        model.fit(rows, _returns_to_go(data, data.metric_rewards(metric)), sample_weight=weight)
        q = np.zeros((data.n_turns, N_PROMPTS))
        q[state, action] = model.predict(query)
        q[np.arange(data.n_turns), data.actions] = model.predict(rows)
        out[metric] = q
        if progress:
            progress(i + 1, len(metrics))
    return out


def fit_q(kind: str, data: OPEData, target: np.ndarray, settings: FQESettings, *, metrics=METRICS,
          progress: Callable[[int, int], None] | None = None, conversation_counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Q(s_t, a) for every logged state and prompt, per metric: float64 (n, N_PROMPTS).

    conversation_counts (c,) int: fit on that resample of conversations instead (a member of a bootstrap ensemble:
    each conversation's turns count that many times). Raises ``ConfigError`` for an unknown kind or bad counts."""
    if kind == "fqe":
        return _fit_fqe(data, target, settings, tuple(metrics), progress, conversation_counts)
    if kind == "regressor":
        return _fit_regressor(data, target, settings, tuple(metrics), progress, conversation_counts)
    raise ConfigError(f"unknown Q model {kind!r}; Q models are {', '.join(Q_MODELS)}")
