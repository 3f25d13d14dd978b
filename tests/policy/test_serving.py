"""Serving any registry policy with a randomized share: the logged propensities, the fallback, pooled behaviour logs."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS
from evaluation.data import OPEData
from evaluation.estimators import Weights
from logs.collect import CollectionSettings, collect, fallback_conversations
from logs.store import read_logs
from policy.base import ConstantPolicy
from policy.errors import PolicyError
from policy.registry import load_policy
from policy.serving import ExploringPolicy, FallbackPolicy, FaultyPolicy, PlantedFault, mix_uniform


def test_the_served_distribution_is_the_policy_mixed_with_a_uniform_share_over_valid_prompts():
    mask = np.zeros(N_PROMPTS, bool)
    mask[[1, 4, 6, 9]] = True
    served = ExploringPolicy(ConstantPolicy(4), 0.2).probabilities(np.zeros(3), mask)
    expected = np.zeros(N_PROMPTS)
    expected[[1, 4, 6, 9]] = 0.05
    expected[4] += 0.8
    np.testing.assert_allclose(served, expected)
    assert served.sum() == pytest.approx(1.0) and (served[~mask] == 0).all()
    masks = np.stack([mask, np.ones(N_PROMPTS, bool)])
    batch = ExploringPolicy(ConstantPolicy(4), 0.2).batch_probabilities(np.zeros((2, 3)), masks)
    np.testing.assert_allclose(batch[0], expected)
    np.testing.assert_allclose(batch[1], mix_uniform(np.eye(N_PROMPTS)[4], masks[1], 0.2))
    with pytest.raises(ConfigError, match="--exploration must be within"):
        ExploringPolicy(ConstantPolicy(4), 1.5)


def test_a_raising_policy_falls_back_for_the_rest_of_that_conversation_only():
    mask = np.ones(N_PROMPTS, bool)
    policy = FallbackPolicy(FaultyPolicy(ConstantPolicy(2), rate=1.0), ConstantPolicy(5))
    assert policy.probabilities(np.zeros(1), mask).argmax() == 5 and policy.failed
    assert policy.probabilities(np.zeros(1), mask).argmax() == 5 and policy.faults == 1
    assert "planted fault" in policy.errors[0]
    policy.reset()
    assert not policy.failed
    with pytest.raises(PlantedFault):
        FaultyPolicy(ConstantPolicy(2), rate=1.0).probabilities(np.zeros(1), mask)


@pytest.fixture(scope="module")
def served_logs(trained_registry, tmp_path_factory):
    """200 conversations served by regressor-base with a 0.2 share, 200 by the randomized rule policy, and 60 in which
    regressor-base raises on every turn and the rule policy (its fallback) finishes."""
    registry, _ = trained_registry
    root = tmp_path_factory.mktemp("served")
    learned = str(registry / "regressor-base")
    collect(root / "learned", CollectionSettings(conversations=200, seed=3, part_size=100, exploration=0.2, policy=learned), workers=1)
    collect(root / "rule", CollectionSettings(conversations=200, seed=4, part_size=100), workers=1)
    collect(root / "faulty", CollectionSettings(conversations=60, seed=5, part_size=60, exploration=0.2, policy=learned,
                                                fallback="rule", fault_rate=1.0), workers=1)
    return registry, root


def test_a_learned_policy_serves_simulated_users_and_logs_the_mixture_probability(served_logs, catalog):
    registry, root = served_logs
    table = read_logs(root / "learned")
    data = OPEData.from_logs(root / "learned")
    policy, variant = load_policy(str(registry / "regressor-base"), catalog=catalog)
    greedy = policy.batch_probabilities(data.features, data.masks)
    expected = mix_uniform(greedy, data.masks, 0.2)
    np.testing.assert_allclose(data.behaviour, expected, atol=1e-6)  # the whole served distribution, at every turn
    np.testing.assert_allclose(data.propensities, expected[np.arange(len(expected)), data.actions], atol=1e-6)
    assert data.propensities.min() >= 0.2 / N_PROMPTS - 1e-9  # every valid prompt keeps a known chance
    assert "uniform(0.2)" in table.schema.metadata[b"segue.logging_policy"].decode()


def test_conversations_the_policy_breaks_are_finished_by_the_fallback_and_counted(served_logs):
    _, root = served_logs
    assert fallback_conversations(root / "faulty") == 60
    assert fallback_conversations(root / "learned") == 0
    data = OPEData.from_logs(root / "faulty")
    rule_share = 0.3 / data.masks.sum(axis=1)  # the rule policy's own share: every row was served by it
    assert (data.behaviour[data.masks] > 0).all() and (data.propensities >= rule_share.min() - 1e-9).all()
    assert read_logs(root / "faulty").num_rows > 60


def test_a_fault_needs_a_fallback_and_a_missing_policy_fails_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="needs a fallback"):
        CollectionSettings(conversations=10, fault_rate=0.1, policy="x")
    with pytest.raises(PolicyError, match="no policy"):
        collect(tmp_path / "logs", CollectionSettings(conversations=10, policy=str(tmp_path / "nowhere")), workers=1)
    assert not list((tmp_path / "logs").glob("part-*"))


def test_logs_of_several_behaviour_policies_pool_exactly(served_logs, catalog):
    """Each turn keeps its own behaviour probability: an estimate on the pooled logs is the conversation-weighted
    mean of the estimates on each folder (IS and PDIS are means over conversations)."""
    registry, root = served_logs
    policy, _ = load_policy(str(registry / "cql-base"), catalog=catalog)
    folders = [root / "learned", root / "rule"]
    pooled = OPEData.from_logs(folders)
    parts = [OPEData.from_logs(f) for f in folders]

    def importance_sampling(d: OPEData) -> float:  # W_i = prod_t pi(a_t|s_t) / mu_i(a_t|s_t), mu_i the row's own behaviour
        weights = Weights(d, policy.batch_probabilities(d.features, d.masks))
        return float(np.mean(weights.final * d.success))

    each = [importance_sampling(d) for d in parts]
    assert importance_sampling(pooled) == pytest.approx((each[0] * 200 + each[1] * 200) / 400)
    np.testing.assert_allclose(pooled.propensities, np.concatenate([d.propensities for d in parts]))
