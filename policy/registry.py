"""The policy registry: trained policies on disk, with how they were made.

A policy is a folder holding ``policy.json`` (its record: algorithm, config,
feature and prompt-catalogue versions, a fingerprint of its training logs,
training time and evaluation results) and its model file. The registry
root (default ``runs/policies``) holds policy folders, ``CURRENT`` (the name
of the current policy; none means the rule-based baseline) and
``history.jsonl`` (every change of the current policy). ``rule`` always
names the rule-based baseline.

Loading refuses a policy whose feature or prompt-catalogue version differs
from this Segue's, with an error that says what to do.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dialogue.features import FeatureLayout, Featurizer
from dialogue.prompts import PROMPT_CATALOGUE_VERSION
from policy.errors import PolicyError
from recommender.catalog import Catalog

from .base import ConstantPolicy, Policy
from .d3rlpy_support import enable_masking, import_d3rlpy
from .learned import QPolicy, RegressorPolicy
from .regressor import ActionFeatures
from .rule import RuleBasedPolicy

__all__ = [
    "DEFAULT_REGISTRY",
    "POLICY_FILE",
    "PolicyRecord",
    "save_policy",
    "read_record",
    "load_policy",
    "resolve",
    "list_policies",
    "current_policy",
    "set_current",
    "policy_history",
    "RULE",
    "constant_record",
    "record_event",
    "rollback",
]

DEFAULT_REGISTRY = Path("runs/policies")
POLICY_FILE = "policy.json"
RULE = "rule"
_CURRENT = "CURRENT"
_HISTORY = "history.jsonl"


@dataclass
class PolicyRecord:
    name: str
    algo: str
    features: str
    feature_version: str
    prompt_catalogue_version: str
    config: dict
    logs: dict
    model_file: str
    train_seconds: float
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    evaluation: dict = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_policy(folder: Path, record: PolicyRecord, model, *, staging: Path | None = None) -> Path:
    """Write a policy folder atomically: everything goes to a staging folder that is renamed at the end.

    ``staging`` may already hold files of the run (d3rlpy's logs). Refuses to replace an existing policy.
    """
    folder = Path(folder)
    if (folder / POLICY_FILE).exists():
        raise PolicyError(f"{folder} already holds a policy; choose another --out or delete it first")
    if folder.exists() and any(folder.iterdir()):
        raise PolicyError(f"{folder} exists and is not empty; choose another --out")
    staging = staging or folder.with_name(f".{folder.name}.staging")
    staging.mkdir(parents=True, exist_ok=True)
    if record.algo == "constant":
        pass  # no model: the record's config names the prompt
    elif record.algo == "regressor":
        with open(staging / record.model_file, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        model.save(str(staging / record.model_file))
    (staging / POLICY_FILE).write_text(record.to_json())
    if folder.exists():
        folder.rmdir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, folder)
    return folder


def read_record(folder: Path) -> PolicyRecord:
    path = Path(folder) / POLICY_FILE
    if not path.is_file():
        raise PolicyError(f"no policy at {folder} ({POLICY_FILE} missing)")
    try:
        data = json.loads(path.read_text())
        return PolicyRecord(**data)
    except (json.JSONDecodeError, TypeError) as exc:
        raise PolicyError(f"{path} is not a valid policy record: {exc}") from exc


def update_evaluation(folder: Path, key: str, results: dict) -> None:
    record = read_record(folder)
    record.evaluation[key] = results
    _atomic_write(Path(folder) / POLICY_FILE, record.to_json())


def _prompt_index(prompt_id) -> int:
    from dialogue.prompts import PROMPTS

    ids = [p.id.value for p in PROMPTS]
    if prompt_id not in ids:
        raise PolicyError(f"unknown prompt {prompt_id!r}; prompts are {', '.join(ids)}")
    return ids.index(prompt_id)


def constant_record(name: str, prompt_id: str, catalog: Catalog) -> PolicyRecord:
    """The record of a constant policy (always ``prompt_id`` when valid): a deliberately bad candidate."""
    _prompt_index(prompt_id)
    layout = Featurizer(catalog.genre_names, "base").layout
    return PolicyRecord(name=name, algo="constant", features="base", feature_version=layout.version,
                        prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config={"prompt": prompt_id}, logs={},
                        model_file="", train_seconds=0.0)


def resolve(ref: str, registry: Path = DEFAULT_REGISTRY) -> Path | None:
    """Folder of a policy reference: ``rule`` -> None; a folder path; or a name in the registry."""
    if ref == RULE:
        return None
    path = Path(ref)
    if (path / POLICY_FILE).is_file():
        return path
    if (Path(registry) / ref / POLICY_FILE).is_file():
        return Path(registry) / ref
    raise PolicyError(f"no policy {ref!r}: not 'rule', not a policy folder, and not a name in the registry {registry}")


def _check_versions(record: PolicyRecord, layout: FeatureLayout, folder: Path) -> None:
    if record.prompt_catalogue_version != PROMPT_CATALOGUE_VERSION:
        raise PolicyError(
            f"policy {folder} was trained for prompt catalogue version {record.prompt_catalogue_version!r}, "
            f"this Segue has {PROMPT_CATALOGUE_VERSION!r}: retrain it on new logs"
        )
    if record.feature_version != layout.version:
        raise PolicyError(
            f"policy {folder} was trained with feature version {record.feature_version!r}, "
            f"this Segue builds {layout.version!r}: retrain it on new logs"
        )


def load_policy(
    ref: str, *, catalog: Catalog, registry: Path = DEFAULT_REGISTRY, epsilon: float = 0.0, scorer_version: str = "baseline"
) -> tuple[Policy, str]:
    """A servable policy and its feature variant ("base" or "history").

    ``scorer_version``: the serving scorer's version; a history-feature policy trained with another
    scorer's affinities (another embeddings version) is refused."""
    folder = resolve(ref, registry)
    if folder is None:
        return RuleBasedPolicy(Featurizer(catalog.genre_names, "base").layout), "base"
    record = read_record(folder)
    layout = Featurizer(catalog.genre_names, record.features, scorer_version).layout
    _check_versions(record, layout, folder)
    if record.algo == "constant":
        return ConstantPolicy(_prompt_index(record.config.get("prompt")), name=ref), record.features
    model_path = folder / record.model_file
    if not model_path.is_file():
        raise PolicyError(f"policy {folder} lacks its model file {record.model_file}")
    if record.algo == "regressor":
        with open(model_path, "rb") as handle:
            model = pickle.load(handle)
        return RegressorPolicy(model, ActionFeatures(layout.names), name=ref, epsilon=epsilon), record.features
    d3rlpy = import_d3rlpy()
    algo = d3rlpy.load_learnable(str(model_path), device="cpu:0")
    enable_masking(algo)
    return QPolicy(algo, name=ref, epsilon=epsilon), record.features


def list_policies(registry: Path = DEFAULT_REGISTRY) -> list[PolicyRecord]:
    registry = Path(registry)
    if not registry.is_dir():
        return []
    return [read_record(p) for p in sorted(registry.iterdir()) if (p / POLICY_FILE).is_file()]


def current_policy(registry: Path = DEFAULT_REGISTRY) -> str:
    path = Path(registry) / _CURRENT
    return path.read_text().strip() if path.is_file() else RULE


def record_event(registry: Path, entry: dict) -> dict:
    """Append one entry (promotion, refusal, rollback) to the registry's history, with the time."""
    registry = Path(registry)
    registry.mkdir(parents=True, exist_ok=True)
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry}
    with open(registry / _HISTORY, "a") as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def set_current(name: str, *, registry: Path = DEFAULT_REGISTRY, action: str, reason: str, evidence: dict | None = None) -> dict:
    """Make ``name`` current and record the change (used by promote and rollback); returns the history entry."""
    registry = Path(registry)
    if name != RULE:
        resolve(name, registry)
    previous = current_policy(registry)
    entry = record_event(registry, {"action": action, "from": previous, "to": name, "reason": reason,
                                    **({"evidence": evidence} if evidence else {})})
    _atomic_write(registry / _CURRENT, name + "\n")
    return entry


def rollback(registry: Path = DEFAULT_REGISTRY) -> dict:
    """Return to the policy that was current before the current one was promoted; recorded."""
    current = current_policy(registry)
    promotions = [e for e in policy_history(registry) if e.get("action") == "promote" and e.get("to") == current]
    if not promotions:
        raise PolicyError(f"nothing to roll back: the current policy {current!r} was not made current by a promotion")
    previous = promotions[-1]["from"]
    if previous != RULE:
        try:
            resolve(previous, registry)
        except PolicyError as exc:
            raise PolicyError(f"cannot roll back to {previous!r}: it is no longer in the registry ({exc})") from exc
    return set_current(previous, registry=registry, action="rollback", reason=f"rollback from {current}")


def policy_history(registry: Path = DEFAULT_REGISTRY) -> list[dict]:
    path = Path(registry) / _HISTORY
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def remove_staging(folder: Path) -> None:
    staging = Path(folder).with_name(f".{Path(folder).name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
