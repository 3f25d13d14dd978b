"""The deployment gate: promote a candidate only on high-confidence improvement, with guardrails.

Conditions (all must hold; the decision names each one with its numbers):

1. ``supported``: both policies can be estimated on the logs (no prompt
   the logging policy never tried, enough effective conversations).
2. ``improvement``: the lower bound of the paired interval of
   (candidate - current) on the gate metric, by the gate estimator, on the
   same logs and the same resamples, is above zero. The interval is the
   ``bound``: the jackknife ``t`` interval of the paired difference (default:
   the interval that covered the truth most often in BENCHMARKS.md), the
   bootstrap ``percentile`` interval (the gate's first bound), ``bca``, or ``hcope``, the bound with a guarantee of
   Thomas et al. 2015 (``evaluation.intervals``: the candidate's lower bound
   minus the current policy's upper bound, each by importance sampling, so the
   estimator plays no part); every condition names the bound it used. The metric is the
   success rate by default: what people feel is whether they got music.
   (Segue's first gate used the sum of usefulness labels, which rewards
   longer conversations: on 50,000 logs it preferred cql-base, 62.3%
   success in 4.73 prompts, to regressor-base, 65.7% in 3.33;
   ``metric="usefulness"`` keeps it available.)
3. ``non_inferior_<metric>`` for each other metric with a margin: the
   candidate is not worse by more than the margin at the same confidence.
   Prompts per conversation (fewer is better): the upper bound of
   (candidate - current) is at most ``prompts_margin``; usefulness and
   success: the lower bound is at least ``-margin``. A margin of None
   switches the condition off.
4. ``no_collapse``: the candidate does not ask one prompt more than
   ``max_prompt_share`` of the time (in the simulator, or, without one, at
   the logged states).
5. ``simulator_success`` (only with ``simulator_guardrails``): on the same
   simulated users, the candidate's success rate is not below the current
   policy's by more than ``success_tolerance``. ``segue loop`` turns it off:
   there the simulator plays the people, and the offline decision must not
   peek at them (the canary does that, online).

Non-inferiority testing with a margin: Wellek, *Testing Statistical
Hypotheses of Equivalence and Noninferiority* (2010); the paired bootstrap
interval is the one of ``evaluation.ope``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.errors import ConfigError
from core.records import check_keys

from .data import Metric
from .estimators import ESTIMATORS
from .ope import OPEResult
from .results import GateCondition, GateDecision, Truth

__all__ = ["GATE_BOUNDS", "GateSettings", "gate_decision"]

#: the intervals the gate may read (``evaluation.ope.OPEResult.difference``)
GATE_BOUNDS = ("percentile", "bca", "t", "hcope")


@dataclass(frozen=True)
class GateSettings:
    """The gate's metric and estimator, its non-inferiority margins and guardrails. Raises ``ConfigError`` for a
    value out of range (named like its CLI option).

    metric: ``success_rate`` (default) or ``usefulness``, the primary metric, more is better; estimator: one of
    ``evaluation.estimators.ESTIMATORS``; bound: the interval of the paired differences, one of ``GATE_BOUNDS``; prompts_margin (prompts per conversation), usefulness_margin (useful
    prompts per conversation), success_margin (share of conversations): non-inferiority margins of the other
    metrics (None: not checked; the primary metric's own margin is ignored); max_prompt_share: the most-asked
    prompt's largest share; simulator_guardrails: check the success rate in the simulator too, with
    ``success_tolerance`` and ``sim_conversations`` simulated users.
    """

    metric: Metric = Metric.SUCCESS_RATE
    estimator: str = "dr"
    bound: str = "t"
    prompts_margin: float | None = 0.5
    usefulness_margin: float | None = 0.5
    success_margin: float | None = 0.01
    max_prompt_share: float = 0.9
    simulator_guardrails: bool = True
    success_tolerance: float = 0.0
    sim_conversations: int = 2_000

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "metric", Metric.parse(self.metric))
        except ConfigError:  # the metrics the gate takes, not every metric there is
            raise ConfigError(f"--metric must be one of success_rate, usefulness, got {self.metric!r}") from None
        if self.metric is Metric.PROMPTS:
            raise ConfigError("--metric prompts: fewer prompts is better, so the gate cannot use it as an improvement; "
                              "use success_rate or usefulness (prompts has its own --prompts-margin)")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.bound not in GATE_BOUNDS:
            raise ConfigError(f"--bound must be one of {', '.join(GATE_BOUNDS)}, got {self.bound!r}")
        for name in ("prompts_margin", "usefulness_margin", "success_margin"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < float("inf"):
                raise ConfigError(f"--{name.replace('_', '-')} must be a number >= 0 (or off), got {value}")
        if not 0 < self.max_prompt_share <= 1:
            raise ConfigError(f"--max-prompt-share must be within (0, 1], got {self.max_prompt_share}")
        if not 0 <= self.success_tolerance < 1:
            raise ConfigError(f"--success-tolerance must be within [0, 1), got {self.success_tolerance}")
        if self.sim_conversations < 1:
            raise ConfigError(f"--sim-conversations must be >= 1, got {self.sim_conversations}")

    @property
    def margins(self) -> dict[Metric, float]:
        """The non-inferiority margin of each metric other than the primary one that has a margin."""
        margins = {Metric.PROMPTS: self.prompts_margin, Metric.USEFULNESS: self.usefulness_margin,
                   Metric.SUCCESS_RATE: self.success_margin}
        return {m: v for m, v in margins.items() if v is not None and m is not self.metric}

    def to_dict(self) -> dict:
        """The settings as JSON; ``bound`` only when it is not ``percentile``, the bound of every record made before
        the setting existed: a loop folder made then resumes with ``--bound percentile`` and is refused without."""
        data = {**asdict(self), "metric": self.metric.value}
        if self.bound == "percentile":
            del data["bound"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GateSettings":
        """Raises ``ConfigError`` for an unknown key or a bad value."""
        check_keys(cls, data, "gate settings")
        return cls(**data)


def gate_decision(candidate: str, current: str, result: OPEResult, simulation: dict[str, Truth] | None,
                  settings: GateSettings, *, logged_share: dict[str, float] | None = None) -> GateDecision:
    """Decide (module docstring). ``simulation`` maps policy -> on-policy figures on the same simulated users
    (``simulate_truth``), needed with ``settings.simulator_guardrails``; without it, ``logged_share`` (the
    candidate's mean probability of each prompt at the logged states) is what ``no_collapse`` checks.

    Raises ``ConfigError`` when the candidate is the current policy or the figures a condition needs are missing."""
    if candidate == current:
        raise ConfigError(f"{candidate} is already the current policy: there is nothing to compare it with")
    conditions = []
    entries = result.policies
    level = f"{result.settings.confidence:.0%}"
    unsupported = [p for p in (candidate, current) if not entries[p].supported]
    conditions.append(GateCondition("supported", not unsupported,
                                    "both policies are supported by the logs" if not unsupported else
                                    "; ".join(f"{p}: {entries[p].support.message}" for p in unsupported)))
    improvement = None
    if not unsupported:
        improvement = result.difference(candidate, current, settings.estimator, settings.metric, settings.bound)
        ci = improvement.ci
        by = _by(settings)
        if ci is None:
            conditions.append(GateCondition("improvement", False, f"no {level} {settings.bound} interval for the difference {by} "
                                                                  "(too few resamples defined, or no bound)"))
        else:
            conditions.append(GateCondition(
                "improvement", ci[0] > 0,
                f"{settings.metric} {by}: {candidate} - {current} = {improvement.difference:+.4f}, "
                f"{level} {settings.bound} interval [{ci[0]:+.4f}, {ci[1]:+.4f}]; lower bound {'above' if ci[0] > 0 else 'not above'} zero"))
        for metric, margin in settings.margins.items():
            conditions.append(_non_inferior(result, candidate, current, settings, metric, margin, level))
    else:
        conditions.append(GateCondition("improvement", False, "not estimated: unsupported"))
        conditions.extend(GateCondition(f"non_inferior_{m}", False, "not estimated: unsupported") for m in settings.margins)
    if settings.simulator_guardrails:
        sim_c, sim_b = (simulation or {}).get(candidate), (simulation or {}).get(current)
        if sim_c is None or sim_b is None:
            raise ConfigError("the gate needs simulator figures of both the candidate and the current policy")
        share, where = sim_c.prompt_share, "in the simulator"
    else:
        if logged_share is None:
            raise ConfigError("without simulator guardrails the gate needs the candidate's prompt share at the logged states")
        share, where = logged_share, "at the logged states"
    top = max(share, key=share.get)
    conditions.append(GateCondition("no_collapse", share[top] <= settings.max_prompt_share,
                                    f"{candidate} asks {top} in {share[top]:.1%} of its prompts {where} "
                                    f"(limit {settings.max_prompt_share:.0%})"))
    if settings.simulator_guardrails:
        sc, sb = sim_c.metrics[Metric.SUCCESS_RATE], sim_b.metrics[Metric.SUCCESS_RATE]
        conditions.append(GateCondition("simulator_success", sc >= sb - settings.success_tolerance,
                                        f"simulator success {sc:.3f} for {candidate} vs {sb:.3f} for {current} on the same "
                                        f"{sim_c.conversations:,} simulated users"))
    return GateDecision(candidate, current, tuple(conditions), improvement, settings.to_dict())


def _by(settings: GateSettings) -> str:
    return "by importance sampling (hcope)" if settings.bound == "hcope" else f"by {settings.estimator}"


def _non_inferior(result: OPEResult, candidate: str, current: str, settings: GateSettings, metric: Metric, margin: float,
                  level: str) -> GateCondition:
    name = f"non_inferior_{metric.value}"
    by, bound = _by(settings), settings.bound
    try:
        diff = result.difference(candidate, current, settings.estimator, metric, bound)
    except ConfigError as exc:
        return GateCondition(name, False, f"not estimated: {exc}")
    if diff.ci is None:
        return GateCondition(name, False, f"no {level} {bound} interval for the difference in {metric} {by}")
    lo, hi = diff.ci
    if metric is Metric.PROMPTS:  # fewer is better: at most `margin` more prompts
        return GateCondition(name, hi <= margin, f"prompts per conversation {by}: {candidate} - {current} = "
                             f"{diff.difference:+.3f}, {level} {bound} interval [{lo:+.3f}, {hi:+.3f}]; upper bound "
                             f"{'within' if hi <= margin else 'beyond'} the margin +{margin:g}")
    return GateCondition(name, lo >= -margin, f"{metric} {by}: {candidate} - {current} = {diff.difference:+.4f}, "
                         f"{level} {bound} interval [{lo:+.4f}, {hi:+.4f}]; lower bound {'within' if lo >= -margin else 'beyond'} "
                         f"the margin -{margin:g}")
