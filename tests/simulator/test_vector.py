import gymnasium as gym
import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.features import FeatureVariant
from logs.writer import conversations_table
from policy.rule import RandomizedPolicy, RuleBasedPolicy
from policy.serving import BaseFeatures
from simulator import MusicUserEnv
from simulator.rollout import run_conversation, run_conversations
from simulator.vector import MusicUserVectorEnv


def _random_actions(rng, masks):
    return np.array([int(rng.choice(np.flatnonzero(m))) for m in masks])


def test_vector_env_steps_like_the_single_env_on_the_same_seeds(catalog):
    """Three sub-envs and three single envs, the same seeds and actions: the same observations, rewards,
    end flags and infos, through autoresets (gymnasium's next-step mode)."""
    venv = MusicUserVectorEnv(3, catalog=catalog, features="history")
    singles = [MusicUserEnv(catalog=catalog, features="history", population=venv.population) for _ in range(3)]
    assert venv.observation_space.shape == (3, venv.single_observation_space.shape[0])
    obs, info = venv.reset(seed=[11, 12, 13])
    single_obs = [env.reset(seed=s) for env, s in zip(singles, (11, 12, 13))]
    assert np.array_equal(obs, np.stack([o for o, _ in single_obs]))
    assert info["user_id"].tolist() == [i["user_id"] for _, i in single_obs] and info["_user_id"].all()
    rng = np.random.default_rng(0)
    ended = np.zeros(3, dtype=bool)
    episodes = 0
    for _ in range(60):
        actions = _random_actions(rng, venv.action_masks())
        obs, rewards, terminated, truncated, info = venv.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:  # autoreset: the single env is reset without a seed, as the vector env does
                o, _ = env.reset()
                r, term, trunc = 0.0, False, False
            else:
                o, r, term, trunc, inf = env.step(int(actions[i]))
                assert str(info["prompt"][i]) == str(inf["prompt"]) and info["sentiment"][i] == inf["sentiment"]
                if term or trunc:
                    episodes += 1
                    assert info["usefulness"][i] == inf["usefulness"] and info["success"][i] == inf["success"]
            assert np.array_equal(obs[i], o) and rewards[i] == r and terminated[i] == term and truncated[i] == trunc
            ended[i] = term or trunc
    assert episodes >= 5


def test_run_conversations_gives_the_single_env_records(catalog):
    """The rollouts of collection: every conversation of the vector loop equals ``run_conversation`` with its
    seed and generator, byte for byte in the log table, whatever the number of sub-envs."""
    env = MusicUserEnv(catalog=catalog, features="history")
    layout = env.featurizer.layout
    policy = BaseFeatures(RandomizedPolicy(RuleBasedPolicy(layout.base()), exploration=0.3), layout.n_base)
    seeds = [1000 + 7 * j for j in range(40)]
    want = [run_conversation(env, policy, FeatureVariant.HISTORY, seed=s, rng=np.random.default_rng([s, 1])) for s in seeds]
    want_table = conversations_table(want, n_base=layout.n_base, n_history=layout.n_history, ids=range(40))
    for slots in (1, 6, 64):
        venv = MusicUserVectorEnv(slots, catalog=catalog, features="history", population=env.population, autoreset=False)
        ended = []
        got = run_conversations(venv, policy, FeatureVariant.HISTORY, seeds=seeds,
                                rngs=[np.random.default_rng([s, 1]) for s in seeds], on_record=lambda j, r: ended.append(j))
        assert sorted(ended) == list(range(40))
        table = conversations_table(got, n_base=layout.n_base, n_history=layout.n_history, ids=range(40))
        assert table.equals(want_table), slots


def test_vector_env_errors(catalog):
    with pytest.raises(ConfigError, match="num_envs must be between 1 and 65,536, got 0"):
        MusicUserVectorEnv(0, catalog=catalog)
    venv = MusicUserVectorEnv(2, catalog=catalog)
    with pytest.raises(gym.error.ResetNeeded):
        venv.step(np.zeros(2, dtype=np.int64))
    venv.reset(seed=1)
    with pytest.raises(gym.error.InvalidAction, match="shape"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ConfigError, match="reset_mask must have shape"):
        venv.reset(options={"reset_mask": np.ones(3, bool)})
    with pytest.raises(ConfigError, match="autoreset=False"):
        run_conversations(venv, None, FeatureVariant.BASE, seeds=[1], rngs=[np.random.default_rng(1)])
