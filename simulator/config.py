"""Simulator settings: the world's fixed parameters and the personas."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from core.errors import ConfigError

__all__ = ["SimulatorConfig", "Persona", "PERSONAS"]


@dataclass(frozen=True)
class Persona:
    """How a kind of user behaves (see README, "How the simulator behaves")."""

    name: str
    patience_median: float      # prompts the user tolerates, before costs, median
    patience_sigma: float       # log-normal spread of the session patience
    accept_match: float         # P(accept a sample that meets every goal slot), before taste
    accept_near: float          # P(accept a sample that misses exactly one goal slot)
    station_accept: float       # P(accept a station whose seed meets the goal's broad slots)
    lead_rate: float            # P(taking the lead instead of answering), per turn
    opening_lead: float         # P(stating a preference in the opening request)
    reject_cost: float          # extra patience a rejected sample costs
    dont_care_cost: float       # extra patience a prompt about an irrelevant slot costs
    knows_names: float          # P(can name a sub-genre they want, instead of its broad genre)
    hint_rate: float = 0.3      # P(saying what was wrong with a rejected sample or station)
    playfulness: tuple[float, float] = (1.0, 1.0)  # per-user factor on accept_match, uniform in this range


PERSONAS: dict[str, Persona] = {
    "decisive": Persona("decisive", 5.0, 0.35, 0.85, 0.12, 0.65, 0.12, 0.35, 1.5, 0.6, 0.6),
    "explorer": Persona("explorer", 22.0, 0.75, 0.30, 0.05, 0.25, 0.05, 0.15, 0.15, 0.3, 0.8, playfulness=(0.25, 1.0)),
}


@dataclass(frozen=True)
class SimulatorConfig:
    """The simulated world. ``population_seed`` fixes who the users are;
    an episode's seed only picks which user comes and what they want now."""

    n_users: int = 10_000
    population_seed: int = 2021
    explorer_share: float = 0.15
    history_goal_share: float = 0.75
    nlu_error_rate: float = 0.08
    max_turns: int = 100

    def __post_init__(self) -> None:
        if self.n_users < 1:
            raise ConfigError(f"n_users must be >= 1, got {self.n_users}")
        for name in ("explorer_share", "history_goal_share", "nlu_error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be within [0, 1], got {value}")
        if not 1 <= self.max_turns <= 1000:
            raise ConfigError(f"max_turns must be within [1, 1000], got {self.max_turns}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SimulatorConfig":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown simulator setting(s): {', '.join(unknown)}")
        return cls(**data)
