"""Evaluation commands: ``segue evaluate``, ``segue report``, ``segue policy promote|rollback|history|constant``, ``segue pipeline``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from core.errors import ConfigError, SegueError

from .app import app, err, out, policy_app, print_json, progress_bar

REGISTRY = Path("runs/policies")
REGISTRY_HELP = "Registry folder (policies by name, CURRENT, history)."


def _settings(estimators: list[str] | None, q_models: list[str] | None, bootstrap: int, confidence: float, seed: int, fqe_steps: int):
    from evaluation.estimators import DEFAULT_ESTIMATORS
    from evaluation.ope import OPESettings
    from evaluation.qmodel import FQESettings

    return OPESettings(estimators=tuple(estimators or DEFAULT_ESTIMATORS), q_models=tuple(q_models or ("fqe",)), bootstrap=bootstrap,
                       confidence=confidence, seed=seed, fqe=FQESettings(steps=fqe_steps, seed=seed))


class _Stages:
    """One progress bar line per stage (target choices, Q models, bootstrap, simulation)."""

    def __init__(self, bar) -> None:
        self.bar, self.tasks = bar, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def _evaluate(logs: Path, policies: list[str], registry: Path, settings, truth_conversations: int):
    from evaluation.evaluate import evaluate_logs

    with progress_bar() as bar:
        return evaluate_logs(logs, policies, registry=registry, settings=settings, truth_conversations=truth_conversations,
                             progress=_Stages(bar))


def _print_evaluation(report: dict) -> None:
    from evaluation.data import METRICS

    for policy, entry in report["policies"].items():
        if not entry["supported"]:
            out.print(f"[bold]{policy}[/]: [red]{entry['support']['message']}[/]")
            continue
        d = entry["diagnostics"]
        table = Table(title=f"{policy}: effective sample size {d['ess']:.0f} of {report['conversations']:,} conversations")
        table.add_column("estimator")
        for metric in METRICS:
            table.add_column(metric, justify="right")
        for name, per_metric in entry["estimators"].items():
            cells = []
            for metric in METRICS:
                e = per_metric[metric]
                cell = "-" if e["estimate"] is None else f"{e['estimate']:.3f}"
                if e["ci"]:
                    cell += f" [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}]"
                err_ = (entry.get("errors") or {}).get(name, {}).get(metric)
                if err_ and err_["relative_error"] is not None:
                    cell += f" {err_['relative_error']:+.1%}" + ("" if err_["covered"] else " [red]x[/]")
                cells.append(cell)
            table.add_row(name, *cells)
        if entry.get("truth"):
            table.add_row("[bold]simulator truth[/]", *(f"{entry['truth'][m]:.3f}" for m in METRICS))
        out.print(table)


ESTIMATOR_HELP = "Estimator(s) to run (repeat): is, wis, pdis, wpdis, dm, dr, wdr (default: all)."
Q_HELP = "Q model(s) for dm/dr/wdr (repeat): fqe (d3rlpy DiscreteFQE, default), regressor (gradient-boosted trees)."


@app.command()
def evaluate(
    logs: Path = typer.Option(..., "--logs", help="Log folder from `segue simulate`."),
    policies: list[str] = typer.Option(..., "--policy", help="A policy: 'rule', a policy folder, or a name in the registry. Repeat it."),
    truth: bool = typer.Option(False, "--truth", help="Also run each policy on-policy in the simulator (the ground truth)."),
    truth_conversations: int = typer.Option(20_000, "--truth-conversations", help="Simulated conversations for --truth."),
    estimators: Optional[list[str]] = typer.Option(None, "--estimator", help=ESTIMATOR_HELP),
    q_models: Optional[list[str]] = typer.Option(None, "--q-model", help=Q_HELP),
    bootstrap: int = typer.Option(1_000, "--bootstrap", help="Bootstrap resamples of conversations (0: no intervals)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Interval level."),
    fqe_steps: int = typer.Option(2_000, "--fqe-steps", help="FQE gradient steps per metric."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and the Q-model fits."),
    registry: Path = typer.Option(REGISTRY, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Estimate policies off-policy on logged conversations, with intervals (and the simulator's truth)."""
    settings = _settings(estimators, q_models, bootstrap, confidence, seed, fqe_steps)
    evaluation = _evaluate(logs, policies, registry, settings, truth_conversations if truth else 0)
    if as_json:
        print_json(evaluation.report)
    else:
        _print_evaluation(evaluation.report)


