"""Data guardrails: is a new round of logs fit to learn from and to judge policies on?

Before ``segue loop`` trains on a round or estimates policies on it, the
round's logs must:

- ``schema``: read and validate (``logs.validate``, every part, every column);
- ``propensities``: every logged propensity at least ``min_propensity`` (the
  randomized share keeps each valid prompt at ``epsilon / |valid|``);
- ``success``, ``prompts``, ``usefulness``: lie within bands learnt from the
  earlier accepted rounds served by the same policy: the reference mean
  +- (``tolerance`` + ``z`` standard errors of the difference);
- ``prompt_mix``: the total variation distance between its prompt mix and the
  reference's at most ``mix_tolerance`` plus ``z`` times its sampling spread.

A round served by a policy with no earlier round (the first round; a policy
just rolled out is compared with its canary logs) is checked for schema,
propensities and plain sanity (a success rate strictly between 0 and 1).
A round that fails a guardrail is quarantined: never trained on, never the
evidence of a gate decision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from core.errors import ConfigError
from core.records import check_keys
from dialogue.prompts import PROMPTS

from .errors import LogValidationError
from .store import Folders, read_logs

__all__ = ["GuardrailSettings", "RoundFigures", "Guardrail", "round_figures", "check_round"]

_PROMPT_IDS = tuple(p.id.value for p in PROMPTS)


@dataclass(frozen=True)
class GuardrailSettings:
    """Tolerances of the data guardrails (module docstring). Raises ``ConfigError`` for a negative value."""

    success_tolerance: float = 0.05
    prompts_tolerance: float = 0.75
    usefulness_tolerance: float = 0.5
    mix_tolerance: float = 0.15
    z: float = 4.0
    min_propensity: float = 1e-3

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"guardrail {name} must be a number >= 0, got {value}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GuardrailSettings":
        check_keys(cls, data, "guardrail settings")
        return cls(**data)


@dataclass(frozen=True)
class RoundFigures:
    """What the guardrails compare: per-conversation means and variances, the prompt mix, the least propensity."""

    conversations: int
    turns: int
    success_rate: float
    mean_prompts: float
    prompts_var: float
    usefulness: float
    usefulness_var: float
    prompt_share: dict[str, float]
    min_propensity: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of_table(cls, table: pa.Table) -> "RoundFigures":
        turn = table["turn"].to_numpy()
        first = turn == 0
        conv = np.cumsum(first) - 1
        n = int(first.sum())
        success = table["success"].to_numpy(zero_copy_only=False)[first].astype(np.float64)
        prompts = table["n_prompts"].to_numpy()[first].astype(np.float64)
        useful = np.bincount(conv, weights=table["reward"].to_numpy(zero_copy_only=False).astype(np.float64), minlength=n)
        prompt = np.asarray(table["prompt"].to_pylist(), dtype=object)
        share = {p: float(np.mean(prompt == p)) for p in _PROMPT_IDS}
        return cls(n, table.num_rows, float(success.mean()), float(prompts.mean()), float(prompts.var(ddof=1)) if n > 1 else 0.0,
                   float(useful.mean()), float(useful.var(ddof=1)) if n > 1 else 0.0, share,
                   float(table["propensity"].to_numpy().min()))

    @classmethod
    def pooled(cls, parts: list["RoundFigures"]) -> "RoundFigures":
        """Figures of several rounds read together (weighted by conversations; variances pooled with the spread
        of the means)."""
        n = sum(p.conversations for p in parts)
        t = sum(p.turns for p in parts)

        def mean(attr):
            return sum(getattr(p, attr) * p.conversations for p in parts) / n

        def var(attr, var_attr):
            m = mean(attr)
            return sum((getattr(p, var_attr) + (getattr(p, attr) - m) ** 2) * p.conversations for p in parts) / n

        share = {k: sum(p.prompt_share[k] * p.turns for p in parts) / t for k in _PROMPT_IDS}
        return cls(n, t, mean("success_rate"), mean("mean_prompts"), var("mean_prompts", "prompts_var"),
                   mean("usefulness"), var("usefulness", "usefulness_var"), share, min(p.min_propensity for p in parts))


@dataclass(frozen=True)
class Guardrail:
    """One guardrail, whether it held, and the numbers behind it."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def round_figures(folders: Folders) -> RoundFigures:
    """Read (and so validate) the folders; raises ``LogValidationError`` as ``logs.read_logs`` does."""
    return RoundFigures.of_table(read_logs(folders))


def check_round(folders: Folders, reference: RoundFigures | None, settings: GuardrailSettings | None = None
                ) -> tuple[list[Guardrail], RoundFigures | None]:
    """The guardrails of a new round (module docstring) against ``reference`` (the earlier accepted rounds of the
    same serving policy, pooled; None: no band yet). Returns the guardrails and the round's figures (None when
    the logs do not read)."""
    settings = settings or GuardrailSettings()
    try:
        figures = round_figures(folders)
    except LogValidationError as exc:
        return [Guardrail("schema", False, str(exc))], None
    checks = [Guardrail("schema", True, f"{figures.conversations:,} conversations, {figures.turns:,} turns validate")]
    checks.append(Guardrail("propensities", figures.min_propensity >= settings.min_propensity,
                            f"least logged propensity {figures.min_propensity:.4g} (floor {settings.min_propensity:g})"))
    if reference is None:
        ok = 0 < figures.success_rate < 1
        checks.append(Guardrail("success", ok, f"success {figures.success_rate:.3f}; no earlier round of this policy: "
                                               "only checked to be strictly between 0 and 1"))
        return checks, figures
    n, m = figures.conversations, reference.conversations
    z = settings.z

    def band(name: str, new: float, ref: float, var_new: float, var_ref: float, tolerance: float, unit: str) -> Guardrail:
        se = math.sqrt(var_new / n + var_ref / m)
        width = tolerance + z * se
        return Guardrail(name, abs(new - ref) <= width, f"{unit} {new:.3f} vs {ref:.3f} in the earlier rounds "
                         f"({new - ref:+.3f}; band +-{width:.3f} = {tolerance:g} + {z:g} standard errors)")

    ps, rs = figures.success_rate, reference.success_rate
    checks.append(band("success", ps, rs, ps * (1 - ps), rs * (1 - rs), settings.success_tolerance, "success rate"))
    checks.append(band("prompts", figures.mean_prompts, reference.mean_prompts, figures.prompts_var, reference.prompts_var,
                       settings.prompts_tolerance, "prompts per conversation"))
    checks.append(band("usefulness", figures.usefulness, reference.usefulness, figures.usefulness_var,
                       reference.usefulness_var, settings.usefulness_tolerance, "useful prompts per conversation"))
    new_share = np.array([figures.prompt_share[k] for k in _PROMPT_IDS])
    ref_share = np.array([reference.prompt_share[k] for k in _PROMPT_IDS])
    tv = 0.5 * float(np.abs(new_share - ref_share).sum())
    pooled = (new_share * figures.turns + ref_share * reference.turns) / (figures.turns + reference.turns)
    spread = 0.5 * float(np.sqrt(pooled * (1 - pooled) * (1 / figures.turns + 1 / reference.turns)).sum())
    limit = settings.mix_tolerance + z * spread
    checks.append(Guardrail("prompt_mix", tv <= limit, f"total variation distance {tv:.3f} from the earlier rounds' prompt "
                                                       f"mix (limit {limit:.3f})"))
    return checks, figures
