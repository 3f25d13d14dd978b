"""Typed results of off-policy evaluation, the simulator's truth and the deployment gate.

Stages hand these records to each other (the runner to the gate, the gate to the
pipeline, all of them to the report); they become JSON only at the edge
(``to_dict``: the ``--json`` contracts of ``segue evaluate`` and ``segue policy
promote``, ``runs/evaluation.json``, the registry's history).

Metrics are the three of ``evaluation.data.Metric``; intervals are (low, high)
tuples at the run's confidence level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .data import Metric

__all__ = ["Estimate", "SupportCheck", "WeightDiagnostics", "SegmentEstimates", "PolicyEstimates", "Truth",
           "EstimateError", "EvaluationReport", "GateCondition", "Improvement", "GateDecision", "Interval"]

Interval = tuple[float, float]


def _pair(ci) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


@dataclass(frozen=True)
class Estimate:
    """One estimator's estimate of one metric (None where undefined), its interval (``ci``, by the run's interval
    method), the bootstrap standard error, every interval computed (method -> interval, ``evaluation.intervals``)
    and what the estimate rests on beyond the data (a tuned parameter, its bias estimate), if anything."""

    estimate: float | None
    ci: Interval | None = None
    se: float | None = None
    intervals: dict[str, Interval | None] = field(default_factory=dict)
    detail: dict | None = None

    def covers(self, value: float) -> bool | None:
        """Whether the interval holds ``value`` (a truth); None without an interval."""
        return None if self.ci is None else bool(self.ci[0] <= value <= self.ci[1])

    def to_dict(self) -> dict:
        data = {"estimate": self.estimate, "ci": _pair(self.ci), "se": self.se}
        if self.intervals:
            data["intervals"] = {k: _pair(v) for k, v in self.intervals.items()}
        if self.detail is not None:
            data["detail"] = self.detail
        return data


@dataclass(frozen=True)
class SupportCheck:
    """Whether the target policy only asks prompts the logging policy gave a chance (``supported``), and where not."""

    supported: bool
    unsupported_turns: int
    unsupported_share: float
    message: str
    unsupported_mass: float | None = None
    prompts: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = {"supported": self.supported, "unsupported_turns": self.unsupported_turns,
                "unsupported_share": self.unsupported_share}
        if not self.supported:
            data |= {"unsupported_mass": self.unsupported_mass, "prompts": list(self.prompts)}
        return data | {"message": self.message}


@dataclass(frozen=True)
class WeightDiagnostics:
    """Importance weights of whole conversations: effective sample size (Kish), its share of the conversations,
    the first turn's ESS, mean/max/99th-percentile weight, the share of weight-0 conversations and of the total
    weight held by the largest one (None when every weight is 0)."""

    ess: float
    ess_share: float
    ess_first_turn: float
    weight_mean: float
    weight_max: float
    weight_p99: float
    zero_weight_share: float
    max_weight_share: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegmentEstimates:
    """Point estimates on one user segment's conversations: estimator -> metric -> value (None: undefined)."""

    conversations: int
    estimators: dict[str, dict[Metric, float | None]]

    def to_dict(self) -> dict:
        return {"conversations": self.conversations,
                "estimators": {n: {str(m): v for m, v in per.items()} for n, per in self.estimators.items()}}


@dataclass(frozen=True)
class Truth:
    """A policy's on-policy figures in the simulator, with the logs' simulator settings (the ground truth)."""

    metrics: dict[Metric, float]
    ci: dict[Metric, Interval]
    conversations: int
    personas: dict[str, dict]
    prompt_share: dict[str, float]
    most_asked: str
    risk: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"metrics": {str(m): v for m, v in self.metrics.items()}, "ci": {str(m): _pair(c) for m, c in self.ci.items()},
                "conversations": self.conversations, "personas": self.personas, "prompt_share": self.prompt_share,
                "most_asked": self.most_asked, "risk": dict(self.risk)}

    @classmethod
    def from_dict(cls, data: dict) -> "Truth":
        return cls(metrics={Metric(m): float(v) for m, v in data["metrics"].items()},
                   ci={Metric(m): tuple(c) for m, c in data["ci"].items() if c is not None},
                   conversations=int(data["conversations"]), personas=dict(data["personas"]),
                   prompt_share=dict(data["prompt_share"]), most_asked=str(data["most_asked"]), risk=dict(data.get("risk", {})))


