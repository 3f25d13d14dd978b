"""Offline training of a learner on labelled logs (``segue train``).

``TrainConfig`` names the learner (a config from ``policy.learners``, looked up
by name: ``cql`` by default, ``bcq``, ``bc``, ``regressor``), the feature
variant, the number of gradient steps, the seed and the CPU threads; ``train``
fits it on ``Transitions`` and returns the servable policy and the model to
save. d3rlpy's logs go to ``<run_dir>/d3rlpy_logs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from core.threads import resolve_threads, torch_threads
from dialogue.features import FeatureVariant

from .data import Transitions
from .learners import LEARNERS, TRAINABLE, CQLConfig, LearnerConfig, learner_config

__all__ = ["ALGOS", "TrainConfig", "TrainResult", "train", "DEFAULT_THREADS"]

ALGOS = TRAINABLE
#: torch threads for training: one. Segue's networks are small (2 x 256 units); a second thread made CQL
#: no faster on two cores and much slower when another job shares them (BENCHMARKS.md, busy machine).
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class TrainConfig:
    """How to train one policy. Raises ``ConfigError`` for a value out of range.

    learner: the learner's config (``policy.learners``); features: the state features it reads;
    steps: gradient steps (d3rlpy learners; the regressor stops by early stopping); seed; threads:
    torch intra-op threads (0: ``DEFAULT_THREADS``).
    """

    learner: LearnerConfig = field(default_factory=CQLConfig)
    features: FeatureVariant = FeatureVariant.BASE
    steps: int = 15_000
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", FeatureVariant.parse(self.features))
        if not self.learner.trainable:
            raise ConfigError(f"--algo must be one of {', '.join(ALGOS)}, got {self.learner.name!r}")
        if not 1 <= self.steps <= 10_000_000:
            raise ConfigError(f"--steps must be between 1 and 10,000,000, got {self.steps}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        if self.threads < 0:
            raise ConfigError(f"--threads must be >= 0, got {self.threads}")

    @property
    def algo(self) -> str:
        return self.learner.name

    @classmethod
    def make(cls, algo: str, *, features: FeatureVariant | str = FeatureVariant.BASE, steps: int = 15_000, seed: int = 0,
             threads: int = 0, **hyperparameters) -> "TrainConfig":
        """A config for learner ``algo`` with some of its hyperparameters set (e.g. ``gamma``)."""
        if algo not in ALGOS:
            raise ConfigError(f"--algo must be one of {', '.join(ALGOS)}, got {algo!r}")
        return cls(learner_config(algo, **hyperparameters), features, steps, seed, threads)

    def to_dict(self) -> dict:
        return {"algo": self.algo, "features": self.features.value, "steps": self.steps, "seed": self.seed,
                "threads": self.threads, "learner": self.learner.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Rebuild from ``to_dict``; raises ``ConfigError`` for an unknown learner or key."""
        data = dict(data)
        algo = data.pop("algo", "cql")
        if algo not in LEARNERS:
            raise ConfigError(f"unknown learner {algo!r}; learners are {', '.join(LEARNERS)}")
        learner = LEARNERS[algo].from_dict(data.pop("learner", {}))
        unknown = sorted(set(data) - {"features", "steps", "seed", "threads"})
        if unknown:
            raise ConfigError(f"train config: unknown key(s) {', '.join(unknown)}")
        return cls(learner, **data)


@dataclass
class TrainResult:
    policy: object
    model: object
    model_file: str
    seconds: float
    stats: dict


def train(data: Transitions, config: TrainConfig, run_dir: Path, *, name: str,
          progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Fit ``config.learner`` on ``data`` (its observations in the layout of ``config.features``).

    ``progress(done, total)`` reports gradient steps (or boosting iterations). Raises ``ConfigError`` for
    empty data and ``policy.errors.PolicyError`` when training diverges (losses not finite): nothing is returned
    to save.
    """
    if len(data) == 0:
        raise ConfigError("no transitions to train on")
    start = time.perf_counter()
    with torch_threads(resolve_threads(config.threads, default=DEFAULT_THREADS)):
        fitted = config.learner.fit(data, steps=config.steps, seed=config.seed, run_dir=Path(run_dir), name=name,
                                    progress=progress)
    return TrainResult(fitted.policy, fitted.model, config.learner.model_file, time.perf_counter() - start, fitted.stats)
