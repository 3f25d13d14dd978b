"""The simulated world: users, their histories and goals, and the gymnasium env."""

from gymnasium.envs.registration import register, registry

from .config import PERSONAS, Persona, SimulatorConfig
from .env import MusicUserEnv
from .goal import SessionGoal, sample_goal
from .histories import population_histories
from .population import Population, SimUser
from .user import SimulatedUser

__all__ = [
    "MusicUserEnv",
    "SimulatorConfig",
    "Persona",
    "PERSONAS",
    "Population",
    "SimUser",
    "SessionGoal",
    "sample_goal",
    "SimulatedUser",
    "population_histories",
    "ENV_ID",
]

ENV_ID = "segue/MusicUser-v0"
if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="simulator.env:MusicUserEnv", max_episode_steps=None)
