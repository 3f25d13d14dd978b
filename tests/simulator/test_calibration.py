"""The simulator's calibration (README, "How the simulator behaves").

Figures from seed 003: about four prompts per conversation (3 to 6) under
the randomized logging policy, a long tail, and a rule-based success rate
between 40% and 70%. Plus the properties later issues depend on: prompts
differ in usefulness by state and by user, and listening history carries
information about the session goal.
"""

import numpy as np
import pytest

from dialogue.features import Featurizer
from dialogue.prompts import PROMPTS
from logs.collect import CollectionSettings, simulate_part
from logs.summary import summarize_table
from policy import RuleBasedPolicy, decide
from simulator import MusicUserEnv


@pytest.fixture(scope="module")
def logged(catalog):
    return simulate_part(CollectionSettings(conversations=3000, seed=11, part_size=3000), 0)


def test_logging_policy_calibration(logged):
    summary = summarize_table(logged)
    assert summary["conversations"] == 3000
    assert 3.0 <= summary["mean_prompts"] <= 6.0
    assert summary["prompts_percentiles"]["50"] <= 5
    assert summary["max_prompts"] > 30  # explorers keep going
    assert summary["personas"]["explorer"]["mean_prompts"] > 2 * summary["personas"]["decisive"]["mean_prompts"]
    assert 0.3 <= summary["success_rate"] <= 0.7
    assert all(share > 0.02 for share in summary["prompt_share"].values())  # every prompt is explored


def test_rule_based_success_is_in_range(catalog):
    env = MusicUserEnv(catalog=catalog)
    rule = RuleBasedPolicy(env.featurizer.layout)
    rng = np.random.default_rng(0)
    successes = []
    for seed in range(1500):
        obs, info = env.reset(seed=10_000 + seed)
        while True:
            obs, _, terminated, truncated, info = env.step(decide(rule, obs, info["action_mask"], rng).prompt)
            if terminated or truncated:
                successes.append(info["success"])
                break
    assert 0.40 <= np.mean(successes) <= 0.70


def _rates(table, column_filter):
    prompts = np.array(table["prompt"].to_pylist())
    reward = table["reward"].to_numpy(zero_copy_only=False)
    keep = column_filter
    return {p.id.value: float(reward[keep & (prompts == p.id.value)].mean()) for p in PROMPTS if (keep & (prompts == p.id.value)).sum() > 30}


def test_prompts_differ_in_usefulness_by_state_and_user(logged, catalog):
    names = Featurizer(catalog.genre_names, "base").layout.names
    features = np.stack(logged["features"].to_numpy(zero_copy_only=False))
    everyone = np.ones(logged.num_rows, dtype=bool)
    overall = _rates(logged, everyone)
    assert overall["ask_energy"] > 2 * overall["ask_decade"]
    assert overall["play_sample"] > 5 * overall["ask_mood"]
    # state: suggesting an artist pays off more once something is known about the goal
    known = features[:, names.index("known_slots")] > 0
    assert _rates(logged, known)["suggest_artist"] > 1.3 * _rates(logged, ~known)["suggest_artist"]
    # user: decisive users accept samples far more readily; explorers take genre suggestions more
    persona = np.array(logged["persona"].to_pylist())
    explorer, decisive = _rates(logged, persona == "explorer"), _rates(logged, persona == "decisive")
    assert decisive["play_sample"] > explorer["play_sample"] + 0.2
    assert explorer["suggest_genres"] > decisive["suggest_genres"] + 0.1


def test_history_carries_information_about_the_goal(catalog):
    env = MusicUserEnv(catalog=catalog, features="history")
    match = {True: [], False: []}
    for seed in range(1500):
        env.reset(seed=seed)
        user = env._user
        goal_genre = catalog.primary_genre[user.goal.anchor]
        match[user.goal.from_history].append(goal_genre == np.argmax(user.profile.genre_share))
    from_history, from_context = np.mean(match[True]), np.mean(match[False])
    assert len(match[True]) > 2 * len(match[False])  # most goals come from the history
    assert from_history > 0.6 and from_history > from_context + 0.15
