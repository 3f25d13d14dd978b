"""Evaluation commands: ``segue evaluate``, ``segue report``, ``segue policy promote|rollback|history``, ``segue pipeline``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from evaluation.gate import GateSettings
from evaluation.ope import OPESettings
from evaluation.qmodel import FQESettings
from policy.registry import DEFAULT_REGISTRY

from .app import app, err, out, policy_app, print_json
from .options import (
    Bootstrap,
    Confidence,
    Estimators,
    FqeSteps,
    Json,
    Logs,
    MinEss,
    MinPropensity,
    OpeSeed,
    QModels,
    Registry,
    TruthConversations,
)
from .progress import Reporter

__all__: list[str] = []

_OPE = OPESettings()
_FQE = FQESettings()


def _ope(estimators: Optional[list[str]], q_models: Optional[list[str]], bootstrap: int, confidence: float, seed: int,
         fqe_steps: int, min_ess: float, min_propensity: float) -> OPESettings:
    return OPESettings(estimators=tuple(estimators or _OPE.estimators), q_models=tuple(q_models or _OPE.q_models),
                       bootstrap=bootstrap, confidence=confidence, seed=seed, fqe=FQESettings(steps=fqe_steps, seed=seed),
                       min_ess=min_ess, min_propensity=min_propensity)


def print_evaluation(report) -> None:
    """The evaluation as one table per policy (estimates, intervals, errors against the truth)."""
    from evaluation.data import METRICS

    for policy, entry in report.policies.items():
        if not entry.supported:
            out.print(f"[bold]{escape(policy)}[/]: [red]{escape(entry.support.message)}[/]")
            continue
        table = Table(title=f"{policy}: effective sample size {entry.diagnostics.ess:.0f} of {report.conversations:,} conversations")
        table.add_column("estimator")
        for metric in METRICS:
            table.add_column(str(metric), justify="right")
        for name, per_metric in entry.estimators.items():
            cells = []
            for metric in METRICS:
                e = per_metric[metric]
                cell = "-" if e.estimate is None else f"{e.estimate:.3f}"
                if e.ci:
                    cell += f" [{e.ci[0]:.3f}, {e.ci[1]:.3f}]"
                error = (entry.errors or {}).get(name, {}).get(metric)
                if error and error.relative_error is not None:
                    cell += f" {error.relative_error:+.1%}" + ("" if error.covered else " [red]x[/]")
                cells.append(cell)
            table.add_row(name, *cells)
        if entry.truth is not None:
            table.add_row("[bold]simulator truth[/]", *(f"{entry.truth.metrics[m]:.3f}" for m in METRICS))
        out.print(table)


@app.command()
def evaluate(
    logs: Logs,
    policies: list[str] = typer.Option(..., "--policy", help="A policy: 'rule', a policy folder, or a name in the registry. Repeat it."),
    truth: bool = typer.Option(False, "--truth", help="Also run each policy on-policy in the simulator (the ground truth)."),
    truth_conversations: TruthConversations = 20_000,
    estimators: Estimators = None,
    q_models: QModels = None,
    bootstrap: Bootstrap = _OPE.bootstrap,
    confidence: Confidence = _OPE.confidence,
    fqe_steps: FqeSteps = _FQE.steps,
    seed: OpeSeed = _OPE.seed,
    min_ess: MinEss = _OPE.min_ess,
    min_propensity: MinPropensity = _OPE.min_propensity,
    registry: Registry = DEFAULT_REGISTRY,
    as_json: Json = False,
) -> None:
    """Estimate policies off-policy on logged conversations, with intervals (and the simulator's truth)."""
    from .workflows.evaluate import EvaluateSettings, evaluate_policies

    settings = EvaluateSettings(tuple(logs), tuple(policies), registry, _ope(estimators, q_models, bootstrap, confidence, seed, fqe_steps, min_ess,
                                                                    min_propensity),
                                truth_conversations if truth else 0)
    evaluation = evaluate_policies(settings, Reporter())
    if as_json:
        print_json(evaluation.report.to_dict())
    else:
        print_evaluation(evaluation.report)


@app.command()
def report(
    logs: Logs,
    policies: list[str] = typer.Option(..., "--policy", help="A policy to report on. Repeat it."),
    out_file: Path = typer.Option(Path("runs/report.html"), "--out", help="HTML file to write (the Markdown summary goes beside it, .md)."),
    truth: bool = typer.Option(True, "--truth/--no-truth", help="Run each policy in the simulator for the ground truth."),
    truth_conversations: TruthConversations = 20_000,
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Show the gate's decision for each policy against the current one."),
    estimators: Estimators = None,
    q_models: QModels = None,
    bootstrap: Bootstrap = _OPE.bootstrap,
    confidence: Confidence = _OPE.confidence,
    fqe_steps: FqeSteps = _FQE.steps,
    seed: OpeSeed = _OPE.seed,
    min_ess: MinEss = _OPE.min_ess,
    min_propensity: MinPropensity = _OPE.min_propensity,
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Write an evaluation report: one self-contained HTML file plus a Markdown summary."""
    from .workflows.evaluate import EvaluateSettings, ReportSettings, write_evaluation_report

    settings = ReportSettings(EvaluateSettings(tuple(logs), tuple(policies), registry,
                                               _ope(estimators, q_models, bootstrap, confidence, seed, fqe_steps, min_ess,
                                                    min_propensity),
                                               truth_conversations if truth else 0), out_file, gate)
    html_path, md_path = write_evaluation_report(settings, Reporter())
    out.print(f"wrote {html_path} and {md_path}")


_GATE = GateSettings()


@policy_app.command("promote")
def promote(
    candidate: str = typer.Argument(..., help="The policy to promote (a name in the registry or a folder)."),
    logs: Logs = ...,
    metric: str = typer.Option(str(_GATE.metric), "--metric", help="Gate metric: usefulness or success_rate."),
    estimator: str = typer.Option(_GATE.estimator, "--estimator", help="Gate estimator (default dr)."),
    bootstrap: Bootstrap = _OPE.bootstrap,
    confidence: Confidence = _OPE.confidence,
    sim_conversations: int = typer.Option(_GATE.sim_conversations, "--sim-conversations", help="Simulated users for the guardrails."),
    max_prompt_share: float = typer.Option(_GATE.max_prompt_share, "--max-prompt-share", help="Guardrail: the most-asked prompt's largest share."),
    fqe_steps: FqeSteps = _FQE.steps,
    min_ess: MinEss = _OPE.min_ess,
    min_propensity: MinPropensity = _OPE.min_propensity,
    registry: Registry = DEFAULT_REGISTRY,
    as_json: Json = False,
) -> None:
    """Make CANDIDATE current only if it improves on the current policy with high confidence and the guardrails hold."""
    from core.errors import ConfigError

    from .workflows.evaluate import PromoteSettings, promote_policy

    if metric == "prompts":
        raise ConfigError("--metric prompts: fewer prompts is better, so the gate cannot use it as an improvement; "
                          "use usefulness or success_rate")
    gate = GateSettings(metric=metric, estimator=estimator, max_prompt_share=max_prompt_share, sim_conversations=sim_conversations)
    settings = PromoteSettings(candidate, tuple(logs), registry, _ope([estimator], None, bootstrap, confidence, 0, fqe_steps, min_ess, min_propensity),
                               gate)
    decision = promote_policy(settings, Reporter())
    if as_json:
        print_json(decision.to_dict())
    else:
        for c in decision.conditions:
            out.print(f"  {'[green]pass[/]' if c.passed else '[red]FAIL[/]'} {c.name}: {escape(c.detail)}", highlight=False)
        if decision.promote:
            out.print(f"[bold green]promoted[/] {candidate} (was {decision.current})")
    if not decision.promote:
        err.print(f"[bold red]refused:[/] {candidate} stays a candidate; {decision.current} remains current "
                  f"(failed: {', '.join(decision.failed)})", highlight=False)
        raise typer.Exit(1)


@policy_app.command("rollback")
def rollback_command(registry: Registry = DEFAULT_REGISTRY) -> None:
    """Make the previous current policy current again (recorded in the history)."""
    from policy.registry import rollback

    entry = rollback(registry)
    out.print(f"rolled back: {entry['from']} -> {entry['to']} is current")


@policy_app.command("history")
def history(registry: Registry = DEFAULT_REGISTRY, as_json: Json = False) -> None:
    """Every promotion, refusal and rollback, oldest first."""
    from policy.registry import current_policy, policy_history

    if not registry.is_dir():
        err.print(f"[dim](no registry at {escape(str(registry))} yet: nothing was promoted, refused or rolled back)[/]")
    entries = policy_history(registry)
    if as_json:
        print_json({"current": current_policy(registry), "history": entries})
        return
    table = Table(title=f"{registry}: current policy is {current_policy(registry)}")
    for column in ("time", "action", "from", "to", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.get("time", ""), e.get("action", ""), e.get("from", ""), e.get("to", ""), e.get("reason", ""))
    out.print(table)


@app.command()
def pipeline(
    conversations: Optional[int] = typer.Option(None, "--conversations", "-n", help="Conversations to log (default 50,000)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the logs (default 1)."),
    runs: Optional[Path] = typer.Option(None, "--runs", help="Working folder: logs/, policies/, report.html (default runs)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Gradient steps of the d3rlpy learners (default: about 16 "
                                        "passes over the logged prompts, 500 to 15,000)."),
    truth_conversations: Optional[int] = typer.Option(None, "--truth-conversations", help="Simulated conversations per "
                                                      "policy for the truth and the guardrails (default 5,000)."),
    eval_conversations: Optional[int] = typer.Option(None, "--eval-conversations", help="Simulated conversations for each "
                                                     "trained policy's quick evaluation (default 2,000; 0: none)."),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="Bootstrap resamples (default 1,000)."),
    fqe_steps: Optional[int] = typer.Option(None, "--fqe-steps", help="FQE gradient steps per metric (default 2,000)."),
    candidates: Optional[list[str]] = typer.Option(None, "--candidate", help="Learner-features to train, e.g. cql-base "
                                                   "(repeat; default cql-base, regressor-base, regressor-history)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes for simulation (default: all cores)."),
    promote_best: Optional[bool] = typer.Option(None, "--promote/--no-promote", help="Run the gate and promote the best "
                                                "candidate that passes (default: promote)."),
    settings_file: Optional[Path] = typer.Option(None, "--settings", help="A JSON file of pipeline settings; options given "
                                                 "on the command line override it."),
    as_json: Json = False,
) -> None:
    """The main job: simulate logs, train policies, evaluate them off-policy, write the report, promote through the gate.

    Steps already done (logs with the same settings, trained policies) are reused.
    """
    from .workflows.pipeline import PipelineSettings, run_pipeline

    given = {"conversations": conversations, "seed": seed, "runs": runs, "train_steps": steps,
             "truth_conversations": truth_conversations, "eval_conversations": eval_conversations, "bootstrap": bootstrap,
             "fqe_steps": fqe_steps, "candidates": candidates, "workers": workers, "promote": promote_best}
    base = PipelineSettings.read_file(settings_file) if settings_file is not None else {}
    settings = PipelineSettings.from_dict({**base, **{k: v for k, v in given.items() if v is not None}})
    result = run_pipeline(settings, Reporter())
    if as_json:
        print_json({"settings": settings.to_dict(), "report": [str(p) for p in result.report],
                    "trained": result.trained, "gates": [g.to_dict() for g in result.gates],
                    "current_before": result.current_before, "promoted": result.promoted, "current": result.current})
        return
    print_evaluation(result.evaluation.report)
    html_path, md_path = result.report
    out.print(f"report: {html_path} (summary {md_path})")
    for g in result.gates:
        verdict = "[green]passes[/]" if g.promote else f"[red]refused[/] ({', '.join(g.failed)})"
        out.print(f"  gate {g.candidate} over {g.current}: {verdict}", highlight=False)
    if not settings.promote:
        out.print(f"current policy: {result.current} (--no-promote)")
    elif result.promoted is None:
        out.print(f"no candidate passes the gate: {result.current} stays current")
    else:
        best = next(g for g in result.gates if g.candidate == result.promoted)
        out.print(f"[bold green]promoted[/] {result.promoted} (was {result.current_before}): largest lower bound of improvement "
                  f"{best.improvement.ci[0]:+.3f} {settings.gate.metric} per conversation")
