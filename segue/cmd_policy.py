"""Policy commands: ``segue train``, ``segue ab``, ``segue policy list|show|constant``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from policy.registry import DEFAULT_REGISTRY, RULE

from .app import app, err, out, policy_app, print_json
from .options import Address, Engine, Json, Registry, Workers, use_engine
from .progress import Reporter

__all__: list[str] = []


@app.command()
def train(
    logs_dirs: list[Path] = typer.Option(..., "--logs", help="Log folder (repeat it to train on several together, e.g. "
                                         "simulated logs and runs/chats)."),
    algo: str = typer.Option("cql", "--algo", help="Learner: cql (default), bcq, bc or regressor."),
    features: str = typer.Option("base", "--features", help="base, or history (adds listening-history features)."),
    out_dir: Path = typer.Option(..., "--out", help="Policy folder to create (e.g. runs/policies/cql-base)."),
    steps: int = typer.Option(15_000, "--steps", help="Gradient steps (d3rlpy learners)."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
    gamma: Optional[float] = typer.Option(None, "--gamma", help="Discount of cql and bcq (default 0.9)."),
    threads: int = typer.Option(0, "--threads", help="torch threads for training (0: the default, 1)."),
    eval_conversations: int = typer.Option(2_000, "--eval-conversations", help="Simulated conversations for the quick "
                                           "evaluation stored with the policy (0: none)."),
    as_json: Json = False,
) -> None:
    """Train a prompt-selection policy offline on labelled logs and save it with its record."""
    from policy.train import TrainConfig

    from .workflows.train import TrainJob, train_policy

    hyper = {} if gamma is None else {"gamma": gamma}
    config = TrainConfig.make(algo, features=features, steps=steps, seed=seed, threads=threads, **hyper)
    record = train_policy(TrainJob(tuple(logs_dirs), out_dir, config, eval_conversations), Reporter())
    if as_json:
        print_json(record.to_dict())
    else:
        out.print(_record_table(record, out_dir))


def _record_table(record, folder: Path) -> Table:
    table = Table(title=f"policy {record.name} ({folder})", show_header=False)
    table.add_column("key")
    table.add_column("value")
    table.add_row("algorithm / features", f"{record.algo} / {record.features}")
    table.add_row("feature version / prompt catalogue", f"{record.feature_version} / {record.prompt_catalogue_version}")
    table.add_row("trained on", f"{record.logs.get('path')} ({record.logs.get('conversations', 0):,} conversations, "
                                f"fingerprint {record.logs.get('fingerprint')})")
    table.add_row("training time", f"{record.train_seconds:.1f} s")
    table.add_row("created", record.created)
    sim = record.evaluation.get("simulator")
    if sim:
        table.add_row("simulator", f"success {sim['success_rate']:.3f}, {sim['mean_prompts']:.2f} prompts, usefulness "
                                   f"{sim['usefulness']:.2f} ({sim['conversations']:,} conversations); asks {sim['most_asked']} most")
    return table


@app.command()
def ab(
    policies: list[str] = typer.Option(..., "--policy", help="A policy: 'rule', a policy folder, or a name in the registry; "
                                       "NAME@SCORER serves it with its own scorer (e.g. @popularity). Repeat it."),
    conversations: int = typer.Option(20_000, "--conversations", help="Simulated conversations per seed."),
    seeds: int = typer.Option(5, "--seeds", help="Seeds (independent sets of simulated users)."),
    registry: Registry = DEFAULT_REGISTRY,
    workers: Workers = None,
    scorer: str = typer.Option("baseline", "--scorer", help="baseline, popularity (the same samples for everyone), or an "
                               "embeddings folder (segue embeddings train)."),
    engine: Engine = "local",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Run policies on the same simulated users (paired) and compare them."""
    from core.errors import ConfigError
    from evaluation.ab import ABSettings, run_ab

    use_engine(engine, address, workers)

    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    settings = ABSettings(policies=tuple(policies), conversations=conversations, seeds=seeds, registry=str(registry), scorer=scorer)
    with Reporter().bar("simulating", conversations * seeds) as update:
        report = run_ab(settings, workers=workers, progress=update)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"A/B: {seeds} seed(s) x {conversations:,} conversations, paired; relative to {report.reference}")
    for column in ("policy", "success [95% CI]", "prompts [95% CI]", "usefulness [95% CI]", "success vs ref", "prompts vs ref", "asks most"):
        table.add_column(column, justify="left" if column in ("policy", "asks most") else "right")
    for name, r in report.policies.items():
        vs = r.vs_reference
        table.add_row(
            name,
            f"{r.success_rate:.3f} [{r.success_rate_ci[0]:.3f}, {r.success_rate_ci[1]:.3f}]",
            f"{r.mean_prompts:.2f} [{r.mean_prompts_ci[0]:.2f}, {r.mean_prompts_ci[1]:.2f}]",
            f"{r.usefulness:.2f} [{r.usefulness_ci[0]:.2f}, {r.usefulness_ci[1]:.2f}]",
            f"{vs['success_rate'].relative:+.1%}" if vs["success_rate"].relative is not None else "-",
            f"{vs['mean_prompts'].relative:+.1%}" if vs["mean_prompts"].relative is not None else "-",
            f"{r.most_asked} ({r.prompt_share[r.most_asked]:.0%})",
        )
    out.print(table)


