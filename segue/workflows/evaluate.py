"""Off-policy evaluation, reports and promotion (``segue evaluate``, ``segue report``, ``segue policy promote``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError, SegueError
from evaluation.evaluate import Evaluation, evaluate_logs, simulate_truth
from evaluation.gate import GateSettings, gate_decision
from evaluation.ope import OPESettings
from evaluation.report import write_report
from evaluation.results import GateDecision, Truth
from policy.registry import DEFAULT_REGISTRY, current_policy, record_event, resolve, set_current

from ..progress import Reporter

__all__ = ["EvaluateSettings", "ReportSettings", "PromoteSettings", "evaluate_policies", "gate_candidates",
           "write_evaluation_report", "promote_policy", "logged_share"]


@dataclass(frozen=True)
class EvaluateSettings:
    """Estimate ``policies`` on the logs in ``logs`` (one folder or several, read together) with ``ope``;
    ``truth_conversations`` > 0 also runs each in the simulator (the ground truth); ``cache``: where the policies'
    choices and Q models are kept between evaluations (``evaluation.cache``), None for nowhere."""

    logs: tuple[Path, ...]
    policies: tuple[str, ...]
    registry: Path = DEFAULT_REGISTRY
    ope: OPESettings = field(default_factory=OPESettings)
    truth_conversations: int = 0
    cache: Path | None = None  # evaluation.cache: policies' choices and Q models per (policy, logs); None: no cache

    def __post_init__(self) -> None:
        logs = (self.logs,) if isinstance(self.logs, (str, Path)) else tuple(self.logs)
        object.__setattr__(self, "logs", tuple(Path(p) for p in logs))
        if not self.logs:
            raise ConfigError("give at least one --logs folder")
        if not self.policies:
            raise ConfigError("give at least one --policy")
        if len(set(self.policies)) != len(self.policies):
            raise ConfigError(f"each --policy once, got {', '.join(self.policies)}")
        if self.truth_conversations < 0:
            raise ConfigError(f"--truth-conversations must be >= 0, got {self.truth_conversations}")


def evaluate_policies(settings: EvaluateSettings, reporter: Reporter | None = None) -> Evaluation:
    """See ``evaluation.evaluate.evaluate_logs`` (its errors too); progress per stage."""
    reporter = reporter or Reporter.silent()
    reporter.note_unread(settings.logs)
    with reporter.stages() as update:
        return evaluate_logs(settings.logs, list(settings.policies), registry=settings.registry, settings=settings.ope,
                             truth_conversations=settings.truth_conversations, progress=update, cache=settings.cache)


def gate_candidates(evaluation: Evaluation, *, registry: Path, candidates: list[str], current: str, gate: GateSettings,
                    truth: dict[str, Truth] | None = None, reporter: Reporter | None = None) -> list[GateDecision]:
    """The gate's decision for every candidate but the current policy.

    With ``gate.simulator_guardrails`` the guardrails need each policy's simulator figures: ``truth`` when it has
    them all, else they are simulated now (``gate.sim_conversations`` users, the logs' world); without, the
    candidate's prompt share is taken at the logged states."""
    reporter = reporter or Reporter.silent()
    others = [c for c in dict.fromkeys(candidates) if c != current]  # the current policy is no candidate of its own
    if not others:
        return []
    if not gate.simulator_guardrails:
        return [gate_decision(c, current, evaluation.result, None, gate, logged_share=logged_share(evaluation, c))
                for c in others]
    truth = dict(truth or {})
    if any(p not in truth for p in [*others, current]):
        with reporter.bar("simulator guardrails", gate.sim_conversations) as update:
            truth = simulate_truth([*others, current], conversations=gate.sim_conversations, registry=registry,
                                   manifest=evaluation.manifest, progress=update)
    return [gate_decision(c, current, evaluation.result, truth, gate) for c in others]


def logged_share(evaluation: Evaluation, policy: str) -> dict[str, float]:
    """The policy's mean probability of each prompt over the logged states (its prompt mix on the logs)."""
    from dialogue.prompts import PROMPTS

    mean = evaluation.targets[policy].mean(axis=0)
    return {p.id.value: float(mean[i]) for i, p in enumerate(PROMPTS)}


def _policy_folders(names, registry: Path) -> dict[str, Path | None]:
    folders = {}
    for name in names:
        try:
            folders[name] = resolve(name, registry)
        except SegueError:
            folders[name] = None
    return folders


@dataclass(frozen=True)
class ReportSettings:
    """A report on ``evaluate``'s policies written to ``out`` (HTML; the Markdown summary beside it). With ``gate``
    the current policy is evaluated too and each policy's gate decision against it is shown."""

    evaluate: EvaluateSettings
    out: Path = Path("runs/report.html")
    gate: bool = True

    def __post_init__(self) -> None:
        if Path(self.out).suffix.lower() not in (".html", ".htm"):
            raise ConfigError(f"--out must name an .html file, got {self.out}")


def write_evaluation_report(settings: ReportSettings, reporter: Reporter | None = None) -> tuple[Path, Path]:
    """Evaluate, decide the gates, write the report; returns (HTML path, Markdown path)."""
    reporter = reporter or Reporter.silent()
    ev = settings.evaluate
    current = current_policy(ev.registry)
    policies = tuple(dict.fromkeys([*ev.policies, current])) if settings.gate else ev.policies
    evaluation = evaluate_policies(EvaluateSettings(ev.logs, policies, ev.registry, ev.ope, ev.truth_conversations, ev.cache), reporter)
    gates = []
    if settings.gate:
        gates = gate_candidates(evaluation, registry=ev.registry, candidates=list(ev.policies), current=current,
                                gate=GateSettings(), truth=evaluation.report.truths(), reporter=reporter)
    return write_report(evaluation.report, settings.out, gates=gates,
                        policy_folders=_policy_folders(evaluation.report.policies, ev.registry))


@dataclass(frozen=True)
class PromoteSettings:
    """Promote ``candidate`` over the registry's current policy if the gate passes, estimating both on ``logs``."""

    candidate: str
    logs: tuple[Path, ...]
    registry: Path = DEFAULT_REGISTRY
    ope: OPESettings = field(default_factory=lambda: OPESettings(estimators=("dr",)))
    gate: GateSettings = field(default_factory=GateSettings)
    cache: Path | None = None


def promote_policy(settings: PromoteSettings, reporter: Reporter | None = None) -> GateDecision:
    """Run the gate; make the candidate current when it passes. Either way the decision is recorded in the
    registry's history. Raises ``ConfigError`` when the candidate already is current."""
    current = current_policy(settings.registry)
    if settings.candidate == current:
        raise ConfigError(f"{settings.candidate} is already the current policy")
    evaluation = evaluate_policies(EvaluateSettings(settings.logs, (settings.candidate, current), settings.registry,
                                                    settings.ope, cache=settings.cache), reporter)
    decision = gate_candidates(evaluation, registry=settings.registry, candidates=[settings.candidate], current=current,
                               gate=settings.gate, reporter=reporter)[0]
    evidence = {"logs": ", ".join(map(str, settings.logs)), "decision": decision.to_dict()}
    if decision.promote:
        set_current(settings.candidate, registry=settings.registry, action="promote", reason="gate passed", evidence=evidence)
    else:
        record_event(settings.registry, {"action": "refused", "from": current, "to": settings.candidate,
                                         "reason": "gate failed: " + ", ".join(decision.failed), "evidence": evidence})
    return decision
