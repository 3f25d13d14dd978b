"""Train one policy on logs and register it (``segue train``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from dialogue.features import Featurizer
from dialogue.prompts import PROMPT_CATALOGUE_VERSION
from evaluation.ab import ABSettings, run_ab
from logs.dataset import to_transitions
from logs.store import common_manifest, logs_fingerprint, read_logs
from policy.errors import PolicyError
from policy.registry import PolicyRecord, read_record, remove_staging, save_policy, update_evaluation
from policy.train import TrainConfig, train
from recommender.catalog import Catalog

from ..progress import Reporter

__all__ = ["TrainJob", "train_policy"]


@dataclass(frozen=True)
class TrainJob:
    """Train ``config`` on the logs in ``logs`` (one folder or several, read together: e.g. simulated logs and
    ``runs/chats``) and save the policy to ``out`` (a new folder; its name is the policy's name).
    ``eval_conversations`` > 0 runs it in the simulator (the logs' world) and stores the figures in its record."""

    logs: tuple[Path, ...]
    out: Path
    config: TrainConfig
    eval_conversations: int = 2_000

    def __post_init__(self) -> None:
        logs = (self.logs,) if isinstance(self.logs, (str, Path)) else tuple(self.logs)
        object.__setattr__(self, "logs", tuple(Path(p) for p in logs))
        if not self.logs:
            raise ConfigError("give at least one --logs folder")
        if self.eval_conversations < 0:
            raise ConfigError(f"--eval-conversations must be >= 0, got {self.eval_conversations}")


def train_policy(job: TrainJob, reporter: Reporter | None = None) -> PolicyRecord:
    """Train, save atomically (nothing is left behind when training fails), evaluate in the simulator.

    Raises ``PolicyError`` when ``out`` is taken, the logs' features are not this Segue's, or training diverges;
    ``LogValidationError`` for logs that do not validate.
    """
    reporter = reporter or Reporter.silent()
    out, config = Path(job.out), job.config
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PolicyError(f"{out} exists and is not empty; choose another --out")
    manifest = common_manifest(job.logs, variant=config.features)
    catalog = Catalog.load(manifest.catalog_path)
    layout = Featurizer(catalog.genre_names, config.features, manifest.scorer_version).layout
    where = ", ".join(map(str, job.logs))
    reporter.line(f"reading {where} ...")
    table = read_logs(job.logs)
    reporter.note_unread(job.logs)
    data = to_transitions(table, features=config.features)
    if data.feature_names != layout.names:
        raise PolicyError(f"{where} was logged with other state features than this Segue builds ({layout.version}); "
                          "simulate new logs")
    staging = out.with_name(f".{out.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)  # a crashed run's leftovers
    staging.mkdir(parents=True)
    try:
        with reporter.bar(f"training {config.algo} ({config.features})", config.learner.total_steps(config.steps)) as update:
            result = train(data, config, staging, name=out.name, progress=update)
        record = PolicyRecord(
            name=out.name, algo=config.algo, features=config.features, feature_version=layout.version,
            prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config=config.to_dict(),
            logs={"path": where, "paths": [str(p) for p in job.logs], "fingerprint": logs_fingerprint(job.logs),
                  "conversations": data.n_conversations,
                  "turns": len(data), "catalog_fingerprint": catalog.fingerprint, "settings": manifest.settings_json()},
            model_file=result.model_file, train_seconds=round(result.seconds, 2), feature_names=list(layout.names),
        )
        record.evaluation["training"] = result.stats
        save_policy(out, record, result.model, staging=staging)
    except BaseException:
        remove_staging(out)
        raise
    if job.eval_conversations:
        with reporter.bar("evaluating in the simulator", job.eval_conversations) as update:
            report = run_ab(ABSettings(policies=(str(out),), conversations=job.eval_conversations, seeds=1,
                                       catalog_path=manifest.catalog_path, simulator=manifest.simulator,
                                       scorer=manifest.scorer), progress=update)
        r = report.policies[str(out)]
        update_evaluation(out, "simulator", {
            "success_rate": r.success_rate, "success_rate_ci": list(r.success_rate_ci), "mean_prompts": r.mean_prompts,
            "mean_prompts_ci": list(r.mean_prompts_ci), "usefulness": r.usefulness, "usefulness_ci": list(r.usefulness_ci),
            "prompt_share": r.prompt_share, "most_asked": r.most_asked, "conversations": job.eval_conversations, "ab_seed": 0})
    return read_record(out)
