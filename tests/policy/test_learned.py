"""Learned policies: conformance, save/load round trip, training beats a random policy, registry refusals."""

import json
import shutil

import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS
from evaluation.ab import simulate_policy
from logs import read_logs, to_transitions
from policy import UniformPolicy
from policy.d3rlpy_support import enable_masking, import_d3rlpy, mdp_dataset, observation
from policy.errors import PolicyError
from policy.learned import QPolicy, greedy_with_share
from policy.registry import (
    current_policy,
    list_policies,
    load_policy,
    policy_history,
    read_record,
    resolve,
    save_policy,
    set_current,
)
from policy.train import TrainConfig, train
from simulator import MusicUserEnv
from tests.conftest import probe_states
from tests.policy.conformance import check_policy


@pytest.fixture(scope="module")
def training_logs(training_logs_folder):
    return read_logs(training_logs_folder)


@pytest.fixture(scope="module")
def trained(trained_registry):
    """The session's shared registry (tests/conftest.py): one small policy per learner and feature variant."""
    return trained_registry


@pytest.fixture(scope="module")
def states(catalog):
    """The states the shared registry recorded each policy's as-trained decisions on."""
    return probe_states(catalog)


def _variant_states(states, features):
    n_base = 73
    return [(f if features == "history" else f[:n_base], m) for f, m in states]


@pytest.mark.parametrize("name", ["cql-base", "bcq-base", "bc-base", "regressor-base", "cql-history", "regressor-history"])
def test_every_learned_policy_conforms_and_round_trips(trained, states, catalog, name):
    registry, as_trained = trained
    policy, features = load_policy(name, catalog=catalog, registry=registry)
    variant_states = _variant_states(states, features)
    check_policy(policy, variant_states, greedy=True)
    original = as_trained[name]  # recorded from the policy as it came out of training, before saving
    assert original.shape == (len(variant_states), N_PROMPTS)
    for (f, m), before in zip(variant_states, original):  # the saved and loaded policy decides as the trained one did
        assert np.array_equal(policy.probabilities(f, m), before)
    randomized, _ = load_policy(name, catalog=catalog, registry=registry, epsilon=0.2)
    check_policy(randomized, variant_states, greedy=False)


def test_masks_are_honoured_even_where_the_network_prefers_an_invalid_prompt(trained, states, catalog):
    registry, _ = trained
    policy, _ = load_policy("cql-base", catalog=catalog, registry=registry)
    q = policy.algo.impl._q_func_forwarder
    import torch

    for f, m in _variant_states(states, "base")[:50]:
        with torch.no_grad():
            values = q.compute_expected_q(torch.from_numpy(observation(f, m)[None, :]))[0].numpy()
        best = policy.best(f, m)
        assert m[best] and values[best] == pytest.approx(values[m].max())


def test_masked_targets_never_bootstrap_from_invalid_prompts(training_logs):
    """The double-DQN target picks the best *valid* next prompt, also when an invalid one scores higher."""
    import torch

    d3rlpy = import_d3rlpy()
    data = to_transitions(training_logs.slice(0, 400), features="base")
    algo = d3rlpy.algos.DiscreteCQLConfig(batch_size=32).create(device="cpu:0")
    algo.build_with_dataset(mdp_dataset(data))
    enable_masking(algo)
    impl = algo.impl
    x = torch.from_numpy(observation(data.observations[0], data.masks[0])[None, :])
    with torch.no_grad():
        values = impl._q_func_forwarder.compute_expected_q(x)[0].numpy()
    invalid = np.flatnonzero(~data.masks[0])
    assert invalid.size
    # make an invalid prompt the network's favourite: the masked choice must still be valid
    with torch.no_grad():
        impl._modules.q_funcs[0]._fc.bias[int(invalid[0])] += 1e6
    chosen = int(impl.predict_best_action(x)[0])
    assert chosen != int(invalid[0]) and data.masks[0][chosen]
    assert values.shape == (N_PROMPTS,)

    class Batch:  # compute_target reads only the next observations
        next_observations = x

    target = float(impl.compute_target(Batch)[0, 0])
    with torch.no_grad():
        target_values = impl._targ_q_func_forwarder.compute_expected_q(x)[0].numpy()
    assert target == pytest.approx(float(target_values[chosen]), abs=1e-5)  # bootstraps from the valid choice