@policy_app.command("list")
def policy_list(registry: Registry = DEFAULT_REGISTRY, as_json: Json = False) -> None:
    """The policies in the registry, and which one is current."""
    from policy.errors import PolicyError
    from policy.registry import current_policy, list_policies, read_record

    if not registry.is_dir():
        err.print(f"[dim](no registry at {escape(str(registry))} yet: only the built-in rule policy)[/]")
    records = list_policies(registry)
    current = current_policy(registry)
    if as_json:
        print_json({"current": current, "policies": [r.to_dict() for r in records]})
        return
    table = Table(title=f"{registry}: current policy is {current}")
    for column in ("name", "algorithm", "features", "trained on", "simulator success", "prompts", "created"):
        table.add_column(column)
    table.add_row("rule" + (" *" if current == RULE else ""), "rule-based", "base", "-", "-", "-", "-")
    rows = [(r.name, r) for r in records]
    if current != RULE and current not in {r.name for r in records}:  # promoted from a folder outside the registry
        try:
            rows.append((current, read_record(Path(current))))
        except PolicyError as exc:
            err.print(f"[yellow]warning:[/] the current policy {escape(current)} cannot be read: {escape(str(exc))}")
    for name, r in rows:
        sim = r.evaluation.get("simulator", {})
        table.add_row(name + (" *" if name == current else ""), r.algo, str(r.features), f"{r.logs.get('conversations', 0):,} conv.",
                      f"{sim['success_rate']:.3f}" if sim else "-", f"{sim['mean_prompts']:.2f}" if sim else "-", r.created)
    table.caption = "*: the current policy"
    out.print(table)


@policy_app.command("show")
def policy_show(
    ref: str = typer.Argument(..., help="A policy folder or a name in the registry."),
    registry: Registry = DEFAULT_REGISTRY,
    as_json: Json = False,
) -> None:
    """Everything recorded about one policy."""
    from policy.registry import read_record, resolve

    if ref == RULE:  # nothing was trained or recorded: say what it is
        described = {"name": RULE, "builtin": True, "features": "base", "source": "policy/rule.py",
                     "description": "the built-in rule-based baseline: a fixed, semi-scripted order (an open question, the "
                                    "genre, energy and mood, samples, an artist, a station) over base features; "
                                    "not trained, so it has no record"}
        if as_json:
            print_json(described)
        else:
            out.print(f"{RULE}: {described['description']} (see {described['source']})", highlight=False)
        return
    folder = resolve(ref, registry)
    record = read_record(folder)
    if as_json:
        print_json(record.to_dict())
    else:
        out.print(_record_table(record, folder))


@policy_app.command("constant")
def constant(
    prompt: str = typer.Argument(..., help="The prompt id to always ask (e.g. play_sample)."),
    out_dir: Path = typer.Option(..., "--out", help="Policy folder to create."),
) -> None:
    """Register a deliberately bad policy that always asks the same prompt (to check that the gate refuses it)."""
    from policy.registry import constant_record, save_policy
    from recommender.catalog import Catalog

    save_policy(out_dir, constant_record(out_dir.name, prompt, Catalog.load()), None)
    out.print(f"saved constant policy {out_dir} (always {prompt} when valid)")

