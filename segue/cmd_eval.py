"""Evaluation commands: ``segue evaluate``, ``segue report``, ``segue policy promote|rollback|history``, ``segue pipeline``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from evaluation.cache import DEFAULT_CACHE
from evaluation.gate import GateSettings
from evaluation.ope import OPESettings
from evaluation.qmodel import FQESettings
from policy.registry import DEFAULT_REGISTRY

from .app import app, err, out, policy_app, print_json
from .options import (
    Address,
    Bootstrap,
    Confidence,
    Engine,
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
    use_engine,
)
from .progress import Reporter

__all__: list[str] = []

_OPE = OPESettings()
_FQE = FQESettings()


def _ope(estimators: Optional[list[str]], q_models: Optional[list[str]], bootstrap: int, confidence: float, seed: int,
         fqe_steps: int, min_ess: float, min_propensity: float, interval: str = _OPE.interval,
         q_ensemble: int = _OPE.q_ensemble) -> OPESettings:
    return OPESettings(estimators=tuple(estimators or _OPE.estimators), q_models=tuple(q_models or _OPE.q_models),
                       bootstrap=bootstrap, confidence=confidence, seed=seed, fqe=FQESettings(steps=fqe_steps, seed=seed),
                       min_ess=min_ess, min_propensity=min_propensity, interval=interval, q_ensemble=q_ensemble)


QEnsemble = Annotated[int, typer.Option("--q-ensemble", help="Refit each Q model K more times on bootstrap resamples, so the "
                                        "intervals of dm, dr, ... hold the model's refit variance (K x the fitting time).")]


Cache = Annotated[str, typer.Option("--cache", help="Folder keeping each policy's choices and Q models per "
                                    "(policy, logs) between evaluations; off: none.")]


def _cache(text: str) -> Path | None:
    """The --cache folder, or None for off/none. A folder that cannot be made or written is a warning, not an error
    (the cache only saves time): said once, here, rather than ignored on every save."""
    if text.strip().lower() in ("off", "none", ""):
        return None
    path = Path(text)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = (f"{probe} is not a folder" if probe.exists() and not probe.is_dir()
               else f"{probe} is not writable" if probe.exists() and not os.access(probe, os.W_OK | os.X_OK) else None)
    if problem:
        err.print(f"[yellow]warning:[/] --cache {escape(text)}: {escape(problem)}; nothing is cached (fits are "
                  "recomputed each run)", highlight=False)
        return None
    return path


def _misses(estimate, truth: float) -> str:
    """", misses it" when the estimate's interval leaves out the simulator's truth (as the tables' x)."""
    return ", [red]the interval misses it[/]" if estimate.covers(truth) is False else ""


Interval = Annotated[str, typer.Option("--interval", help="Interval shown with each estimate: percentile (bootstrap), bca, "
                                       "t (jackknife) or bootstrap-t; every one is in --json.")]


def print_evaluation(report) -> None:
    """The evaluation as one table per policy (estimates, intervals, errors against the truth)."""
    from evaluation.data import METRICS, UNCLIPPED_NOTE

    for policy, entry in report.policies.items():
        if not entry.supported:
            out.print(f"[bold]{escape(policy)}[/]: [red]{escape(entry.support.message)}[/]")
            if entry.truth is not None:  # asked for and computed: shown, though there is no estimate to judge with it
                out.print("  simulator truth: " + ", ".join(f"{m} {entry.truth.metrics[m]:.3f}" for m in METRICS), highlight=False)
            continue
        table = Table(title=f"{policy}: effective sample size {entry.diagnostics.ess:.0f} of {report.conversations:,} conversations")
        table.add_column("estimator")
        for metric in METRICS:
            table.add_column(str(metric), justify="right")
        legend = set()
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
                    legend.add("error")
                if any(metric.outside(v) for v in (e.estimate, *(e.ci or ()))):
                    legend.add("unclipped")
                cells.append(cell)
            table.add_row(name, *cells)
        bounds = [(entry.bounds.get(m) or {}).get("hcope") or {} for m in METRICS]
        if any(b.get("interval") for b in bounds):
            table.add_row("hcope bound", *(f"[{b['interval'][0]:.3f}, {b['interval'][1]:.3f}]" if b.get("interval") else "-"
                                           for b in bounds))
        if entry.truth is not None:
            table.add_row("[bold]simulator truth[/]", *(f"{entry.truth.metrics[m]:.3f}" for m in METRICS))
        notes = []
        if "error" in legend:
            notes.append("+x%: the estimate's error relative to the simulator truth; x: the interval misses the truth")
        if "unclipped" in legend:
            notes.append(UNCLIPPED_NOTE)
        table.caption = "\n".join(notes) or None
        out.print(table)
        if entry.risk:
            out.print("  risk: " + "; ".join(
                f"{name} {e.estimate:.3f}" + (f" [{e.ci[0]:.3f}, {e.ci[1]:.3f}]" if e.ci else "")
                + (f" (truth {entry.truth.risk[name]:.3f}{_misses(e, entry.truth.risk[name])})"
                   if entry.truth is not None and name in entry.truth.risk else "")
                for name, e in entry.risk.items() if e.estimate is not None), highlight=False)


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
    interval: Interval = _OPE.interval,
    q_ensemble: QEnsemble = _OPE.q_ensemble,
    cache: Cache = str(DEFAULT_CACHE),
    registry: Registry = DEFAULT_REGISTRY,
    engine: Engine = "local",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Estimate policies off-policy on logged conversations, with intervals, the hcope bound and risks (and the
    simulator's truth)."""
    from .workflows.evaluate import EvaluateSettings, evaluate_policies

    if truth and truth_conversations == 0:  # asked for the truth and for none of it
        from core.errors import ConfigError

        raise ConfigError("--truth-conversations must be >= 1 with --truth, got 0 (leave out --truth for no truth)")
    use_engine(engine, address)

    settings = EvaluateSettings(tuple(logs), tuple(policies), registry, _ope(estimators, q_models, bootstrap, confidence, seed, fqe_steps, min_ess,
                                                                    min_propensity, interval, q_ensemble),
                                truth_conversations if truth else 0, _cache(cache))
    evaluation = evaluate_policies(settings, Reporter())
    if as_json:
        print_json(evaluation.report.to_dict())
    else:
        print_evaluation(evaluation.report)
        for by, chosen in evaluation.report.selection().items():
            if chosen.ranking:
                judged = (f"; against the truth: Spearman {chosen.spearman:+.2f}, " if chosen.spearman is not None else "; against the truth: ") \
                    + f"regret of the first {chosen.regret_top1:.3f}" if chosen.regret_top1 is not None else ""
                out.print(f"ranked by dr success_rate {by.replace('_', ' ')}: " + " > ".join(chosen.ranking) + judged, highlight=False)


@app.command()
def report(
    logs: Optional[list[Path]] = typer.Option(None, "--logs", help="Log folder; repeat it to read several together."),
    policies: Optional[list[str]] = typer.Option(None, "--policy", help="A policy to report on. Repeat it."),
    loop: Optional[Path] = typer.Option(None, "--loop", help="Instead: report on a `segue loop` folder, round by round "
                                        "(written to DIR/loop-report.html unless --out is given)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (the Markdown summary goes beside it, .md; "
                                            "default runs/report.html)."),
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
    cache: Cache = str(DEFAULT_CACHE),
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Write an evaluation report (or, with --loop, a loop's report): one self-contained HTML file plus a Markdown summary."""
    from core.errors import ConfigError

    from .workflows.evaluate import EvaluateSettings, ReportSettings, write_evaluation_report

    if loop is not None:
        if logs or policies:
            raise ConfigError("--loop reports on a loop folder: give it without --logs and --policy")
        from evaluation.loop_report import write_loop_report

        from .workflows.loop import read_ledger

        target = out_file or loop / "loop-report.html"
        if target.suffix.lower() not in (".html", ".htm"):
            raise ConfigError(f"--out must name an .html file, got {target}")
        html_path, md_path = write_loop_report(read_ledger(loop), target)
        out.print(f"wrote {html_path} and {md_path}")
        return
    if not logs or not policies:
        raise ConfigError("give --logs and at least one --policy (or --loop DIR for a loop's report)")
    out_file = out_file or Path("runs/report.html")
    settings = ReportSettings(EvaluateSettings(tuple(logs), tuple(policies), registry,
                                               _ope(estimators, q_models, bootstrap, confidence, seed, fqe_steps, min_ess,
                                                    min_propensity),
                                               truth_conversations if truth else 0, _cache(cache)), out_file, gate)
    html_path, md_path = write_evaluation_report(settings, Reporter())
    out.print(f"wrote {html_path} and {md_path}")


_GATE = GateSettings()


def margin(text: str, option: str) -> float | None:
    """A non-inferiority margin from the command line: a number >= 0, or ``off``; raises ``ConfigError`` naming ``option``."""
    from core.errors import ConfigError

    if text.strip().lower() in ("off", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{option} must be a number >= 0 or off, got {text!r}") from None


@policy_app.command("promote")
def promote(
    candidate: str = typer.Argument(..., help="The policy to promote (a name in the registry or a folder)."),
    logs: Logs = ...,
    metric: str = typer.Option(str(_GATE.metric), "--metric", help="Gate metric, more is better: success_rate or usefulness."),
    estimator: str = typer.Option(_GATE.estimator, "--estimator", help="Gate estimator (default dr)."),
    bound: str = typer.Option(_GATE.bound, "--bound", help="Interval of the paired differences: percentile (bootstrap), bca, t "
                              "(jackknife) or hcope (a guarantee: Thomas et al. 2015, by importance sampling)."),
    prompts_margin: str = typer.Option(f"{_GATE.prompts_margin:g}", "--prompts-margin",
                                       help="Non-inferiority margin: at most this many more prompts per conversation (off: none)."),
    usefulness_margin: str = typer.Option(f"{_GATE.usefulness_margin:g}", "--usefulness-margin",
                                          help="Non-inferiority margin on useful prompts per conversation (off: none)."),
    success_margin: str = typer.Option(f"{_GATE.success_margin:g}", "--success-margin",
                                       help="Non-inferiority margin on the success rate, when it is not the gate metric (off: none)."),
    bootstrap: Bootstrap = _OPE.bootstrap,
    confidence: Confidence = _OPE.confidence,
    sim_conversations: int = typer.Option(_GATE.sim_conversations, "--sim-conversations", help="Simulated users for the guardrails."),
    max_prompt_share: float = typer.Option(_GATE.max_prompt_share, "--max-prompt-share", help="Guardrail: the most-asked prompt's largest share."),
    fqe_steps: FqeSteps = _FQE.steps,
    min_ess: MinEss = _OPE.min_ess,
    min_propensity: MinPropensity = _OPE.min_propensity,
    cache: Cache = str(DEFAULT_CACHE),
    registry: Registry = DEFAULT_REGISTRY,
    as_json: Json = False,
) -> None:
    """Make CANDIDATE current only if it improves on the current policy with high confidence and the guardrails hold."""

    from .workflows.evaluate import PromoteSettings, promote_policy

    gate = GateSettings(metric=metric, estimator=estimator, bound=bound, max_prompt_share=max_prompt_share,
                        sim_conversations=sim_conversations, prompts_margin=margin(prompts_margin, "--prompts-margin"),
                        usefulness_margin=margin(usefulness_margin, "--usefulness-margin"),
                        success_margin=margin(success_margin, "--success-margin"))
    settings = PromoteSettings(candidate, tuple(logs), registry, _ope([estimator], None, bootstrap, confidence, 0, fqe_steps, min_ess, min_propensity),
                               gate, _cache(cache))
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
def loop(
    rounds: int = typer.Option(5, "--rounds", help="Rounds of serve, guard, learn, estimate, gate, canary."),
    conversations: int = typer.Option(20_000, "--conversations", "-n", help="Fresh simulated users per round."),
    seed: int = typer.Option(1, "--seed", help="Seed of the loop (same seed: same logs and decisions)."),
    runs: Path = typer.Option(Path("runs/loop"), "--runs", help="The loop's folder: round-NN/ logs, policies/, ledger.jsonl."),
    candidates: Optional[list[str]] = typer.Option(None, "--candidate", help="Learner-features trained each round (repeat; "
                                                   "default cql-base, regressor-base, regressor-history)."),
    exploration: float = typer.Option(0.3, "--exploration", help="Randomized share served with every policy, in (0, 1]."),
    canary_share: float = typer.Option(0.25, "--canary-share", help="Share of a round's users the canary serves."),
    canary_looks: int = typer.Option(4, "--canary-looks", help="Looks of the canary's sequential test per round."),
    metric: str = typer.Option("success_rate", "--metric", help="Gate metric, more is better: success_rate or usefulness."),
    prompts_margin: str = typer.Option("0.5", "--prompts-margin", help="Gate's non-inferiority margin on prompts (off: none)."),
    usefulness_margin: str = typer.Option("0.5", "--usefulness-margin", help="Gate's margin on usefulness (off: none)."),
    bound: str = typer.Option(_GATE.bound, "--bound", help="Gate's interval: percentile, bca, t or hcope (segue policy promote)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Gradient steps of the d3rlpy learners (default: automatic)."),
    bootstrap: int = typer.Option(1_000, "--bootstrap", help="Bootstrap resamples of the estimates."),
    fqe_steps: int = typer.Option(2_000, "--fqe-steps", help="FQE gradient steps per metric."),
    truth_conversations: int = typer.Option(5_000, "--truth-conversations", help="Simulated users per policy for the "
                                            "ledger's truth (0: none; never used for a decision)."),
    faults: Optional[list[str]] = typer.Option(None, "--fault", help="Plant a fault: corrupt@R, corrupt-unguarded@R, "
                                               "raise@R or bad-canary@R (repeat; README, Continuous improvement)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes for simulation (default: all cores)."),
    part_size: int = typer.Option(2_500, "--part-size", help="Conversations per log part."),
    engine: Engine = "local",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Continuous improvement: serve with a randomized share, guard the data, learn, estimate, gate, canary, roll out or
    back, round after round; every step in DIR/ledger.jsonl (segue report --loop DIR draws it). Re-run to resume."""
    from evaluation.canary import CanarySettings

    from .workflows.loop import LoopSettings, run_loop
    from .workflows.pipeline import DEFAULT_CANDIDATES

    use_engine(engine, address, workers)
    gate = GateSettings(metric=metric, bound=bound, simulator_guardrails=False, prompts_margin=margin(prompts_margin, "--prompts-margin"),
                        usefulness_margin=margin(usefulness_margin, "--usefulness-margin"))
    settings = LoopSettings(rounds=rounds, conversations=conversations, seed=seed, runs=runs,
                            candidates=tuple(candidates) if candidates else DEFAULT_CANDIDATES, exploration=exploration,
                            canary=CanarySettings(share=canary_share, looks=canary_looks), gate=gate, train_steps=steps,
                            bootstrap=bootstrap, fqe_steps=fqe_steps, truth_conversations=truth_conversations,
                            workers=workers, part_size=part_size, faults=tuple(faults or ()))
    result = run_loop(settings, Reporter())
    summary = result.summary
    if as_json:
        print_json({"ledger": str(result.ledger), "seconds": round(result.seconds, 1), **summary})
        return
    table = Table(title=f"{runs}: {settings.rounds} rounds of {settings.conversations:,} users")
    for column in ("round", "serving", "canary", "true success", "true prompts"):
        table.add_column(column)
    for x in summary["rounds"]:
        table.add_row(str(x["round"]), x["policy"], x["canary"] or "-", "-" if x["truth_success"] is None else f"{x['truth_success']:.3f}",
                      "-" if x["truth_prompts"] is None else f"{x['truth_prompts']:.2f}")
    out.print(table)
    counts = (f"{summary['false_promotions']} false, {summary['missed_promotions']} missed" if summary["false_promotions"]
              is not None else "false and missed unknown without the truth")
    out.print(f"final policy {summary['final_policy']}; {len(summary['rollouts'])} rollouts, {counts}; faults: "
              + (", ".join(f"{f['kind']}@{f['round']} caught by {f['caught_by'] or 'nothing'}" for f in summary["faults"]) or "none"))
    for f in summary["faults_not_planted"]:
        out.print(f"fault {f['kind']}@{f['round']} was not planted: {f['reason']}")
    out.print(f"ledger: {result.ledger}; report: segue report --loop {runs}")


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
    engine: Engine = "local",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """The main job: simulate logs, train policies, evaluate them off-policy, write the report, promote through the gate.

    Steps already done (logs with the same settings, trained policies) are reused.
    """
    from .workflows.pipeline import PipelineSettings, run_pipeline

    use_engine(engine, address, workers)

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