@dataclass(frozen=True)
class EstimateError:
    """An estimate against the truth: relative error (None where undefined) and whether its interval covers it."""

    relative_error: float | None
    covered: bool | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PolicyEstimates:
    """Everything estimated about one policy on the logs (and, once attached, its truth and errors)."""

    supported: bool
    support: SupportCheck
    prompt_share: dict[str, float]
    diagnostics: WeightDiagnostics | None = None
    estimators: dict[str, dict[Metric, Estimate]] = field(default_factory=dict)
    personas: dict[str, SegmentEstimates] = field(default_factory=dict)
    truth: Truth | None = None
    errors: dict[str, dict[Metric, EstimateError]] | None = None
    bounds: dict[Metric, dict] = field(default_factory=dict)   # metric -> {"hcope": record} (evaluation.ope._hcope)
    risk: dict[str, Estimate] = field(default_factory=dict)     # evaluation.risk: abandoned, cvar_usefulness

    def estimate(self, estimator: str, metric: Metric | str) -> Estimate:
        return self.estimators[estimator][Metric(metric)]

    def to_dict(self) -> dict:
        data = {
            "supported": self.supported, "support": self.support.to_dict(),
            "diagnostics": self.diagnostics.to_dict() if self.diagnostics else None,
            "estimators": {n: {str(m): e.to_dict() for m, e in per.items()} for n, per in self.estimators.items()},
            "prompt_share": dict(self.prompt_share),
        }
        if self.supported:
            data["personas"] = {p: s.to_dict() for p, s in self.personas.items()}
            data["bounds"] = {str(m): {k: {**b, "interval": _pair(b.get("interval")), "difference": _pair(b.get("difference"))}
                                       for k, b in per.items()} for m, per in self.bounds.items()}
            data["risk"] = {name: e.to_dict() for name, e in self.risk.items()}
        data["truth"] = {str(m): v for m, v in self.truth.metrics.items()} if self.truth else None
        data["truth_detail"] = self.truth.to_dict() if self.truth else None
        if self.errors is not None:
            data["errors"] = {n: {str(m): e.to_dict() for m, e in per.items()} for n, per in self.errors.items()}
        return data


@dataclass
class EvaluationReport:
    """An evaluation of several policies on one log folder (``to_dict`` is ``segue evaluate --json``)."""

    logs: str
    conversations: int
    turns: int
    logging_policy: dict | None
    on_policy: dict[Metric, float]
    settings: dict
    seconds: float
    policies: dict[str, PolicyEstimates]

    def truths(self) -> dict[str, Truth]:
        """The simulator's truth of every policy that has one."""
        return {name: e.truth for name, e in self.policies.items() if e.truth is not None}

    def selection(self, metric: Metric | str = Metric.SUCCESS_RATE, estimator: str = "dr") -> dict:
        """Off-policy selection among the policies (``evaluation.selection``): ranker -> Selection, judged against
        the truth when every policy has one; empty with fewer than two policies or without that estimator."""
        from .selection import RANKERS, scores, select

        if len(self.policies) < 2 or not any(estimator in e.estimators for e in self.policies.values()):
            return {}
        truths = self.truths()
        truth = {p: t.metrics[Metric(metric)] for p, t in truths.items()} if len(truths) == len(self.policies) else None
        return {by: select(scores(self.policies, metric=metric, estimator=estimator, by=by), truth) for by in RANKERS}

    def to_dict(self) -> dict:
        data = {"logs": self.logs, "conversations": self.conversations, "turns": self.turns,
                "logging_policy": self.logging_policy, "on_policy": {str(m): v for m, v in self.on_policy.items()},
                "settings": self.settings, "seconds": self.seconds,
                "policies": {name: e.to_dict() for name, e in self.policies.items()}}
        selection = self.selection()
        if selection:
            data["selection"] = {"metric": Metric.SUCCESS_RATE.value, "estimator": "dr",
                                 "by": {by: s.to_dict() for by, s in selection.items()}}
        return data


@dataclass(frozen=True)
class GateCondition:
    """One condition of the gate, whether it held, and the numbers behind it."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Improvement:
    """A paired difference candidate - current on the same logs and resamples, absolute and relative to current."""

    difference: float
    ci: Interval | None
    relative: float | None
    relative_ci: Interval | None

    def to_dict(self) -> dict:
        return {"difference": self.difference, "ci": _pair(self.ci), "relative": self.relative,
                "relative_ci": _pair(self.relative_ci)}


@dataclass(frozen=True)
class GateDecision:
    """The gate's decision for one candidate over the current policy (``to_dict`` is ``segue policy promote --json``)."""

    candidate: str
    current: str
    conditions: tuple[GateCondition, ...]
    improvement: Improvement | None
    settings: dict

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions if not c.passed)

    @property
    def promote(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {"candidate": self.candidate, "current": self.current, "promote": self.promote,
                "conditions": [c.to_dict() for c in self.conditions], "failed": list(self.failed),
                "improvement": self.improvement.to_dict() if self.improvement else None, "settings": self.settings}


