"""How a log folder was made, as typed records every consumer reads.

Each part's file metadata carries ``segue.*`` keys (``logs.schema.file_metadata``);
``LogManifest.from_metadata`` reads them into one record, so training,
evaluation, the gate and the summary ask the manifest for the catalog, the
scorer, the simulator or the logging policy instead of digging in JSON.

- ``CollectionSettings``: a simulated collection (``segue simulate``): how many
  conversations, the seed, the logging policy's randomization, the part size, the
  simulator, the catalog and the scorer. Also written to ``manifest.json``.
- ``SessionSettings``: a conversation with a person (``segue chat``, ``segue voice``):
  the NLU, the policy served, the borrowed history, the seed.
- ``LogManifest``: the source (simulated, chat, voice), the feature version and names,
  the catalog (fingerprint and path), the scorer (``scorer``: what ``make_scorer`` takes,
  ``"baseline"`` or an embeddings folder; ``scorer_version``: its version), the logging
  policy's name, and one of the two settings records above.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from core.errors import ConfigError
from core.records import check_keys
from dialogue.features import FeatureVersion
from simulator.config import SimulatorConfig

from .errors import LogValidationError

__all__ = ["LogSource", "CollectionSettings", "SessionSettings", "ImportSettings", "LogManifest", "MAX_CONVERSATIONS", "BASELINE"]

MAX_CONVERSATIONS = 50_000_000
BASELINE = "baseline"
RULE = "rule"


class LogSource(StrEnum):
    """Where the conversations of a log come from."""

    SIMULATED = "simulated"
    CHAT = "chat"
    VOICE = "voice"
    IMPORTED = "imported"


@dataclass(frozen=True)
class CollectionSettings:
    """A simulated collection. Raises ``ConfigError`` for a value out of range (named like its CLI option).

    conversations: how many (1 to 50,000,000); seed: same seed, same logs byte for byte; exploration: the
    uniform share over valid prompts in [0, 1] (the randomized share of the served policy); temperature: of
    the softmax over the rule policy's preferences (> 0; the rule policy only); part_size: conversations per
    Parquet part; simulator: the simulated world; catalog_path: None for the vendored catalog; scorer:
    ``"baseline"`` or an embeddings folder. policy: the behaviour policy served, ``"rule"`` or a policy folder
    (``policy.serving.ExploringPolicy``: greedy plus the uniform share); fallback: the policy that finishes a
    conversation in which ``policy`` raised (``policy.serving.FallbackPolicy``; None: a raise is an error);
    fault_rate: a planted fault, the share of turns on which ``policy`` raises (tests and ``segue loop --fault``).
    """

    conversations: int
    seed: int = 0
    exploration: float = 0.3
    temperature: float = 1.0
    part_size: int = 2_500
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    catalog_path: str | None = None
    scorer: str = BASELINE
    policy: str = RULE
    fallback: str | None = None
    fault_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.conversations <= MAX_CONVERSATIONS:
            raise ConfigError(f"--conversations must be between 1 and {MAX_CONVERSATIONS:,}, got {self.conversations}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed}")
        if not 0.0 <= self.exploration <= 1.0:
            raise ConfigError(f"--exploration must be within [0, 1], got {self.exploration}")
        if not self.temperature > 0 or not math.isfinite(self.temperature):
            raise ConfigError(f"--temperature must be > 0, got {self.temperature}")
        if not 1 <= self.part_size <= 1_000_000:
            raise ConfigError(f"--part-size must be between 1 and 1,000,000, got {self.part_size}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault rate must be within [0, 1], got {self.fault_rate}")
        if self.fault_rate > 0 and self.fallback is None:
            raise ConfigError("a planted fault needs a fallback policy to finish the conversations it breaks")

    @property
    def n_parts(self) -> int:
        return math.ceil(self.conversations / self.part_size)

    def part_range(self, index: int) -> range:
        return range(index * self.part_size, min((index + 1) * self.part_size, self.conversations))

    def to_dict(self) -> dict:
        data = asdict(self)
        # keys at their defaults are left out, so logs made before they existed keep their settings and ids
        for key, default in (("scorer", BASELINE), ("policy", RULE), ("fallback", None), ("fault_rate", 0.0)):
            if data[key] == default:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CollectionSettings":
        """Raises ``ConfigError`` for an unknown key or a bad value."""
        check_keys(cls, data, "collection settings")
        simulator = data.get("simulator") or {}
        check_keys(SimulatorConfig, simulator, "simulator settings")
        return cls(**{**data, "simulator": SimulatorConfig(**simulator)})


@dataclass(frozen=True)
class SessionSettings:
    """A conversation with a person: the NLU backend, the policy served (a registry reference), the
    simulated user whose listening history was borrowed (None: no history), the seed, the randomized share."""

    nlu: str
    policy: str
    user_id: int | None = None
    seed: int = 0
    exploration: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        if not data["exploration"]:  # chat logs made before the randomized share keep their metadata
            del data["exploration"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SessionSettings":
        check_keys(cls, data, "session settings")
        return cls(**data)


@dataclass(frozen=True)
class ImportSettings:
    """Conversations imported from another system's table (``segue logs import``): the file, its sha256 (first 16
    hex digits), the listening-history table used for the history features (None: no history), whether the
    table gave the whole logging distribution."""

    file: str
    fingerprint: str
    histories: str | None = None
    distribution_logged: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ImportSettings":
        check_keys(cls, data, "import settings")
        return cls(**data)


@dataclass(frozen=True)
class LogManifest:
    """What a log folder's parts say about how they were made (see the module docstring)."""

    source: LogSource
    feature_version: FeatureVersion
    feature_names: tuple[str, ...]
    n_base: int
    catalog_fingerprint: str
    logging_policy: str
    catalog_path: str | None = None
    scorer: str = BASELINE
    scorer_version: str = BASELINE
    collection: CollectionSettings | None = None
    session: SessionSettings | None = None
    imported: ImportSettings | None = None

    @property
    def simulator(self) -> SimulatorConfig:
        """The simulated world of the logs (the default world for conversations with people)."""
        return self.collection.simulator if self.collection is not None else SimulatorConfig()

    @property
    def scorer_path(self) -> str | None:
        """The embeddings folder of the scorer, or None for the baseline scorer."""
        return None if self.scorer in (BASELINE, "popularity") else self.scorer

    # ------------------------------------------------------------ metadata
    def settings_json(self) -> dict:
        """The ``segue.settings`` object: the collection settings, or the session with source and scorer."""
        if self.collection is not None:
            return self.collection.to_dict()
        session = self.session.to_dict() if self.session is not None else {}
        imported = {"imported": self.imported.to_dict()} if self.imported is not None else {}
        return {"source": self.source.value, **session, **imported, "scorer": self.scorer,
                "scorer_version": self.scorer_version, "catalog_path": self.catalog_path}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], *, where: str) -> "LogManifest":
        """Read the ``segue.*`` metadata of a part (``where`` names it in errors); raises ``LogValidationError``."""
        try:
            settings = json.loads(meta.get("segue.settings", "{}"))
            names = tuple(json.loads(meta.get("segue.features_names", "[]")))
            history_names = tuple(json.loads(meta.get("segue.history_features_names", "[]")))
        except json.JSONDecodeError as exc:
            raise LogValidationError(f"{where}: unreadable segue.* metadata ({exc})") from None
        if not isinstance(settings, dict):
            raise LogValidationError(f"{where}: segue.settings is not an object of settings")
        if "segue.feature_version" not in meta:
            raise LogValidationError(f"{where}: no segue.feature_version in its metadata: not a Segue log part")
        try:
            version = FeatureVersion.parse(meta["segue.feature_version"])
            source = LogSource(settings.pop("source", LogSource.SIMULATED.value))
            common = dict(feature_version=version, feature_names=names + history_names, n_base=len(names),
                          catalog_fingerprint=meta.get("segue.catalog_fingerprint", ""),
                          logging_policy=meta.get("segue.logging_policy", ""))
            if source is LogSource.SIMULATED:
                collection = CollectionSettings.from_dict(settings)
                return cls(source, **common, catalog_path=collection.catalog_path, scorer=collection.scorer,
                           scorer_version=version.scorer, collection=collection)
            if source is LogSource.IMPORTED:
                imported = ImportSettings.from_dict(settings.pop("imported", {}))
                return cls(source, **common, catalog_path=settings.pop("catalog_path", None),
                           scorer=settings.pop("scorer", BASELINE), scorer_version=settings.pop("scorer_version", BASELINE),
                           imported=imported)
            scorer = settings.pop("scorer", BASELINE)
            scorer_version = settings.pop("scorer_version", None)
            catalog_path = settings.pop("catalog_path", None)
            if scorer_version is None:  # chat logs of Segue 0.1 recorded the scorer's version under "scorer"
                scorer_version = scorer
                scorer = scorer if scorer in (BASELINE, "popularity") or Path(scorer).is_dir() else f"(embeddings {scorer}, folder not recorded)"
            return cls(source, **common, catalog_path=catalog_path, scorer=scorer, scorer_version=scorer_version,
                       session=SessionSettings.from_dict(settings))
        except (ConfigError, ValueError, TypeError) as exc:
            raise LogValidationError(f"{where}: the segue.settings metadata is not valid ({exc})") from None