def _gates(evaluation, registry: Path, candidates: list[str], current: str, gate_settings, simulation: dict | None) -> list[dict]:
    from evaluation.evaluate import _logs_settings, simulate_truth
    from evaluation.gate import gate_decision

    if simulation is None or any(p not in simulation for p in [*candidates, current]):
        with progress_bar() as bar:
            task = bar.add_task("simulator guardrails", total=gate_settings.sim_conversations)
            simulation = simulate_truth([*candidates, current], conversations=gate_settings.sim_conversations, registry=registry,
                                        logs_settings=_logs_settings(Path(evaluation.report["logs"])),
                                        progress=lambda done, total: bar.update(task, completed=done))
    return [gate_decision(c, current, evaluation.result, simulation, gate_settings) for c in candidates if c != current]


@app.command()
def report(
    logs: Path = typer.Option(..., "--logs", help="Log folder from `segue simulate`."),
    policies: list[str] = typer.Option(..., "--policy", help="A policy to report on. Repeat it."),
    out_file: Path = typer.Option(Path("runs/report.html"), "--out", help="HTML file to write (the Markdown summary goes beside it, .md)."),
    truth: bool = typer.Option(True, "--truth/--no-truth", help="Run each policy in the simulator for the ground truth."),
    truth_conversations: int = typer.Option(20_000, "--truth-conversations", help="Simulated conversations for the truth."),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Show the gate's decision for each policy against the current one."),
    estimators: Optional[list[str]] = typer.Option(None, "--estimator", help=ESTIMATOR_HELP),
    q_models: Optional[list[str]] = typer.Option(None, "--q-model", help=Q_HELP),
    bootstrap: int = typer.Option(1_000, "--bootstrap", help="Bootstrap resamples of conversations."),
    fqe_steps: int = typer.Option(2_000, "--fqe-steps", help="FQE gradient steps per metric."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and the Q-model fits."),
    registry: Path = typer.Option(REGISTRY, "--registry", help=REGISTRY_HELP),
) -> None:
    """Write an evaluation report: one self-contained HTML file plus a Markdown summary."""
    if out_file.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out must name an .html file, got {out_file}")
    from evaluation.gate import GateSettings
    from policy.registry import current_policy

    settings = _settings(estimators, q_models, bootstrap, 0.95, seed, fqe_steps)
    current = current_policy(registry)
    evaluated = list(dict.fromkeys([*policies, current])) if gate else policies
    evaluation = _evaluate(logs, evaluated, registry, settings, truth_conversations if truth else 0)
    gates = []
    if gate:
        simulation = {p: e["truth_detail"] for p, e in evaluation.report["policies"].items() if e.get("truth_detail")}
        gates = _gates(evaluation, registry, policies, current, GateSettings(), simulation or None)
    html_path, md_path = _write(evaluation.report, out_file, gates, registry)
    out.print(f"wrote {html_path} and {md_path}")


def _write(report_data: dict, out_file: Path, gates: list[dict], registry: Path):
    from evaluation.report import write_report
    from policy.registry import resolve

    folders = {}
    for name in report_data["policies"]:
        try:
            folders[name] = resolve(name, registry)
        except SegueError:
            folders[name] = None
    return write_report(report_data, out_file, gates=gates, policy_folders=folders)


@policy_app.command("promote")
def promote(
    candidate: str = typer.Argument(..., help="The policy to promote (a name in the registry or a folder)."),
    logs: Path = typer.Option(..., "--logs", help="Logs to estimate candidate and current policy on (paired)."),
    metric: str = typer.Option("usefulness", "--metric", help="Gate metric: usefulness, success_rate or prompts."),
    estimator: str = typer.Option("dr", "--estimator", help="Gate estimator (default dr)."),
    bootstrap: int = typer.Option(1_000, "--bootstrap", help="Bootstrap resamples."),
    confidence: float = typer.Option(0.95, "--confidence", help="Level of the improvement's interval."),
    sim_conversations: int = typer.Option(2_000, "--sim-conversations", help="Simulated users for the guardrails."),
    max_prompt_share: float = typer.Option(0.9, "--max-prompt-share", help="Guardrail: the most-asked prompt's largest share."),
    fqe_steps: int = typer.Option(2_000, "--fqe-steps", help="FQE gradient steps per metric."),
    registry: Path = typer.Option(REGISTRY, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
) -> None:
    """Make CANDIDATE current only if it improves on the current policy with high confidence and the guardrails hold."""
    from evaluation.gate import GateSettings
    from policy.registry import current_policy, record_event, set_current

    if metric == "prompts":
        raise ConfigError("--metric prompts: fewer prompts is better, so the gate cannot use it as an improvement; use usefulness or success_rate")
    gate_settings = GateSettings(metric=metric, estimator=estimator, max_prompt_share=max_prompt_share, sim_conversations=sim_conversations)
    current = current_policy(registry)
    if candidate == current:
        raise ConfigError(f"{candidate} is already the current policy")
    settings = _settings([estimator], None, bootstrap, confidence, 0, fqe_steps)
    evaluation = _evaluate(logs, [candidate, current], registry, settings, 0)
    decision = _gates(evaluation, registry, [candidate], current, gate_settings, None)[0]
    evidence = {"logs": str(logs), "decision": decision}
    if decision["promote"]:
        set_current(candidate, registry=registry, action="promote", reason="gate passed", evidence=evidence)
    else:
        record_event(registry, {"action": "refused", "from": current, "to": candidate,
                                "reason": "gate failed: " + ", ".join(decision["failed"]), "evidence": evidence})
    if as_json:
        print_json(decision)
    else:
        for c in decision["conditions"]:
            out.print(f"  {'[green]pass[/]' if c['passed'] else '[red]FAIL[/]'} {c['name']}: {c['detail']}", highlight=False)
        if decision["promote"]:
            out.print(f"[bold green]promoted[/] {candidate} (was {current})")
    if not decision["promote"]:
        err.print(f"[bold red]refused:[/] {candidate} stays a candidate; {current} remains current "
                  f"(failed: {', '.join(decision['failed'])})", highlight=False)
        raise typer.Exit(1)


@policy_app.command("rollback")
def rollback_command(
    registry: Path = typer.Option(REGISTRY, "--registry", help=REGISTRY_HELP),
) -> None:
    """Make the previous current policy current again (recorded in the history)."""
    from policy.registry import rollback

    entry = rollback(registry)
    out.print(f"rolled back: {entry['from']} -> {entry['to']} is current")


@policy_app.command("history")
def history(
    registry: Path = typer.Option(REGISTRY, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every promotion, refusal and rollback, oldest first."""
    from policy.registry import current_policy, policy_history

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


@policy_app.command("constant")
def constant(
    prompt: str = typer.Argument(..., help="The prompt id to always ask (e.g. play_sample)."),
    out_dir: Path = typer.Option(..., "--out", help="Policy folder to create."),
) -> None:
    """Register a deliberately bad policy that always asks the same prompt (to check that the gate refuses it)."""
    from policy.registry import constant_record, save_policy
    from recommender.catalog import Catalog

    record = constant_record(out_dir.name, prompt, Catalog.load())
    save_policy(out_dir, record, None)
    out.print(f"saved constant policy {out_dir} (always {prompt} when valid)")


@app.command()
def pipeline(
    conversations: int = typer.Option(50_000, "--conversations", "-n", help="Conversations to log."),
    seed: int = typer.Option(1, "--seed", help="Seed of the logs."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Working folder: logs/, policies/, report.html."),
    truth_conversations: int = typer.Option(5_000, "--truth-conversations", help="Simulated conversations per policy for the truth and the guardrails."),
    bootstrap: int = typer.Option(1_000, "--bootstrap", help="Bootstrap resamples."),
    promote_best: bool = typer.Option(True, "--promote/--no-promote", help="Run the gate and promote the best candidate that passes."),
) -> None:
    """The main job: simulate logs, train policies, evaluate them off-policy, write the report, promote through the gate.

    Steps already done (logs with the same settings, trained policies) are reused.
    """
    from evaluation.gate import GateSettings
    from policy.registry import current_policy, set_current

    from .cmd_data import simulate
    from .cmd_policy import train

    logs = runs / "logs"
    registry = runs / "policies"
    err.print(f"[bold]1/5 simulate[/] {conversations:,} conversations -> {logs}")
    simulate(conversations=conversations, seed=seed, out_dir=logs, exploration=0.3, temperature=1.0, part_size=2_500, workers=None,
             catalog=None, nlu_error_rate=0.08, as_json=False)
    candidates = []
    for algo, features in (("cql", "base"), ("regressor", "base"), ("regressor", "history")):
        name = f"{algo}-{features}"
        candidates.append(name)
        if (registry / name / "policy.json").is_file():
            err.print(f"[bold]2/5 train[/] {name}: already trained, reused")
            continue
        err.print(f"[bold]2/5 train[/] {name}")
        train(logs_dir=logs, algo=algo, features=features, out_dir=registry / name, steps=15_000, seed=0, gamma=0.9,
              eval_conversations=2_000, as_json=False)
    current = current_policy(registry)
    err.print(f"[bold]3/5 evaluate[/] {', '.join(candidates)} and the current policy ({current}) on {logs}")
    settings = _settings(None, None, bootstrap, 0.95, 0, 2_000)
    evaluation = _evaluate(logs, list(dict.fromkeys([*candidates, current])), registry, settings, truth_conversations)
    (runs / "evaluation.json").write_text(json.dumps(evaluation.report, indent=2))
    _print_evaluation(evaluation.report)
    simulation = {p: e["truth_detail"] for p, e in evaluation.report["policies"].items() if e.get("truth_detail")}
    gate_settings = GateSettings(sim_conversations=truth_conversations)
    gates = _gates(evaluation, registry, candidates, current, gate_settings, simulation)
    err.print("[bold]4/5 report[/]")
    html_path, md_path = _write(evaluation.report, runs / "report.html", gates, registry)
    out.print(f"report: {html_path} (summary {md_path})")
    err.print("[bold]5/5 promote[/]")
    passing = [g for g in gates if g["promote"]]
    for g in gates:
        verdict = "[green]passes[/]" if g["promote"] else f"[red]refused[/] ({', '.join(g['failed'])})"
        out.print(f"  gate {g['candidate']} over {current}: {verdict}", highlight=False)
    if not promote_best:
        out.print(f"current policy: {current} (--no-promote)")
        return
    if not passing:
        out.print(f"no candidate passes the gate: {current} stays current")
        return
    best = max(passing, key=lambda g: g["improvement"]["ci"][0])
    set_current(best["candidate"], registry=registry, action="promote", reason="gate passed (pipeline)",
                evidence={"logs": str(logs), "decision": best})
    out.print(f"[bold green]promoted[/] {best['candidate']} (was {current}): largest lower bound of improvement "
              f"{best['improvement']['ci'][0]:+.3f} {gate_settings.metric} per conversation")