def test_a_short_training_run_beats_a_random_policy(trained, catalog):
    registry, _ = trained
    env = MusicUserEnv(catalog=catalog)
    seeds = list(range(70_000, 70_300))
    _, _, random_usefulness, *_ = simulate_policy(env, UniformPolicy(), "base", seeds)
    for name in ("cql-base", "regressor-base"):
        policy, variant = load_policy(name, catalog=catalog, registry=registry)
        _, _, usefulness, *_ = simulate_policy(env, policy, variant, seeds)
        assert usefulness.mean() > random_usefulness.mean() + 0.15, name  # usefulness per conversation


def test_registry_refusals(trained, catalog, tmp_path):
    registry, _ = trained
    copy = tmp_path / "copied"
    shutil.copytree(registry / "cql-base", copy)
    record = json.loads((copy / "policy.json").read_text())
    record["feature_version"] = "base-v0-g9"
    (copy / "policy.json").write_text(json.dumps(record))
    with pytest.raises(PolicyError, match=r"trained with feature version 'base-v0-g9', this Segue builds 'base-v1-g9': retrain"):
        load_policy(str(copy), catalog=catalog)
    record["feature_version"] = "base-v1-g9"
    record["prompt_catalogue_version"] = "0"
    (copy / "policy.json").write_text(json.dumps(record))
    with pytest.raises(PolicyError, match="prompt catalogue version '0'"):
        load_policy(str(copy), catalog=catalog)
    with pytest.raises(PolicyError, match="no policy 'nope'"):
        load_policy("nope", catalog=catalog, registry=registry)
    (copy / "policy.json").write_text("{not json")
    with pytest.raises(PolicyError, match="not a valid policy record"):
        read_record(copy)
    with pytest.raises(PolicyError, match="already holds a policy"):
        save_policy(registry / "cql-base", read_record(registry / "cql-base"), None)
    with pytest.raises(ConfigError, match="--algo must be one of"):
        TrainConfig.make("ppo")


def test_registry_listing_and_current(trained, tmp_path):
    registry = tmp_path / "registry"  # a private copy: the shared registry is read by the other test process meanwhile
    shutil.copytree(trained[0], registry)
    names = [r.name for r in list_policies(registry)]
    assert names == sorted(["cql-base", "bcq-base", "bc-base", "regressor-base", "cql-history", "regressor-history"])
    assert current_policy(registry) == "rule"
    set_current("cql-base", registry=registry, action="promote", reason="test")
    assert current_policy(registry) == "cql-base"
    set_current("rule", registry=registry, action="rollback", reason="test")
    assert current_policy(registry) == "rule"
    assert [h["to"] for h in policy_history(registry)] == ["cql-base", "rule"]
    assert resolve("rule", registry) is None
    with pytest.raises(PolicyError):
        set_current("missing", registry=registry, action="promote", reason="test")


def test_no_files_outside_the_run_directory(trained, tmp_path, monkeypatch, training_logs):
    monkeypatch.chdir(tmp_path)
    data = to_transitions(training_logs.slice(0, 300), features="base")
    run = tmp_path / "run"
    run.mkdir()
    train(data, TrainConfig.make("bc", steps=50), run, name="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (run / "d3rlpy_logs").is_dir()


def test_greedy_with_share():
    mask = np.array([True, False, True] + [False] * (N_PROMPTS - 3))
    probs = greedy_with_share(2, mask, 0.2)
    assert probs[2] == pytest.approx(0.9) and probs[0] == pytest.approx(0.1) and probs.sum() == pytest.approx(1)
    with pytest.raises(ConfigError):
        QPolicy(None, name="x", epsilon=1.5)


def test_compiled_trees_predict_what_sklearn_predicts(trained, training_logs, catalog):
    registry, _ = trained
    for name, variant in (("regressor-base", "base"), ("regressor-history", "history")):
        policy, _ = load_policy(name, catalog=catalog, registry=registry)
        data = to_transitions(training_logs.slice(0, 2000), features=variant)
        rows = policy.action_features.rows(data.observations, data.actions)
        assert np.allclose(policy.trees.predict(rows), policy.model.predict(rows), atol=1e-9)


def test_history_policy_refuses_another_scorer(trained, catalog):
    registry, _ = trained
    with pytest.raises(PolicyError, match="trained with feature version 'history-v1-g9', this Segue builds 'history-v1-g9-emb-0123': "
                                          r"serve it with the baseline scorer \(--scorer baseline\), as it was trained, or train a policy "
                                          "on logs simulated with this scorer"):
        load_policy("cql-history", catalog=catalog, registry=registry, scorer_version="emb-0123")
    load_policy("cql-base", catalog=catalog, registry=registry, scorer_version="emb-0123")  # base features do not use it
