"""The deployment gate: promote a candidate only on high-confidence improvement, with guardrails.

Conditions (all must hold):

1. ``supported``: both policies can be estimated on the logs (no prompt
   the logging policy never tried).
2. ``improvement``: the lower bound of the paired bootstrap interval of
   (candidate - current) on the gate metric, by the gate estimator, on the
   same logs and the same resamples, is above zero.
3. ``no_collapse``: in the simulator the candidate does not ask one prompt
   more than ``max_prompt_share`` of the time.
4. ``simulator_success``: on the same simulated users, the candidate's
   success rate is not below the current policy's (the rule-based baseline
   until a first promotion) by more than ``success_tolerance``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.errors import ConfigError
from core.records import check_keys

from .data import Metric
from .estimators import ESTIMATORS
from .ope import OPEResult
from .results import GateCondition, GateDecision, Truth

__all__ = ["GateSettings", "gate_decision"]


@dataclass(frozen=True)
class GateSettings:
    """The gate's metric and estimator, and its guardrails. Raises ``ConfigError`` for a value out of range."""

    metric: Metric = Metric.USEFULNESS
    estimator: str = "dr"
    max_prompt_share: float = 0.9
    success_tolerance: float = 0.0
    sim_conversations: int = 2_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.parse(self.metric))
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if not 0 < self.max_prompt_share <= 1:
            raise ConfigError(f"--max-prompt-share must be within (0, 1], got {self.max_prompt_share}")
        if not 0 <= self.success_tolerance < 1:
            raise ConfigError(f"--success-tolerance must be within [0, 1), got {self.success_tolerance}")
        if self.sim_conversations < 1:
            raise ConfigError(f"--sim-conversations must be >= 1, got {self.sim_conversations}")

    def to_dict(self) -> dict:
        return {**asdict(self), "metric": self.metric.value}

    @classmethod
    def from_dict(cls, data: dict) -> "GateSettings":
        """Raises ``ConfigError`` for an unknown key or a bad value."""
        check_keys(cls, data, "gate settings")
        return cls(**data)


def gate_decision(candidate: str, current: str, result: OPEResult, simulation: dict[str, Truth],
                  settings: GateSettings) -> GateDecision:
    """Decide; ``simulation`` maps policy -> on-policy figures on the same simulated users (``simulate_truth``).

    Raises ``ConfigError`` when the candidate is the current policy or the simulator figures are missing."""
    if candidate == current:
        raise ConfigError(f"{candidate} is already the current policy: there is nothing to compare it with")
    conditions = []
    entries = result.policies
    unsupported = [p for p in (candidate, current) if not entries[p].supported]
    conditions.append(GateCondition("supported", not unsupported,
                                    "both policies are supported by the logs" if not unsupported else
                                    "; ".join(f"{p}: {entries[p].support.message}" for p in unsupported)))
    improvement = None
    if not unsupported:
        improvement = result.difference(candidate, current, settings.estimator, settings.metric)
        ci = improvement.ci
        level = f"{result.settings.confidence:.0%}"
        if ci is None:
            conditions.append(GateCondition("improvement", False, f"no {level} interval for the {settings.estimator} difference "
                                                                  "(too few resamples defined)"))
        else:
            conditions.append(GateCondition(
                "improvement", ci[0] > 0,
                f"{settings.metric} by {settings.estimator}: {candidate} - {current} = {improvement.difference:+.4f}, "
                f"{level} interval [{ci[0]:+.4f}, {ci[1]:+.4f}]; lower bound {'above' if ci[0] > 0 else 'not above'} zero"))
    else:
        conditions.append(GateCondition("improvement", False, "not estimated: unsupported"))
    sim_c, sim_b = simulation.get(candidate), simulation.get(current)
    if sim_c is None or sim_b is None:
        raise ConfigError("the gate needs simulator figures of both the candidate and the current policy")
    share = sim_c.prompt_share
    top = max(share, key=share.get)
    conditions.append(GateCondition("no_collapse", share[top] <= settings.max_prompt_share,
                                    f"{candidate} asks {top} in {share[top]:.1%} of its prompts in the simulator "
                                    f"(limit {settings.max_prompt_share:.0%})"))
    sc, sb = sim_c.metrics[Metric.SUCCESS_RATE], sim_b.metrics[Metric.SUCCESS_RATE]
    conditions.append(GateCondition("simulator_success", sc >= sb - settings.success_tolerance,
                                    f"simulator success {sc:.3f} for {candidate} vs {sb:.3f} for {current} on the same "
                                    f"{sim_c.conversations:,} simulated users"))
    return GateDecision(candidate, current, tuple(conditions), improvement, settings.to_dict())
