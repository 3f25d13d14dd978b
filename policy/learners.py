"""The learner registry: one config class per learner, registered by name, as d3rlpy does for its algorithms.

Each learner config is a frozen dataclass of its hyperparameters with a
``name``; it knows how to ``fit`` itself on transitions, ``save`` the model it
made into a policy folder and ``load`` a servable ``Policy`` back. Training,
the registry and the CLI look a learner up by name (``learner_config``) instead
of branching on the algorithm's name.

Registered: ``cql`` (d3rlpy DiscreteCQL, the default; Kumar et al. 2020,
"Conservative Q-Learning for Offline Reinforcement Learning"), ``bcq`` (d3rlpy
DiscreteBCQ; Fujimoto et al. 2019, "Benchmarking Batch Deep RL Algorithms"),
``bc`` (d3rlpy DiscreteBC, a behaviour-cloning sanity baseline), ``regressor``
(the per-turn usefulness regressor, ``policy.regressor``) and ``constant``
(always one prompt: a deliberately bad candidate for checking the gate; it is
made, not trained).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

from core.errors import ConfigError
from core.records import check_keys
from dialogue.features import FeatureLayout
from dialogue.policy import Policy

from .data import Transitions
from .errors import PolicyError

__all__ = ["LearnerConfig", "CQLConfig", "BCQConfig", "BCConfig", "RegressorLearnerConfig", "ConstantConfig",
           "LEARNERS", "TRAINABLE", "learner_config", "register_learner", "Fitted"]

Progress = Callable[[int, int], None]


@dataclass
class Fitted:
    """What ``LearnerConfig.fit`` returns: the servable policy, the model to save, and training statistics."""

    policy: Policy
    model: object
    stats: dict


@dataclass(frozen=True)
class LearnerConfig:
    """Base of every learner config: ``name`` (the registry key), ``model_file`` (its file in a policy folder)."""

    name: ClassVar[str] = ""
    model_file: ClassVar[str] = ""
    trainable: ClassVar[bool] = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LearnerConfig":
        """Rebuild the config from ``to_dict``'s output; raises ``ConfigError`` for an unknown key or bad value."""
        check_keys(cls, data, f"{cls.name} config")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def total_steps(self, steps: int) -> int:
        """Units of progress ``fit`` reports (gradient steps, or boosting iterations)."""
        return steps

    def fit(self, data: Transitions, *, steps: int, seed: int, run_dir: Path, name: str,
            progress: Progress | None = None) -> Fitted:
        raise PolicyError(f"the {self.name} learner is not trained: it is made directly")

    def save(self, model, folder: Path) -> None:
        """Write ``model`` into the (staging) policy folder."""

    def load(self, folder: Path, *, layout: FeatureLayout, name: str, epsilon: float = 0.0) -> Policy:
        raise NotImplementedError


LEARNERS: dict[str, type[LearnerConfig]] = {}


def register_learner(cls: type[LearnerConfig]) -> type[LearnerConfig]:
    """Class decorator: make a learner config known by its ``name``."""
    LEARNERS[cls.name] = cls
    return cls


def learner_config(name: str, **hyperparameters) -> LearnerConfig:
    """The default config of learner ``name``, with ``hyperparameters`` replaced.

    Raises ``ConfigError`` for an unknown learner or a hyperparameter it does not have.
    """
    cls = LEARNERS.get(name)
    if cls is None:
        raise ConfigError(f"--algo must be one of {', '.join(TRAINABLE)}, got {name!r}")
    known = {f.name for f in fields(cls)}
    for key in hyperparameters:
        if key not in known:
            raise ConfigError(f"--{key.replace('_', '-')} does not apply to the {name} learner "
                              f"(its settings: {', '.join(sorted(known)) or 'none'})")
    return cls(**hyperparameters)


