"""Policy commands: ``segue train``, ``segue ab``, ``segue policy list|show``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from core.errors import ConfigError, SegueError
from policy.errors import PolicyError

from .app import app, err, out, policy_app, print_json, progress_bar

REGISTRY_HELP = "Registry folder (policies by name, CURRENT, history)."


def logs_fingerprint(folder: Path) -> str:
    """sha256 over the names and contents of a log folder's parts."""
    from logs.store import list_parts

    digest = hashlib.sha256()
    for part in list_parts(folder):
        digest.update(part.name.encode())
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@app.command()
def train(
    logs_dir: Path = typer.Option(..., "--logs", help="Log folder from `segue simulate`."),
    algo: str = typer.Option("cql", "--algo", help="cql (default), bcq, bc or regressor."),
    features: str = typer.Option("base", "--features", help="base, or history (adds listening-history features)."),
    out_dir: Path = typer.Option(..., "--out", help="Policy folder to create (e.g. runs/policies/cql-base)."),
    steps: int = typer.Option(15_000, "--steps", help="Gradient steps (d3rlpy learners)."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
    gamma: float = typer.Option(0.9, "--gamma", help="Discount (cql, bcq)."),
    eval_conversations: int = typer.Option(2_000, "--eval-conversations", help="Simulated conversations for the quick evaluation stored with the policy (0: none)."),
    as_json: bool = typer.Option(False, "--json", help="Print the policy record as JSON."),
) -> None:
    """Train a prompt-selection policy offline on labelled logs and save it with its record."""
    from dialogue.features import Featurizer
    from dialogue.prompts import PROMPT_CATALOGUE_VERSION
    from logs.dataset import to_transitions
    from logs.store import log_info, read_logs
    from policy.registry import PolicyRecord, read_record, remove_staging, save_policy, update_evaluation
    from policy.train import TrainConfig
    from policy.train import train as train_policy
    from recommender.catalog import Catalog

    config = TrainConfig(algo=algo, features=features, steps=steps, seed=seed, gamma=gamma)
    if eval_conversations < 0:
        raise ConfigError(f"--eval-conversations must be >= 0, got {eval_conversations}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise PolicyError(f"{out_dir} exists and is not empty; choose another --out")
    info = log_info(logs_dir)
    settings = json.loads(info.metadata.get("segue.settings", "{}"))
    catalog = Catalog.load(settings.get("catalog_path"))
    from recommender.embedding_scorer import make_scorer

    layout = Featurizer(catalog.genre_names, features, make_scorer(settings.get("scorer"), catalog, device="cpu").version).layout
    err.print(f"reading {logs_dir} ...")
    table = read_logs(logs_dir)
    data = to_transitions(table, features=features)
    if data.feature_names != layout.names:
        raise PolicyError(f"{logs_dir} was logged with other state features than this Segue builds ({layout.version}); simulate new logs")
    name = out_dir.name
    staging = out_dir.with_name(f".{out_dir.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)  # a crashed run's leftovers
    staging.mkdir(parents=True)
    try:
        with progress_bar() as bar:
            total = config.regressor.max_iter if algo == "regressor" else steps
            task = bar.add_task(f"training {algo} ({features})", total=total)
            result = train_policy(data, config, staging, name=name,
                                  progress=lambda done, total_: bar.update(task, completed=done, total=total_))
        record = PolicyRecord(
            name=name, algo=algo, features=features, feature_version=layout.version,
            prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config=config.to_dict(),
            logs={"path": str(logs_dir), "fingerprint": logs_fingerprint(logs_dir), "conversations": data.n_conversations,
                  "turns": len(data), "catalog_fingerprint": catalog.fingerprint, "settings": settings},
            model_file=result.model_file, train_seconds=round(result.seconds, 2), feature_names=list(layout.names),
        )
        record.evaluation["training"] = result.stats
        save_policy(out_dir, record, result.model, staging=staging)
    except BaseException:
        remove_staging(out_dir)
        raise
    if eval_conversations:
        from evaluation.ab import ABSettings, run_ab

        with progress_bar() as bar:
            task = bar.add_task("evaluating in the simulator", total=eval_conversations)
            report = run_ab(ABSettings(policies=(str(out_dir),), conversations=eval_conversations, seeds=1,
                                       catalog_path=settings.get("catalog_path"), scorer=settings.get("scorer", "baseline")),
                            progress=lambda done, total: bar.update(task, completed=done))
        figures = report["policies"][str(out_dir)]
        update_evaluation(out_dir, "simulator", {k: figures[k] for k in ("success_rate", "success_rate_ci", "mean_prompts",
                                                                          "mean_prompts_ci", "usefulness", "usefulness_ci",
                                                                          "prompt_share", "most_asked")}
                          | {"conversations": eval_conversations, "ab_seed": 0})
    record = read_record(out_dir)
    if as_json:
        print_json(json.loads(record.to_json()))
    else:
        out.print(_record_table(record, out_dir))


def _record_table(record, folder: Path) -> Table:
    table = Table(title=f"policy {record.name} ({folder})", show_header=False)
    table.add_column("key")
    table.add_column("value")
    table.add_row("algorithm / features", f"{record.algo} / {record.features}")
    table.add_row("feature version / prompt catalogue", f"{record.feature_version} / {record.prompt_catalogue_version}")
    table.add_row("trained on", f"{record.logs.get('path')} ({record.logs.get('conversations', 0):,} conversations, fingerprint {record.logs.get('fingerprint')})")
    table.add_row("training time", f"{record.train_seconds:.1f} s")
    table.add_row("created", record.created)
    sim = record.evaluation.get("simulator")
    if sim:
        table.add_row("simulator", f"success {sim['success_rate']:.3f}, {sim['mean_prompts']:.2f} prompts, usefulness {sim['usefulness']:.2f} "
                                   f"({sim['conversations']:,} conversations); asks {sim['most_asked']} most")
    return table


@app.command()
def ab(
    policies: list[str] = typer.Option(..., "--policy", help="A policy: 'rule', a policy folder, or a name in the registry. Repeat it."),
    conversations: int = typer.Option(20_000, "--conversations", help="Simulated conversations per seed."),
    seeds: int = typer.Option(5, "--seeds", help="Seeds (independent sets of simulated users)."),
    registry: Path = typer.Option(Path("runs/policies"), "--registry", help=REGISTRY_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    scorer: str = typer.Option("baseline", "--scorer", help="baseline, or an embeddings folder (segue embeddings train)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run policies on the same simulated users (paired) and compare them."""
    from evaluation.ab import ABSettings, run_ab

    if workers is not None and workers < 1:
        raise SegueError(f"--workers must be >= 1, got {workers}")
    settings = ABSettings(policies=tuple(policies), conversations=conversations, seeds=seeds, registry=str(registry), scorer=scorer)
    with progress_bar() as bar:
        task = bar.add_task("simulating", total=conversations * seeds)
        report = run_ab(settings, workers=workers, progress=lambda done, total: bar.update(task, completed=done))
    if as_json:
        print_json(report)
        return
    table = Table(title=f"A/B: {seeds} seed(s) x {conversations:,} conversations, paired; relative to {report['reference']}")
    for column in ("policy", "success [95% CI]", "prompts [95% CI]", "usefulness [95% CI]", "success vs ref", "prompts vs ref", "asks most"):
        table.add_column(column, justify="left" if column in ("policy", "asks most") else "right")
    for name, r in report["policies"].items():
        vs = r["vs_reference"]
        table.add_row(
            name,
            f"{r['success_rate']:.3f} [{r['success_rate_ci'][0]:.3f}, {r['success_rate_ci'][1]:.3f}]",
            f"{r['mean_prompts']:.2f} [{r['mean_prompts_ci'][0]:.2f}, {r['mean_prompts_ci'][1]:.2f}]",
            f"{r['usefulness']:.2f} [{r['usefulness_ci'][0]:.2f}, {r['usefulness_ci'][1]:.2f}]",
            f"{vs['success_rate']['relative']:+.1%}" if vs["success_rate"]["relative"] is not None else "-",
            f"{vs['mean_prompts']['relative']:+.1%}" if vs["mean_prompts"]["relative"] is not None else "-",
            f"{r['most_asked']} ({r['prompt_share'][r['most_asked']]:.0%})",
        )
    out.print(table)


@policy_app.command("list")
def policy_list(
    registry: Path = typer.Option(Path("runs/policies"), "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The policies in the registry, and which one is current."""
    from policy.registry import current_policy, list_policies

    records = list_policies(registry)
    current = current_policy(registry)
    if as_json:
        print_json({"current": current, "policies": [json.loads(r.to_json()) for r in records]})
        return
    table = Table(title=f"{registry}: current policy is {current}")
    for column in ("name", "algorithm", "features", "trained on", "simulator success", "prompts", "created"):
        table.add_column(column)
    table.add_row("rule" + (" *" if current == "rule" else ""), "rule-based", "base", "-", "-", "-", "-")
    for r in records:
        sim = r.evaluation.get("simulator", {})
        table.add_row(r.name + (" *" if r.name == current else ""), r.algo, r.features, f"{r.logs.get('conversations', 0):,} conv.",
                      f"{sim['success_rate']:.3f}" if sim else "-", f"{sim['mean_prompts']:.2f}" if sim else "-", r.created)
    out.print(table)


@policy_app.command("show")
def policy_show(
    ref: str = typer.Argument(..., help="A policy folder or a name in the registry."),
    registry: Path = typer.Option(Path("runs/policies"), "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Everything recorded about one policy."""
    from policy.registry import RULE, read_record, resolve

    if ref == RULE:
        raise PolicyError("'rule' is the built-in rule-based baseline: it has no record (see policy/rule.py)")
    folder = resolve(ref, registry)
    record = read_record(folder)
    if as_json:
        print_json(json.loads(record.to_json()))
    else:
        out.print(_record_table(record, folder))
