"""Offline training of the learners on labelled logs (``segue train``).

``cql`` (default): d3rlpy DiscreteCQL; ``bcq``: DiscreteBCQ; ``bc``:
DiscreteBC (a behaviour-cloning sanity baseline); ``regressor``: the
per-turn usefulness regressor. All see the same transitions; the d3rlpy
learners see the valid-prompt mask in their observations
(``policy.d3rlpy_support``). d3rlpy's logs go to ``<run>/d3rlpy_logs``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from core.errors import ConfigError

from .d3rlpy_support import enable_masking, import_d3rlpy, mdp_dataset
from .data import Transitions
from .learned import QPolicy, RegressorPolicy
from .regressor import ActionFeatures, RegressorConfig, fit_regressor

__all__ = ["ALGOS", "TrainConfig", "TrainResult", "train"]

ALGOS = ("cql", "bcq", "bc", "regressor")


@dataclass(frozen=True)
class TrainConfig:
    algo: str = "cql"
    features: str = "base"
    steps: int = 15_000
    seed: int = 0
    batch_size: int = 256
    learning_rate: float = 3e-4
    gamma: float = 0.9              # horizon ~10 prompts: about twice a typical conversation
    hidden: tuple[int, ...] = (256, 256)
    target_update_interval: int = 1000
    alpha: float = 0.1              # CQL: weight of the conservative term (1.0 made CQL copy the logging policy's favourite)
    action_flexibility: float = 0.3  # BCQ: keep prompts with behaviour prob >= 0.3 x the most likely
    beta: float = 0.5               # BCQ: imitation logits regularizer
    threads: int = 0                # torch threads; 0: all cores (2 threads measured fastest at batch 256 on 2 cores)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ConfigError(f"--algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.features not in ("base", "history"):
            raise ConfigError(f"--features must be base or history, got {self.features!r}")
        if not 1 <= self.steps <= 10_000_000:
            raise ConfigError(f"--steps must be between 1 and 10,000,000, got {self.steps}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"--gamma must be within [0, 1], got {self.gamma}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return data


@dataclass
class TrainResult:
    policy: object
    model: object
    model_file: str
    seconds: float
    stats: dict


def _d3rlpy_algo(config: TrainConfig):
    d3rlpy = import_d3rlpy()
    encoder = d3rlpy.models.VectorEncoderFactory(hidden_units=list(config.hidden))
    common = dict(batch_size=config.batch_size, learning_rate=config.learning_rate, encoder_factory=encoder)
    if config.algo == "cql":
        cfg = d3rlpy.algos.DiscreteCQLConfig(**common, gamma=config.gamma, alpha=config.alpha,
                                             target_update_interval=config.target_update_interval)
    elif config.algo == "bcq":
        cfg = d3rlpy.algos.DiscreteBCQConfig(**common, gamma=config.gamma, action_flexibility=config.action_flexibility,
                                             beta=config.beta, target_update_interval=config.target_update_interval)
    else:
        cfg = d3rlpy.algos.DiscreteBCConfig(**common)
    return cfg.create(device="cpu:0")


def train(
    data: Transitions,
    config: TrainConfig,
    run_dir: Path,
    *,
    name: str,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train one learner; d3rlpy writes its logs under ``run_dir``."""
    if len(data) == 0:
        raise ConfigError("no transitions to train on")
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    try:
        if config.algo == "regressor":
            features = ActionFeatures(data.feature_names)
            rows = features.rows(data.observations, data.actions)
            model = fit_regressor(rows, data.rewards, replace(config.regressor, seed=config.seed), progress)
            policy = RegressorPolicy(model, features, name=name)
            stats = {"iterations": int(model.n_iter_), "train_rows": int(len(rows))}
            return TrainResult(policy, model, "model.pkl", time.perf_counter() - start, stats)
        d3rlpy = import_d3rlpy()
        d3rlpy.seed(config.seed)
        dataset = mdp_dataset(data, with_mask=True)
        algo = _d3rlpy_algo(config)
        algo.build_with_dataset(dataset)
        enable_masking(algo)
        per_epoch = max(1, min(config.steps, max(1000, config.steps // 10)))
        epochs = -(-config.steps // per_epoch)
        losses: list[dict] = []

        def on_epoch(algo_, epoch: int, total_step: int) -> None:
            if progress:
                progress(total_step, epochs * per_epoch)

        for epoch, metrics in algo.fitter(
            dataset,
            n_steps=epochs * per_epoch,
            n_steps_per_epoch=per_epoch,
            experiment_name="fit",
            with_timestamp=False,
            logger_adapter=d3rlpy.logging.FileAdapterFactory(root_dir=str(Path(run_dir) / "d3rlpy_logs")),
            show_progress=False,
            save_interval=epochs + 1,  # no intermediate model files
            callback=None,
            epoch_callback=on_epoch,
        ):
            losses.append({"epoch": epoch, **{k: float(v) for k, v in metrics.items()}})
        policy = QPolicy(algo, name=name)
        stats = {"steps": epochs * per_epoch, "epochs": losses}
        return TrainResult(policy, algo, "model.d3", time.perf_counter() - start, stats)
    finally:
        torch.set_num_threads(threads)
