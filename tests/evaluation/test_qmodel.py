"""The fitted Q models: d3rlpy FQE learns a known value; the tree model's returns-to-go."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS
from evaluation.data import OPEData
from evaluation.qmodel import FQESettings, _returns_to_go, fit_q


def _two_turn_logs(n: int = 300, seed: int = 0) -> OPEData:
    """Every conversation has 2 prompts (0 or 1, half and half); success iff prompt 1 was asked last."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 2, size=2 * n)
    behaviour = np.zeros((2 * n, N_PROMPTS))
    behaviour[:, :2] = 0.5
    turn = np.tile([0, 1], n)
    features = np.stack([turn, 1 - turn], axis=1).astype(np.float32)
    success = actions[1::2] == 1
    return OPEData(conversation=np.repeat(np.arange(n), 2), turn=turn, actions=actions, propensities=np.full(2 * n, 0.5),
                   masks=behaviour > 0, features=features, history=np.zeros((2 * n, 1), np.float32),
                   rewards=np.zeros(2 * n), success=success, persona=np.array(["decisive"] * n, dtype=object), behaviour=behaviour)


def test_fqe_learns_the_value_of_a_known_policy():
    data = _two_turn_logs()
    target = np.zeros((data.n_turns, N_PROMPTS))
    target[:, 1] = 1.0  # always prompt 1: success 1 for sure, 2 prompts
    q = fit_q("fqe", data, target, FQESettings(steps=600, batch_size=128, learning_rate=3e-3, seed=0),
              metrics=("prompts", "success_rate"))
    first, second = data.turn == 0, data.turn == 1
    v = {m: (q[m] * target).sum(axis=1) for m in q}
    assert v["prompts"][first].mean() == pytest.approx(2.0, abs=0.25)
    assert v["prompts"][second].mean() == pytest.approx(1.0, abs=0.25)
    assert v["success_rate"][first].mean() == pytest.approx(1.0, abs=0.2)
    # at the last turn, asking prompt 0 fails for sure
    assert q["success_rate"][second, 0].mean() == pytest.approx(0.0, abs=0.2)


def test_fqe_is_seeded():
    data = _two_turn_logs(100)
    target = np.zeros((data.n_turns, N_PROMPTS))
    target[:, 0] = 1.0
    settings = FQESettings(steps=50, batch_size=32, seed=3)
    a = fit_q("fqe", data, target, settings, metrics=("prompts",))["prompts"]
    b = fit_q("fqe", data, target, settings, metrics=("prompts",))["prompts"]
    np.testing.assert_array_equal(a, b)


def test_returns_to_go():
    data = _two_turn_logs(3)
    rewards = np.array([1.0, 2.0, 0.0, 5.0, 3.0, 0.0])
    np.testing.assert_array_equal(_returns_to_go(data, rewards), [3.0, 2.0, 5.0, 5.0, 3.0, 0.0])


def test_unknown_q_model_is_refused():
    data = _two_turn_logs(5)
    with pytest.raises(ConfigError, match="unknown Q model 'oracle'"):
        fit_q("oracle", data, data.behaviour, FQESettings())


def test_regressor_q_model_needs_feature_names():
    data = _two_turn_logs(5)
    with pytest.raises(ConfigError, match="feature names"):
        fit_q("regressor", data, data.behaviour, FQESettings())
