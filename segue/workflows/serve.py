"""Serving a person (``segue chat``, ``segue voice``): the policy, scorer, NLU, dialogue manager and the log.

``open_session(settings)`` builds what a conversation with a person needs and
gives the dialogue manager a ``logs.writer.ConversationLog`` as its sink;
``Session.close()`` ends the conversation and writes it as one new part of the
chat log folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError, SegueError
from dialogue.features import FeatureVariant, FeatureVersion
from dialogue.manager import DialogueManager
from logs.manifest import LogManifest, LogSource, SessionSettings
from logs.store import check_session_folder
from logs.writer import ConversationLog
from policy.registry import DEFAULT_REGISTRY, current_policy, load_policy, read_record, resolve
from policy.serving import ExploringPolicy
from recommender.catalog import Catalog
from recommender.embedding_scorer import make_scorer

from ..progress import Reporter

__all__ = ["ServeSettings", "Session", "open_session", "CHAT_LOGS", "EMBEDDINGS"]

CHAT_LOGS = Path("runs") / "chats"
EMBEDDINGS = Path("runs") / "embeddings"
AUTO = "auto"


@dataclass(frozen=True)
class ServeSettings:
    """How to serve one person. nlu: ``embedded`` or ``rasa`` (``rasa_url``; ``start_rasa`` starts one from
    ``.venv-rasa`` when none answers); policy: a registry reference (None: the registry's current policy);
    scorer: ``auto`` (the embeddings in ``embeddings`` when they fit the policy), ``baseline`` or an embeddings
    folder; user_id: a simulated user whose listening history is borrowed; seed: of the prompt draws and the
    phrasing; log_dir/log: where the conversations are logged, or not at all; source: chat or voice; exploration:
    the randomized share served with the policy (``policy.serving.ExploringPolicy``; 0: the policy as it is)."""

    nlu: str = "embedded"
    rasa_url: str | None = None
    start_rasa: bool = False
    policy: str | None = None
    registry: Path = DEFAULT_REGISTRY
    scorer: str = AUTO
    user_id: int | None = None
    seed: int = 0
    log_dir: Path = CHAT_LOGS
    log: bool = True
    source: LogSource = LogSource.CHAT
    embeddings: Path = EMBEDDINGS
    exploration: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.exploration <= 1.0:
            raise ConfigError(f"--exploration must be within [0, 1], got {self.exploration}")
        users = _simulated_users()
        if self.user_id is not None and not 0 <= self.user_id < users:
            raise ConfigError(f"--user-id must be one of the simulated population's users, 0 to {users - 1}, "
                              f"got {self.user_id}")
        if self.log and Path(self.log_dir).exists() and not Path(self.log_dir).is_dir():
            raise ConfigError(f"--log-dir must be a folder, got the file {self.log_dir}")
        if self.log:  # refused before the conversation, not after it
            check_session_folder(Path(self.log_dir))


def _simulated_users() -> int:
    """How many users the simulated population has (``SimulatorConfig.n_users``): the ids ``--user-id`` takes."""
    from simulator.config import SimulatorConfig

    return SimulatorConfig().n_users


@dataclass
class Session:
    """A dialogue manager ready to talk, and what it was built from."""

    manager: DialogueManager
    catalog: Catalog
    policy: str
    scorer: object
    scorer_spec: str
    nlu: object
    settings: ServeSettings
    log: ConversationLog | None = field(default=None)

    def describe(self) -> str:
        return (f"policy {self.policy} ({self.manager.variant} features), scorer {self.scorer.version}, NLU {self.nlu.name}"
                + (f", history of user {self.settings.user_id}" if self.settings.user_id is not None else ""))

    def close(self) -> tuple[Path, int, int] | None:
        """End the conversation (unfinished: abandoned) and write the log; returns (part, conversations, turns)."""
        self.manager.end()
        return self.log.close() if self.log is not None else None


def _pick_scorer(settings: ServeSettings, catalog: Catalog, features: FeatureVariant, version: FeatureVersion | None,
                 reporter: Reporter) -> tuple[object, str]:
    """The scorer to serve with and its spec: ``auto`` = the trained embeddings when they fit the policy, else the
    baseline (a history-feature policy holds the affinities of the scorer it was trained with)."""
    if settings.scorer != AUTO:
        return make_scorer(settings.scorer, catalog), settings.scorer
    folder = settings.embeddings
    if (folder / "embeddings.json").is_file():
        try:
            scorer = make_scorer(str(folder), catalog)
        except SegueError as exc:
            reporter.line(f"note: not using {folder} ({exc}); using the baseline scorer")
            return make_scorer("baseline", catalog), "baseline"
        if features is FeatureVariant.BASE or (version is not None and version.scorer == scorer.version):
            return scorer, str(folder.resolve())
    return make_scorer("baseline", catalog), "baseline"


def open_session(settings: ServeSettings, reporter: Reporter | None = None) -> Session:
    """Load the catalog, the policy, the scorer and the NLU; wire the dialogue manager to the chat log.

    Raises ``PolicyError`` for a policy that cannot be served, ``ConfigError``/``RasaError`` for the NLU.
    """
    from dialogue.nlu import make_nlu
    from recommender.history import HistoryProfile

    reporter = reporter or Reporter.silent()
    catalog = Catalog.load()
    ref = settings.policy or current_policy(settings.registry)
    folder = resolve(ref, settings.registry)
    record = read_record(folder) if folder is not None else None
    scorer, spec = _pick_scorer(settings, catalog, record.features if record else FeatureVariant.BASE,
                                record.feature_version if record else None, reporter)
    served, variant = load_policy(ref, catalog=catalog, registry=settings.registry, scorer_version=scorer.version)
    if settings.exploration > 0:
        served = ExploringPolicy(served, settings.exploration)
    profile = None
    if settings.user_id is not None:
        from simulator.config import SimulatorConfig
        from simulator.population import Population

        profile = HistoryProfile(catalog, Population(catalog, SimulatorConfig(), cache_size=1).user(settings.user_id).plays)
    understanding = make_nlu(settings.nlu, catalog=catalog, rasa_url=settings.rasa_url, start_rasa=settings.start_rasa)
    manager = DialogueManager(catalog, nlu=understanding, policy=served, variant=variant, scorer=scorer, profile=profile,
                              seed=settings.seed)
    log = None
    if settings.log:  # the manager's conversations go to the chat log, in the layout its featurizer makes
        layout = manager.featurizer.layout
        manifest = LogManifest(settings.source, layout.version, layout.names, layout.n_base, catalog.fingerprint,
                               logging_policy=ref if settings.exploration == 0 else f"{ref}+uniform({settings.exploration:g})",
                               catalog_path=None, scorer=spec, scorer_version=scorer.version,
                               session=SessionSettings(nlu=understanding.name, policy=ref, user_id=settings.user_id,
                                                       seed=settings.seed, exploration=settings.exploration))
        log = manager.sink = ConversationLog(settings.log_dir, manifest)
    return Session(manager, catalog, ref, scorer, spec, understanding, settings, log)