# ---------------------------------------------------------------- d3rlpy learners
@dataclass(frozen=True)
class _D3rlpyConfig(LearnerConfig):
    batch_size: int = 256
    learning_rate: float = 3e-4
    hidden: tuple[int, ...] = (256, 256)
    model_file: ClassVar[str] = "model.d3"

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1 << 20:
            raise ConfigError(f"batch size must be between 1 and {1 << 20:,}, got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.learning_rate}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden layer sizes must be >= 1, got {list(self.hidden)}")
        gamma = getattr(self, "gamma", None)
        if gamma is not None and not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"--gamma must be within [0, 1], got {gamma}")

    def d3rlpy_config(self, d3rlpy, encoder):
        raise NotImplementedError

    def fit(self, data: Transitions, *, steps: int, seed: int, run_dir: Path, name: str,
            progress: Progress | None = None) -> Fitted:
        from .d3rlpy_support import enable_masking, import_d3rlpy, mdp_dataset
        from .learned import QPolicy

        d3rlpy = import_d3rlpy()
        d3rlpy.seed(seed)
        dataset = mdp_dataset(data, with_mask=True)
        encoder = d3rlpy.models.VectorEncoderFactory(hidden_units=list(self.hidden))
        algo = self.d3rlpy_config(d3rlpy, encoder).create(device="cpu:0")
        algo.build_with_dataset(dataset)
        enable_masking(algo)
        epochs = max(1, min(10, steps // 1000))  # up to ten epochs (the loss curve's points) of at least 1,000 steps
        per_epoch = -(-steps // epochs)  # so that epochs x per_epoch is steps, or at most epochs - 1 more
        losses: list[dict] = []

        def on_epoch(algo_, epoch: int, total_step: int) -> None:
            if progress:
                progress(total_step, epochs * per_epoch)

        try:
            for epoch, metrics in algo.fitter(
                dataset,
                n_steps=epochs * per_epoch,
                n_steps_per_epoch=per_epoch,  # d3rlpy trains 0 steps when n_steps < n_steps_per_epoch (STACK.md)
                experiment_name="fit",
                with_timestamp=False,
                logger_adapter=d3rlpy.logging.FileAdapterFactory(root_dir=str(Path(run_dir) / "d3rlpy_logs")),
                show_progress=False,
                save_interval=epochs + 1,  # no intermediate model files
                callback=None,
                epoch_callback=on_epoch,
            ):
                values = {k: float(v) for k, v in metrics.items()}
                bad = sorted(k for k, v in values.items() if not math.isfinite(v))
                if bad:
                    raise PolicyError(f"training {name} diverged: {', '.join(bad)} not finite in epoch {epoch}; "
                                      "no policy was saved (check the logs' rewards with `segue logs validate`)")
                losses.append({"epoch": epoch, **values})
        except (ValueError, RuntimeError, FloatingPointError) as exc:  # torch or d3rlpy on values that blow up
            if isinstance(exc, PolicyError):
                raise
            first = (str(exc).splitlines() or [""])[0][:200]
            raise PolicyError(f"training {name} diverged ({type(exc).__name__}: {first}); no policy "
                              "was saved (check the logs' features and rewards with `segue logs validate`)") from None
        return Fitted(QPolicy(algo, name=name), algo, {"steps": epochs * per_epoch, "epochs": losses})

    def save(self, model, folder: Path) -> None:
        model.save(str(Path(folder) / self.model_file))

    def load(self, folder: Path, *, layout: FeatureLayout, name: str, epsilon: float = 0.0) -> Policy:
        from .d3rlpy_support import enable_masking, import_d3rlpy
        from .learned import QPolicy

        d3rlpy = import_d3rlpy()
        algo = d3rlpy.load_learnable(str(Path(folder) / self.model_file), device="cpu:0")
        enable_masking(algo)
        return QPolicy(algo, name=name, epsilon=epsilon)


@register_learner
@dataclass(frozen=True)
class CQLConfig(_D3rlpyConfig):
    """d3rlpy DiscreteCQL with masked targets and a masked conservative term (``policy.d3rlpy_support``)."""

    gamma: float = 0.9              # horizon ~10 prompts: about twice a typical conversation
    target_update_interval: int = 1000
    alpha: float = 0.1              # weight of the conservative term (1.0 made CQL copy the logging policy's favourite)
    name: ClassVar[str] = "cql"

    def d3rlpy_config(self, d3rlpy, encoder):
        return d3rlpy.algos.DiscreteCQLConfig(batch_size=self.batch_size, learning_rate=self.learning_rate,
                                              encoder_factory=encoder, gamma=self.gamma, alpha=self.alpha,
                                              target_update_interval=self.target_update_interval)


@register_learner
@dataclass(frozen=True)
class BCQConfig(_D3rlpyConfig):
    """d3rlpy DiscreteBCQ; its behaviour filter is intersected with the valid prompts."""

    gamma: float = 0.9
    target_update_interval: int = 1000
    action_flexibility: float = 0.3  # keep prompts with behaviour prob >= 0.3 x the most likely
    beta: float = 0.5                # imitation logits regularizer
    name: ClassVar[str] = "bcq"

    def d3rlpy_config(self, d3rlpy, encoder):
        return d3rlpy.algos.DiscreteBCQConfig(batch_size=self.batch_size, learning_rate=self.learning_rate,
                                              encoder_factory=encoder, gamma=self.gamma,
                                              action_flexibility=self.action_flexibility, beta=self.beta,
                                              target_update_interval=self.target_update_interval)


@register_learner
@dataclass(frozen=True)
class BCConfig(_D3rlpyConfig):
    """d3rlpy DiscreteBC: imitates the logging policy (a sanity baseline: it should match the rule policy)."""

    name: ClassVar[str] = "bc"

    def d3rlpy_config(self, d3rlpy, encoder):
        return d3rlpy.algos.DiscreteBCConfig(batch_size=self.batch_size, learning_rate=self.learning_rate,
                                             encoder_factory=encoder)


# ---------------------------------------------------------------- the regressor
@register_learner
@dataclass(frozen=True)
class RegressorLearnerConfig(LearnerConfig):
    """Gradient-boosted trees predicting a prompt's usefulness label; serves the valid prompt predicted best."""

    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    name: ClassVar[str] = "regressor"
    model_file: ClassVar[str] = "model.pkl"

    def __post_init__(self) -> None:
        if not 1 <= self.max_iter <= 100_000:
            raise ConfigError(f"regressor max_iter must be between 1 and 100,000, got {self.max_iter}")

    def total_steps(self, steps: int) -> int:
        return self.max_iter

    def fit(self, data: Transitions, *, steps: int, seed: int, run_dir: Path, name: str,
            progress: Progress | None = None) -> Fitted:
        from .learned import RegressorPolicy
        from .regressor import ActionFeatures, RegressorConfig, fit_regressor

        features = ActionFeatures(data.feature_names)
        rows = features.rows(data.observations, data.actions)
        settings = RegressorConfig(max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                                   min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization, seed=seed)
        model = fit_regressor(rows, data.rewards, settings, progress)
        return Fitted(RegressorPolicy(model, features, name=name), model,
                      {"iterations": int(model.n_iter_), "train_rows": int(len(rows))})

    def save(self, model, folder: Path) -> None:
        with open(Path(folder) / self.model_file, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, folder: Path, *, layout: FeatureLayout, name: str, epsilon: float = 0.0) -> Policy:
        from .learned import RegressorPolicy
        from .regressor import ActionFeatures

        try:
            with open(Path(folder) / self.model_file, "rb") as handle:
                model = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise PolicyError(f"policy {folder}: its model file {self.model_file} cannot be read ({exc})") from None
        return RegressorPolicy(model, ActionFeatures(layout.names), name=name, epsilon=epsilon)


# ---------------------------------------------------------------- constant
@register_learner
@dataclass(frozen=True)
class ConstantConfig(LearnerConfig):
    """Always ``prompt`` when it is valid (else the first valid prompt): the gate must refuse it."""

    prompt: str = "play_sample"
    name: ClassVar[str] = "constant"
    trainable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        from dialogue.prompts import PROMPTS

        ids = [p.id.value for p in PROMPTS]
        if self.prompt not in ids:
            raise PolicyError(f"unknown prompt {self.prompt!r}; prompts are {', '.join(ids)}")

    def load(self, folder: Path, *, layout: FeatureLayout, name: str, epsilon: float = 0.0) -> Policy:
        from dialogue.prompts import prompt_index

        from .base import ConstantPolicy

        return ConstantPolicy(prompt_index(self.prompt), name=name)


TRAINABLE = tuple(name for name, cls in LEARNERS.items() if cls.trainable)

