"""Policies from the registry, estimated on a log folder, checked against the simulator.

The ground truth: because the simulator is the world, each policy can also be
run on-policy against simulated users drawn exactly as the logs' users were
(the simulator settings the logs' manifest records), and every estimate is
then reported with its relative error and whether its interval covers the truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from dialogue.features import FeatureVariant
from logs.errors import LogValidationError
from logs.manifest import LogManifest
from logs.store import Folders, common_manifest, logs_fingerprint, read_manifests
from policy.errors import PolicyError, ScorerMismatchError
from policy.registry import DEFAULT_REGISTRY, load_policy, read_record, resolve
from recommender.catalog import Catalog

from .ab import ABSettings, run_ab
from .cache import OPECache, policy_fingerprint
from .data import METRICS, OPEData
from .ope import OPEResult, OPESettings, compact_q, evaluate_targets, target_probabilities
from .results import EstimateError, EvaluationReport, Truth

__all__ = ["Evaluation", "evaluate_logs", "simulate_truth", "attach_truth"]

Progress = Callable[[str, int, int], None]


@dataclass
class Evaluation:
    """The typed report, the raw result (bootstrap draws, for paired comparisons), the logs and each policy's
    distribution at the logged states."""

    report: EvaluationReport
    result: OPEResult
    data: OPEData
    targets: dict[str, np.ndarray]
    manifest: LogManifest  # what stands for the logs (``logs.store.common_manifest``): their world, catalog, scorer


def _describe(manifest: LogManifest) -> dict:
    collection = manifest.collection
    if collection is not None:  # simulated: the randomized behaviour policy's settings
        return {"exploration": collection.exploration, "temperature": collection.temperature, "seed": collection.seed}
    return {"name": manifest.logging_policy}


def _logging_policy(folders: Folders) -> dict:
    """The behaviour policy of the logs: one description, or with logs of several (simulated logs read with chats),
    ``{"mixed": [{"logs": folder, "parts": n, ...description}, ...]}`` (each described once per folder)."""
    seen: dict[tuple, dict] = {}
    for path, manifest in read_manifests(folders):
        entry = _describe(manifest)
        key = (str(path.parent), json.dumps(entry, sort_keys=True))
        seen.setdefault(key, {"logs": str(path.parent), "parts": 0, **entry})["parts"] += 1
    kinds = {k[1] for k in seen}
    if len(kinds) == 1:
        return json.loads(kinds.pop())
    return {"mixed": list(seen.values())}


def simulate_truth(policies: list[str], *, conversations: int, registry: Path, manifest: LogManifest | None = None,
                   seed: int = 0, progress: Callable[[int, int], None] | None = None) -> dict[str, Truth]:
    """On-policy figures of each policy in the simulator, with the logs' world, catalog and scorer (``manifest``;
    None: the default world, the vendored catalog and the baseline scorer)."""
    settings = ABSettings(policies=tuple(policies), conversations=conversations, seeds=1, registry=str(registry),
                          catalog_path=manifest.catalog_path if manifest else None,
                          simulator=manifest.simulator if manifest else None,
                          scorer=manifest.scorer if manifest else "baseline", first_seed=seed)
    report = run_ab(settings, progress=progress)
    return {
        name: Truth(metrics={m: r.metric(m) for m in METRICS}, ci={m: r.metric_ci(m) for m in METRICS},
                    conversations=conversations, personas={k: vars(v).copy() for k, v in r.personas.items()},
                    prompt_share=dict(r.prompt_share), most_asked=r.most_asked, risk=dict(r.risk))
        for name, r in report.policies.items()
    }


def _policy_key(ref: str, registry: Path) -> str:
    """What a policy's cache entries are keyed by: a learned policy's files' digest; for the rule policy, the digest
    of the code that decides its choices (``policy/rule.py``, ``policy/base.py``, ``dialogue/prompts.py``), so a
    changed rule is never read from an old entry."""
    folder = resolve(ref, registry)
    return policy_fingerprint(folder) if folder is not None else _rule_key()


@lru_cache(maxsize=1)
def _rule_key() -> str:
    import dialogue.prompts
    import policy.base
    import policy.rule

    digest = hashlib.sha256()
    for module in (policy.rule, policy.base, dialogue.prompts):
        digest.update(Path(module.__file__).read_bytes())
    return "rule-" + digest.hexdigest()[:16]


def _q_key(settings: OPESettings, member: int | None) -> dict:
    """The settings a Q model depends on: FQE's, the seed that draws an ensemble member's resample, the member."""
    return {"fqe": settings.fqe.to_dict(), "member": member, "seed": settings.seed if member is not None else None}


def attach_truth(report: EvaluationReport, truth: dict[str, Truth]) -> None:
    """Add the truth, relative errors and coverage to each policy of an evaluation report that has a truth."""
    for name, entry in report.policies.items():
        t = truth.get(name)
        if t is None:
            continue
        entry.truth = t
        entry.errors = {
            estimator: {
                metric: EstimateError(
                    (e.estimate - t.metrics[metric]) / t.metrics[metric] if e.estimate is not None and t.metrics[metric] else None,
                    e.covers(t.metrics[metric]))
                for metric, e in per_metric.items()
            }
            for estimator, per_metric in entry.estimators.items()
        }


def evaluate_logs(logs: Folders, policies: list[str], *, registry: Path = DEFAULT_REGISTRY, settings: OPESettings | None = None,
                  truth_conversations: int = 0, truth_seed: int = 0, progress: Progress | None = None,
                  cache: Path | None = None) -> Evaluation:
    """Estimate each policy on the logs (one folder or several read together; they must share their catalog and base
    features, and their history features too unless every policy reads base features only: logs of several scorers,
    such as simulated logs and chats served with embeddings, are evaluated on the base features);
    with ``truth_conversations`` > 0 also run it in the simulator (the first simulated part's world). ``cache``: a
    folder where each policy's choices at the logged states and its Q models are kept per (policy files, or the rule
    policy's code, logs' bytes, Q settings) and read back (``evaluation.cache``); None caches nothing.

    Raises ``ConfigError`` for bad arguments, ``PolicyError`` for a policy that cannot be loaded or does not
    fit the logs' features, ``LogValidationError`` for logs that do not validate.
    """
    settings = settings or OPESettings()
    if not policies:
        raise ConfigError("give at least one --policy")
    if len(set(policies)) != len(policies):
        raise ConfigError(f"each --policy once, got {', '.join(policies)}")
    if truth_conversations < 0:
        raise ConfigError(f"--truth-conversations must be >= 0, got {truth_conversations}")
    folders = [Path(logs)] if isinstance(logs, (str, Path)) else [Path(f) for f in logs]
    try:  # one catalog, the same features (one scorer)
        manifest, mixed = common_manifest(folders), None
    except LogValidationError as exc:  # e.g. simulated logs and chats served with embeddings: base-feature policies only
        manifest, mixed = common_manifest(folders, variant=FeatureVariant.BASE), str(exc)  # still one catalog and base
    catalog = Catalog.load(manifest.catalog_path)
    if mixed is not None:  # before loading: a history policy would be refused for the first part's scorer instead
        history = [ref for ref in policies if (folder := resolve(ref, registry)) is not None
                   and FeatureVariant(read_record(folder).features) is FeatureVariant.HISTORY]
        if history:
            raise PolicyError(f"{', '.join(history)} read{'s' if len(history) == 1 else ''} history features, but {mixed}; "
                              "evaluate it on logs made with one scorer (a base-feature policy can be evaluated on these)")
    loaded = {}
    for ref in policies:  # fail fast
        try:
            loaded[ref] = load_policy(ref, catalog=catalog, registry=registry, scorer_version=manifest.scorer_version)
        except ScorerMismatchError as exc:  # said in evaluate's terms: it has no --scorer to serve it with
            raise PolicyError(f"{ref} reads history features of the scorer {exc.trained.scorer}, but these logs were made "
                              f"with {manifest.scorer_version}: evaluate it on logs simulated with its scorer (segue "
                              "simulate --scorer FOLDER), or train a policy on these logs") from None
    data = OPEData.from_logs(folders)
    if mixed is not None:  # the Q models read the base features only, as the policies do
        data = data.base_only()
    store = OPECache(cache, logs_fingerprint(folders)) if cache is not None else None
    keys = {ref: _policy_key(ref, registry) for ref in policies} if store else {}
    targets, q_values = {}, {}
    for ref, (policy, variant) in loaded.items():
        cached = store.target(keys[ref]) if store else None
        if cached is not None and cached.shape == data.masks.shape:
            targets[ref] = cached
        else:
            report_progress = (lambda done, total, _r=ref: progress(f"{_r}: choices at logged states", done, total)) if progress else None
            targets[ref] = target_probabilities(policy, variant, data, progress=report_progress)
            if store:
                store.save_target(keys[ref], targets[ref])
        for q in (settings.q_models if store and settings.needs_q else ()):
            for member in [None, *range(settings.q_ensemble if settings.bootstrap else 0)]:
                name = q if member is None else f"{q}#{member}"
                found = store.q(keys[ref], q, _q_key(settings, member))
                if found is not None and len(found[METRICS[0]][0]) == data.n_turns:
                    q_values.setdefault(ref, {})[name] = found
    fitted_before = {(p, q) for p, per in q_values.items() for q in per}
    result = evaluate_targets(data, targets, settings, q_values=q_values, progress=progress)
    if store:
        for ref, per in q_values.items():
            for name, values in per.items():
                if (ref, name) not in fitted_before:
                    q, _, member = name.partition("#")
                    store.save_q(keys[ref], q, _q_key(settings, int(member) if member else None),
                                 {m: compact_q(values[m], data, data.decided(targets[ref])) for m in METRICS})
    report = EvaluationReport(
        logs=", ".join(map(str, folders)), conversations=data.n_conversations, turns=data.n_turns,
        logging_policy=_logging_policy(folders),
        on_policy=result.on_policy,
        settings={"estimators": list(settings.estimators), "q_models": list(settings.q_models), "bootstrap": settings.bootstrap,
                  "confidence": settings.confidence, "seed": settings.seed, "fqe": settings.fqe.to_dict(),
                  "min_propensity": settings.min_propensity, "min_ess": settings.min_ess},
        seconds=round(result.seconds, 2), policies=result.policies,
    )
    if truth_conversations:
        report_progress = (lambda done, total: progress("ground truth in the simulator", done, total)) if progress else None
        attach_truth(report, simulate_truth(policies, conversations=truth_conversations, registry=registry, manifest=manifest,
                                            seed=truth_seed, progress=report_progress))
    return Evaluation(report, result, data, targets, manifest)
