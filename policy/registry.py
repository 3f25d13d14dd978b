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
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.records import check_keys
from dialogue.features import BASELINE_SCORER, FeatureLayout, FeatureVariant, FeatureVersion, Featurizer
from dialogue.policy import Policy
from dialogue.prompts import PROMPT_CATALOGUE_VERSION
from recommender.catalog import Catalog

from .errors import PolicyError, ScorerMismatchError
from .learners import LEARNERS, ConstantConfig, LearnerConfig
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
    "update_evaluation",
    "remove_staging",
]

DEFAULT_REGISTRY = Path("runs/policies")
POLICY_FILE = "policy.json"
RULE = "rule"
_CURRENT = "CURRENT"
_HISTORY = "history.jsonl"


@dataclass
class PolicyRecord:
    """What a policy folder's ``policy.json`` says: how the policy was made and how it did.

    algo: the learner's registry name (``policy.learners``); features: the variant it reads; feature_version:
    the features it was trained on (loading refuses another); config: the training config
    (``TrainConfig.to_dict``, or ``{"learner": {...}}`` for a made policy); logs: what it was trained on
    (path, fingerprint, conversations, turns, catalog fingerprint, the logs' settings); evaluation: results
    added later (training losses, the quick simulator evaluation).
    """

    name: str
    algo: str
    features: FeatureVariant
    feature_version: FeatureVersion
    prompt_catalogue_version: str
    config: dict
    logs: dict
    model_file: str
    train_seconds: float
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    evaluation: dict = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.features = FeatureVariant.parse(self.features, option="policy features")
        if isinstance(self.feature_version, str):
            self.feature_version = FeatureVersion.parse(self.feature_version)

    def learner(self) -> LearnerConfig:
        """The learner config that made this policy (raises ``PolicyError`` for an unknown learner)."""
        cls = LEARNERS.get(self.algo)
        if cls is None:
            raise PolicyError(f"policy {self.name}: unknown learner {self.algo!r} (known: {', '.join(LEARNERS)})")
        if "learner" in self.config:
            return cls.from_dict(self.config["learner"])
        if cls is ConstantConfig:  # records of Segue 0.1 kept the constant prompt at the top of the config
            return ConstantConfig(self.config.get("prompt", ConstantConfig.prompt))
        return cls()  # records of Segue 0.1: the hyperparameters are informative only, the model file is all

    def to_dict(self) -> dict:
        data = asdict(self)
        data["features"] = self.features.value
        data["feature_version"] = str(self.feature_version)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "PolicyRecord":
        check_keys(cls, data, "policy record", error=PolicyError)
        return cls(**data)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_policy(folder: Path, record: PolicyRecord, model, *, staging: Path | None = None) -> Path:
    """Write a policy folder atomically: everything goes to a staging folder that is renamed at the end.

    ``staging`` may already hold files of the run (d3rlpy's logs). Refuses to replace an existing policy.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PolicyError(f"{folder} is a file; choose a folder for the policy (--out)")
    if (folder / POLICY_FILE).exists():
        raise PolicyError(f"{folder} already holds a policy; choose another --out or delete it first")
    if folder.exists() and any(folder.iterdir()):
        raise PolicyError(f"{folder} exists and is not empty; choose another --out")
    staging = staging or folder.with_name(f".{folder.name}.staging")
    staging.mkdir(parents=True, exist_ok=True)
    if model is not None:
        record.learner().save(model, staging)
    (staging / POLICY_FILE).write_text(record.to_json())
    if folder.exists():
        folder.rmdir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, folder)
    return folder


def read_record(folder: Path) -> PolicyRecord:
    """The record of the policy in ``folder``; raises ``PolicyError`` when it is missing or invalid."""
    path = Path(folder) / POLICY_FILE
    if not path.is_file():
        raise PolicyError(f"no policy at {folder} ({POLICY_FILE} missing)")
    try:
        return PolicyRecord.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise PolicyError(f"{path} is not a valid policy record: {exc}") from exc
    except PolicyError as exc:
        raise PolicyError(f"{path} is not a valid policy record: {exc}") from exc


def update_evaluation(folder: Path, key: str, results: dict) -> None:
    record = read_record(folder)
    record.evaluation[key] = results
    _atomic_write(Path(folder) / POLICY_FILE, record.to_json())


def constant_record(name: str, prompt_id: str, catalog: Catalog) -> PolicyRecord:
    """The record of a constant policy (always ``prompt_id`` when valid): a deliberately bad candidate.

    Raises ``PolicyError`` for an unknown prompt id."""
    learner = ConstantConfig(prompt_id)
    layout = Featurizer(catalog.genre_names, FeatureVariant.BASE).layout
    return PolicyRecord(name=name, algo=learner.name, features=FeatureVariant.BASE, feature_version=layout.version,
                        prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config={"learner": learner.to_dict()}, logs={},
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
    hint = ""
    if "@" in str(ref):  # "rule@nosuch": perhaps a scorer was meant after the @
        policy, _, scorer = str(ref).rpartition("@")
        hint = (f"; if {scorer!r} was meant as the scorer of {policy!r}: a scorer after @ is baseline, popularity or a "
                f"folder holding embeddings.json")
    if not hint:
        import difflib

        names = sorted(p.parent.name for p in Path(registry).glob(f"*/{POLICY_FILE}")) if Path(registry).is_dir() else []
        close = difflib.get_close_matches(str(ref), [RULE, *names], n=3, cutoff=0.75)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise PolicyError(f"no policy {ref!r}: not 'rule', not a policy folder, and not a name in the registry {registry}{hint}")


def _check_versions(record: PolicyRecord, layout: FeatureLayout, folder: Path) -> None:
    if record.prompt_catalogue_version != PROMPT_CATALOGUE_VERSION:
        raise PolicyError(
            f"policy {folder} was trained for prompt catalogue version {record.prompt_catalogue_version!r}, "
            f"this Segue has {PROMPT_CATALOGUE_VERSION!r}: retrain it on new logs"
        )
    if record.feature_version != layout.version:
        trained, built = record.feature_version, layout.version
        said = f"policy {folder} was trained with feature version {str(trained)!r}, this Segue builds {str(built)!r}"
        if replace(trained, scorer=built.scorer) == built:  # the same features, of another scorer
            scorer = ("the baseline scorer (--scorer baseline)" if trained.scorer == BASELINE_SCORER
                      else f"the embeddings {trained.scorer} (--scorer FOLDER)")
            raise ScorerMismatchError(f"{said}: serve it with {scorer}, as it was trained, or train a policy on logs "
                                      "simulated with this scorer (segue simulate --scorer ..., then segue train)",
                                      trained=trained, built=built)
        raise PolicyError(f"{said}: retrain it on new logs")  # the featurizer itself changed


def load_policy(
    ref: str, *, catalog: Catalog, registry: Path = DEFAULT_REGISTRY, epsilon: float = 0.0, scorer_version: str = "baseline"
) -> tuple[Policy, FeatureVariant]:
    """A servable policy and the feature variant it reads.

    ``ref``: ``rule``, a policy folder, or a name in ``registry``. ``scorer_version``: the serving scorer's
    version; a history-feature policy trained with another scorer's affinities is refused. ``epsilon``: the
    randomized share of a learned policy. Raises ``PolicyError`` for a missing, unreadable or mismatched policy.
    """
    folder = resolve(ref, registry)
    if folder is None:
        return RuleBasedPolicy(Featurizer(catalog.genre_names, FeatureVariant.BASE).layout), FeatureVariant.BASE
    record = read_record(folder)
    layout = Featurizer(catalog.genre_names, record.features, scorer_version).layout
    _check_versions(record, layout, folder)
    learner = record.learner()
    if learner.model_file and not (folder / learner.model_file).is_file():
        raise PolicyError(f"policy {folder} lacks its model file {learner.model_file}")
    return learner.load(folder, layout=layout, name=ref, epsilon=epsilon), record.features


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
