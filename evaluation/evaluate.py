"""``segue evaluate``: policies from the registry, estimated on a log folder, checked against the simulator.

The ground truth: because the simulator is the world, each policy can also be
run on-policy against simulated users drawn exactly as the logs' users were
(the simulator settings recorded in the logs), and every estimate is then
reported with its relative error and whether its interval covers the truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from policy.registry import DEFAULT_REGISTRY, load_policy
from recommender.catalog import Catalog

from .ab import ABSettings, run_ab
from .data import METRICS, OPEData
from .ope import OPEResult, OPESettings, evaluate_targets, target_probabilities

__all__ = ["Evaluation", "evaluate_logs", "simulate_truth", "attach_truth"]

_TRUTH_KEYS = {"usefulness": "usefulness", "success_rate": "success_rate", "prompts": "mean_prompts"}

Progress = Callable[[str, int, int], None]


class Evaluation:
    """The JSON-ready report (``report``) and the raw result (bootstrap draws) for paired comparisons."""

    def __init__(self, report: dict, result: OPEResult, data: OPEData, targets: dict[str, np.ndarray]) -> None:
        self.report, self.result, self.data, self.targets = report, result, data, targets


def _logs_settings(folder: Path) -> dict:
    from logs.store import log_info

    return json.loads(log_info(folder).metadata.get("segue.settings", "{}"))


def simulate_truth(policies: list[str], *, conversations: int, registry: Path, logs_settings: dict,
                   seed: int = 0, progress: Callable[[int, int], None] | None = None) -> dict:
    """On-policy figures of each policy in the simulator, with the logs' simulator settings."""
    settings = ABSettings(policies=tuple(policies), conversations=conversations, seeds=1, registry=str(registry),
                          catalog_path=logs_settings.get("catalog_path"), simulator=logs_settings.get("simulator"),
                          scorer=logs_settings.get("scorer", "baseline"), first_seed=seed)
    report = run_ab(settings, progress=progress)
    out = {}
    for name, r in report["policies"].items():
        out[name] = {
            "metrics": {m: r[_TRUTH_KEYS[m]] for m in METRICS},
            "ci": {m: r[f"{_TRUTH_KEYS[m]}_ci"] for m in METRICS},
            "conversations": conversations,
            "personas": r["personas"],
            "prompt_share": r["prompt_share"],
            "most_asked": r["most_asked"],
        }
    return out


def attach_truth(report: dict, truth: dict) -> None:
    """Add the truth, relative errors and coverage to each policy of an evaluation report."""
    for name, entry in report["policies"].items():
        t = truth.get(name)
        entry["truth"] = t["metrics"] if t else None
        entry["truth_detail"] = t
        if not t:
            continue
        errors = {}
        for estimator, per_metric in entry["estimators"].items():
            errors[estimator] = {}
            for metric, e in per_metric.items():
                value, ci, true = e["estimate"], e["ci"], t["metrics"][metric]
                errors[estimator][metric] = {
                    "relative_error": (value - true) / true if value is not None and true else None,
                    "covered": bool(ci[0] <= true <= ci[1]) if ci else None,
                }
        entry["errors"] = errors


def evaluate_logs(logs: str | Path, policies: list[str], *, registry: Path = DEFAULT_REGISTRY, settings: OPESettings | None = None,
                  truth_conversations: int = 0, truth_seed: int = 0, progress: Progress | None = None) -> Evaluation:
    """Estimate each policy on the logs; with ``truth_conversations`` > 0 also run it in the simulator."""
    settings = settings or OPESettings()
    if not policies:
        raise ConfigError("give at least one --policy")
    if len(set(policies)) != len(policies):
        raise ConfigError(f"each --policy once, got {', '.join(policies)}")
    if truth_conversations < 0:
        raise ConfigError(f"--truth-conversations must be >= 0, got {truth_conversations}")
    logs = Path(logs)
    logs_settings = _logs_settings(logs)
    catalog = Catalog.load(logs_settings.get("catalog_path"))
    from recommender.embedding_scorer import make_scorer

    version = make_scorer(logs_settings.get("scorer", "baseline"), catalog, device="cpu").version
    loaded = {ref: load_policy(ref, catalog=catalog, registry=registry, scorer_version=version) for ref in policies}  # fail fast
    data = OPEData.from_logs(logs)
    targets = {}
    for ref, (policy, variant) in loaded.items():
        report_progress = (lambda done, total, _r=ref: progress(f"{_r}: choices at logged states", done, total)) if progress else None
        targets[ref] = target_probabilities(policy, variant, data, progress=report_progress)
    result = evaluate_targets(data, targets, settings, progress=progress)
    report = {
        "logs": str(logs),
        "conversations": data.n_conversations,
        "turns": data.n_turns,
        "logging_policy": logs_settings and {"exploration": logs_settings.get("exploration"), "temperature": logs_settings.get("temperature"),
                                             "seed": logs_settings.get("seed")},
        "on_policy": result.on_policy,
        "settings": {"estimators": list(settings.estimators), "q_models": list(settings.q_models), "bootstrap": settings.bootstrap,
                     "confidence": settings.confidence, "seed": settings.seed, "fqe": settings.fqe.to_dict()},
        "seconds": round(result.seconds, 2),
        "policies": {name: {**entry, "truth": None} for name, entry in result.policies.items()},
    }
    if truth_conversations:
        report_progress = (lambda done, total: progress("ground truth in the simulator", done, total)) if progress else None
        truth = simulate_truth(policies, conversations=truth_conversations, registry=registry, logs_settings=logs_settings,
                               seed=truth_seed, progress=report_progress)
        attach_truth(report, truth)
    return Evaluation(report, result, data, targets)
