import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS, PROMPTS, prompt_index
from evaluation.ab import simulate_policy
from policy import RandomizedPolicy, RuleBasedPolicy, UniformPolicy, masked_softmax
from simulator import MusicUserEnv
from tests.policy.conformance import check_policy, collect_states


@pytest.fixture(scope="module")
def env(catalog):
    return MusicUserEnv(catalog=catalog)


@pytest.fixture(scope="module")
def states(env):
    return collect_states(env)


@pytest.fixture(scope="module")
def rule(env):
    return RuleBasedPolicy(env.featurizer.layout)


def test_rule_based_conforms(rule, states):
    check_policy(rule, states, greedy=True)


@pytest.mark.parametrize("exploration, temperature", [(0.3, 1.0), (0.05, 0.5), (1.0, 1.0)])
def test_randomized_conforms(rule, states, exploration, temperature):
    logging_policy = RandomizedPolicy(rule, exploration=exploration, temperature=temperature)
    check_policy(logging_policy, states, greedy=False)
    for features, mask in states[:50]:
        probs = logging_policy.probabilities(features, mask)
        assert probs[mask].min() >= exploration / mask.sum() - 1e-12  # the exploration floor
        assert int(np.argmax(probs)) == rule.pick(features, mask) or exploration == 1.0


def test_logging_probabilities_are_the_documented_formula(rule, states):
    logging_policy = RandomizedPolicy(rule, exploration=0.3, temperature=1.0)
    features, mask = states[3]
    scores = rule.scores(features, mask)
    soft = np.exp(scores) * mask
    expected = 0.7 * soft / soft.sum() + 0.3 * mask / mask.sum()
    assert np.allclose(logging_policy.probabilities(features, mask), expected)


def test_script_order(env, rule):
    # a plain opening: the script asks the open question, then the genre, then energy, then mood
    seed = 0
    obs, info = env.reset(seed=seed)
    while len(info["user_acts"]) != 1:
        seed += 1
        obs, info = env.reset(seed=seed)
    assert rule.pick(obs, info["action_mask"]) == prompt_index("open")
    asked = []
    while True:
        choice = rule.pick(obs, info["action_mask"])
        asked.append(PROMPTS[choice].id.value)
        obs, _, terminated, truncated, info = env.step(choice)
        if terminated or truncated:
            break
    order = [p for p in ("open", "ask_genre", "ask_energy", "ask_mood") if p in asked]
    assert order == sorted(order, key=asked.index)
    assert "play_sample" not in asked[: len(order)]


def test_rule_beats_a_random_policy(env, rule):
    seeds = list(range(50_000, 50_400))
    rule_success, *_ = simulate_policy(env, rule, "base", seeds)
    random_success, *_ = simulate_policy(env, UniformPolicy(), "base", seeds)
    assert rule_success.mean() > random_success.mean() + 0.05


def test_uniform_policy_conforms(states):
    check_policy(UniformPolicy(), states, greedy=False)


def test_invalid_settings(rule):
    with pytest.raises(ConfigError, match="exploration must be within"):
        RandomizedPolicy(rule, exploration=1.5)
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        RandomizedPolicy(rule, temperature=0)
    with pytest.raises(ConfigError, match="mask is empty"):
        masked_softmax(np.zeros(N_PROMPTS), np.zeros(N_PROMPTS, dtype=bool), 1.0)
