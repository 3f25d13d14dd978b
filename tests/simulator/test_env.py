import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import simulator
from dialogue.prompts import N_PROMPTS, prompt_index
from simulator import ENV_ID, MusicUserEnv, SimulatorConfig


@pytest.fixture(scope="module")
def env(catalog):
    return MusicUserEnv(catalog=catalog)


@pytest.mark.parametrize("features", ["base", "history"])
def test_check_env(catalog, features):
    check_env(MusicUserEnv(catalog=catalog, features=features), skip_render_check=True)


def test_registered():
    made = gym.make(ENV_ID)
    obs, info = made.reset(seed=3)
    assert obs.shape == made.observation_space.shape and info["action_mask"].shape == (N_PROMPTS,)
    made.close()
    assert simulator.ENV_ID == "segue/MusicUser-v0"


def _rollout(env, seed, policy_seed):
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed)
    trace = [obs.copy()]
    while True:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((action, obs.copy(), reward, str(info["prompt"]), tuple(map(str, info["user_acts"])), info["sentiment"]))
        if terminated or truncated:
            trace.append((info["success"], info["abandoned"], tuple(info["usefulness"]), info["played_track"]))
            return trace


def _equal(a, b):
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_seeded_determinism(catalog):
    one, two = MusicUserEnv(catalog=catalog, features="history"), MusicUserEnv(catalog=catalog, features="history")
    for seed in range(12):
        a, b = _rollout(one, seed, seed), _rollout(two, seed, seed)
        assert len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    different = [_rollout(one, s, 0)[0] for s in (100, 101)]
    assert not np.array_equal(different[0], different[1])


def test_reward_is_usefulness_at_the_end(env):
    for seed in range(30):
        rng = np.random.default_rng(seed)
        obs, info = env.reset(seed=seed)
        rewards = []
        while True:
            obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            rewards.append(reward)
            if terminated or truncated:
                break
        assert all(r == 0 for r in rewards[:-1])
        assert rewards[-1] == sum(info["usefulness"]) and len(info["usefulness"]) == info["n_prompts"] == len(rewards)
        assert info["success"] == (info["played_track"] is not None)
        if not info["success"]:
            assert sum(info["usefulness"]) == 0


def test_invalid_prompt_is_a_wasted_turn(env):
    seed = 0
    obs, info = env.reset(seed=seed)
    while len(info["user_acts"]) != 1:  # find a plain "help me find music" opening
        seed += 1
        obs, info = env.reset(seed=seed)
    invalid = int(np.flatnonzero(~info["action_mask"])[0])  # nothing known yet: no station
    assert invalid == prompt_index("offer_station")
    obs, reward, terminated, truncated, info = env.step(invalid)
    assert info["valid_action"] is False and [a.act.value for a in info["true_acts"]] in (["help"], ["stop"])
    with pytest.raises(gym.error.InvalidAction):
        env.step(N_PROMPTS)


def test_step_after_the_end_needs_a_reset(env):
    env.reset(seed=1)
    while True:
        *_, terminated, truncated, info = env.step(prompt_index("play_sample"))
        if terminated or truncated:
            break
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_truncation_at_max_turns(catalog):
    env = MusicUserEnv(catalog=catalog, config=SimulatorConfig(max_turns=2))
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        truncated = terminated = False
        steps = 0
        while not (terminated or truncated):
            _, _, terminated, truncated, info = env.step(prompt_index("ask_mood") if steps == 0 else prompt_index("ask_decade"))
            steps += 1
        assert steps <= 2
        if truncated:
            assert info["success"] is False and info["abandoned"] is False
            return
    pytest.fail("no conversation reached max_turns")


def test_same_user_has_the_same_history(env):
    a = env.population.user(17)
    b = env.population._make(17)
    assert np.array_equal(a.plays, b.plays) and a.persona == b.persona
    assert not np.array_equal(env.population.user(18).plays[:5], a.plays[:5])
