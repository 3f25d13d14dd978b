"""``MusicUserVectorEnv``: many simulated conversations stepped together (gymnasium's vector-env API).

``num_envs`` sub-conversations share the catalog, the population and the
scorer's catalog-wide precomputations (each keeps its own per-user caches,
``BaselineScorer.session``); observations, rewards and the end flags come
back as arrays over the sub-envs, ``info`` as gymnasium's vector info (each
key an array over the sub-envs, ``"_key"`` marking which have it). A
sub-env stepped or reset with a seed behaves exactly as ``MusicUserEnv``
with that seed: the same user, goal, answers and features, byte for byte
(``tests/simulator/test_vector.py`` checks it on the same seeds).

Autoreset, as gymnasium's default "next step" mode: a sub-env whose episode
ended is reset on the next ``step`` (its action ignored, reward 0). With
``autoreset=False`` (gymnasium 1.1's "disabled" mode) the caller resets ended
sub-envs itself, ``reset(seed=[...], options={"reset_mask": mask})``, which is
how the rollouts give every conversation its own seed; until then an ended (or
never started) sub-env stays idle (its last observation, reward 0,
``terminated`` True). ``infos=False`` skips building the vector info (step and
reset return ``{}``); ``env_infos`` always holds each sub-env's own info dict of
its last step or reset, which is what the rollouts read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from core.errors import ConfigError
from recommender.catalog import Catalog

from .config import SimulatorConfig
from .env import MusicUserEnv
from .population import Population

__all__ = ["MusicUserVectorEnv", "MAX_ENVS"]

MAX_ENVS = 65_536


class MusicUserVectorEnv(VectorEnv):
    """``num_envs`` ``MusicUserEnv`` conversations behind gymnasium's vector API (module docstring).

    Observations float32 (num_envs, n_features); actions int (num_envs,) prompt ids; rewards float64 (num_envs,),
    terminations and truncations bool (num_envs,). The other arguments are ``MusicUserEnv``'s, shared by every
    sub-env. Raises ``ConfigError`` for ``num_envs`` outside 1..``MAX_ENVS``.
    """

    metadata = {"render_modes": [], "autoreset_mode": "next_step"}

    def __init__(self, num_envs: int, *, catalog: Catalog | None = None, config: SimulatorConfig | None = None,
                 features: str = "base", scorer=None, population: Population | None = None, channel=None,
                 autoreset: bool = True, infos: bool = True) -> None:
        if not isinstance(num_envs, (int, np.integer)) or not 1 <= num_envs <= MAX_ENVS:
            raise ConfigError(f"num_envs must be between 1 and {MAX_ENVS:,}, got {num_envs!r}")
        first = MusicUserEnv(catalog=catalog, config=config, features=features, scorer=scorer, population=population, channel=channel)
        session = getattr(first.scorer, "session", None)
        self.envs = [first] + [
            MusicUserEnv(catalog=first.catalog, config=first.config, features=features, population=first.population,
                         scorer=session() if session else first.scorer, channel=channel)
            for _ in range(int(num_envs) - 1)
        ]
        self.num_envs = int(num_envs)
        self.catalog, self.config, self.population = first.catalog, first.config, first.population
        self.featurizer = first.featurizer
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, self.num_envs)
        self.action_space = batch_space(first.action_space, self.num_envs)
        self.autoreset = bool(autoreset)
        self.infos = bool(infos)
        self.env_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        self._obs = np.zeros((self.num_envs, first.featurizer.layout.size), dtype=np.float32)
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self._started = np.zeros(self.num_envs, dtype=bool)

    @classmethod
    def like(cls, env: MusicUserEnv, num_envs: int = 64, *, autoreset: bool = False, infos: bool = False) -> "MusicUserVectorEnv":
        """A vector env of the same world as the single ``env``: its catalog, settings, features, population,
        channel and scorer (each sub-env a ``session`` of it)."""
        return cls(num_envs, catalog=env.catalog, config=env.config, features=env.featurizer.layout.variant,
                   scorer=env.scorer, population=env.population, channel=env.channel, autoreset=autoreset, infos=infos)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset every sub-env, or those in ``options["reset_mask"]`` (bool (num_envs,)).

        ``seed``: None, an int (sub-env i gets ``seed + i``, gymnasium's convention) or a list of num_envs
        seeds (entries of sub-envs not reset are ignored). ``options["user_ids"]``: optional list of user ids.
        Returns (obs float32 (num_envs, n_features), vector info of the reset sub-envs). Raises ``ConfigError``
        for a mask or seed list of the wrong length.
        """
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        mask = np.ones(self.num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_envs,):
            raise ConfigError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ConfigError(f"seed must be an int or a list of {self.num_envs} seeds, got {len(seeds)}")
        user_ids = options.pop("user_ids", None)
        for i in np.flatnonzero(mask):
            sub = {"user_id": user_ids[i]} if user_ids is not None else None
            obs, info = self.envs[i].reset(seed=seeds[i], options=sub)
            self._obs[i] = obs
            self.env_infos[i] = info
            self._ended[i] = False
            self._started[i] = True
        return self._obs.copy(), self._vector_info(np.flatnonzero(mask)) if self.infos else {}

    def step(self, actions):
        """Step every sub-env with its action (int array (num_envs,)); see the module docstring for ended ones.

        Returns (obs (num_envs, n_features) float32, rewards float64 (num_envs,), terminations bool,
        truncations bool, vector info). Raises ``gymnasium.error.ResetNeeded`` before the first reset."""
        import gymnasium as gym

        if not (self._started.all() if self.autoreset else self._started.any()):
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise gym.error.InvalidAction(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        stepped = []
        for i, env in enumerate(self.envs):
            if self._ended[i] or not self._started[i]:
                if not self.autoreset:  # idle until the caller resets it
                    terminated[i] = True
                    continue
                obs, info = env.reset()
                self._ended[i] = False
            else:
                obs, rewards[i], terminated[i], truncated[i], info = env.step(int(actions[i]))
                self._ended[i] = terminated[i] or truncated[i]
            self._obs[i] = obs
            self.env_infos[i] = info
            stepped.append(i)
        return self._obs.copy(), rewards, terminated, truncated, self._vector_info(stepped) if self.infos else {}

    def _vector_info(self, rows) -> dict[str, Any]:
        """gymnasium's vector info: per key, an array over the sub-envs (bool, int64, float64, a stacked ndarray, or
        an object array for anything else) and a ``_key`` mask of the sub-envs that have it."""
        values: dict[str, list[tuple[int, Any]]] = {}
        for i in rows:
            for key, value in self.env_infos[i].items():
                values.setdefault(key, []).append((i, value))
        out: dict[str, Any] = {}
        for key, pairs in values.items():
            items = [v for _, v in pairs]
            if all(isinstance(v, (bool, np.bool_)) for v in items):
                array = np.zeros(self.num_envs, dtype=bool)
            elif all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items):
                array = np.zeros(self.num_envs, dtype=np.int64)
            elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in items):
                array = np.zeros(self.num_envs, dtype=np.float64)
            elif all(isinstance(v, np.ndarray) and v.shape == items[0].shape for v in items):
                array = np.zeros((self.num_envs, *items[0].shape), dtype=items[0].dtype)
            else:
                array = np.full(self.num_envs, None, dtype=object)
            present = np.zeros(self.num_envs, dtype=bool)
            for i, v in pairs:
                array[i] = v
                present[i] = True
            out[key], out["_" + key] = array, present
        return out

    def action_masks(self) -> np.ndarray:
        """Valid prompts of every sub-env now: bool (num_envs, N_PROMPTS)."""
        return np.stack([env.action_masks() for env in self.envs])

    def close_extras(self, **kwargs) -> None:
        for env in getattr(self, "envs", []):
            env.close()
