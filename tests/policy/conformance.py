"""A conformance tester every policy passes (as d3rlpy's ``algo_tester``)."""

from __future__ import annotations

import numpy as np

from dialogue.prompts import N_PROMPTS
from policy.base import Policy, decide
from simulator import MusicUserEnv


def collect_states(env: MusicUserEnv, n_conversations: int = 40, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """States and masks visited by a uniformly random policy."""
    rng = np.random.default_rng(seed)
    states = []
    for episode in range(n_conversations):
        obs, info = env.reset(seed=seed * 1000 + episode)
        while True:
            states.append((obs, info["action_mask"].copy()))
            obs, _, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            if terminated or truncated:
                break
    return states


def check_policy(policy: Policy, states: list[tuple[np.ndarray, np.ndarray]], *, greedy: bool) -> None:
    assert isinstance(policy, Policy) and isinstance(policy.name, str) and policy.name
    for features, mask in states:
        probs = policy.probabilities(features, mask)
        assert probs.shape == (N_PROMPTS,)
        assert np.all(probs >= 0) and abs(probs.sum() - 1.0) < 1e-9
        assert np.all(probs[~mask] == 0), "mass on a masked prompt"
        if greedy:
            assert np.count_nonzero(probs) == 1
        else:
            assert np.all(probs[mask] > 0), "a valid prompt has no probability"
        # the same seed gives the same decisions; the reported probability is the policy's
        a = [decide(policy, features, mask, np.random.default_rng(9)) for _ in range(2)]
        assert a[0] == a[1] and mask[a[0].prompt] and a[0].probability == probs[a[0].prompt]
    # the sampled frequencies follow the probabilities
    features, mask = states[0]
    probs = policy.probabilities(features, mask)
    rng = np.random.default_rng(1)
    draws = np.bincount([decide(policy, features, mask, rng).prompt for _ in range(4000)], minlength=N_PROMPTS) / 4000
    assert np.abs(draws - probs).max() < 0.03
