"""Listening histories and the scorer's embeddings (``segue simulate-histories``, ``segue embeddings train``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from recommender.catalog import Catalog
from recommender.embeddings import (
    DEFAULT_EMBEDDINGS,
    Embeddings,
    EmbeddingSettings,
    check_output_folder,
    make_split,
    train_embeddings,
)
from recommender.histories import Histories, histories_from_table, read_histories, write_histories
from simulator.config import SimulatorConfig
from simulator.histories import population_histories

from ..progress import Reporter

__all__ = ["HistoriesJob", "HistoriesResult", "simulate_histories", "EmbeddingsJob", "train_scorer_embeddings",
           "MAX_HISTORY_USERS", "DEFAULT_SIMULATED_USERS"]

MAX_HISTORY_USERS = 10_000_000
DEFAULT_SIMULATED_USERS = 10_000


def _check_catalog(path: Path | None) -> None:
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"--catalog file not found: {path}")


@dataclass(frozen=True)
class HistoriesJob:
    """Write the simulated population's histories (users ``0 .. users-1`` of ``population_seed``) to ``out``."""

    out: Path
    users: int = 12_000
    population_seed: int = SimulatorConfig.population_seed
    catalog: Path | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.users <= MAX_HISTORY_USERS:
            raise ConfigError(f"--users must be between 1 and {MAX_HISTORY_USERS:,}, got {self.users}")
        if Path(self.out).is_dir():
            raise ConfigError(f"--out {self.out} is a folder: give a file name, e.g. {Path(self.out) / 'histories.parquet'}")
        if Path(self.out).exists():
            raise ConfigError(f"--out {self.out} exists: delete it or choose another file (nothing is overwritten)")
        _check_catalog(self.catalog)


@dataclass(frozen=True)
class HistoriesResult:
    path: Path
    users: int
    rows: int
    plays: int
    population_seed: int
    catalog: str
    seconds: float

    def to_dict(self) -> dict:
        return {"path": str(self.path), "users": self.users, "rows": self.rows, "plays": self.plays,
                "population_seed": self.population_seed, "catalog": self.catalog, "seconds": round(self.seconds, 2)}


def simulate_histories(job: HistoriesJob, reporter: Reporter | None = None) -> HistoriesResult:
    """Generate and write the table atomically (``recommender.histories`` documents its columns)."""
    reporter = reporter or Reporter.silent()
    start = time.perf_counter()
    catalog = Catalog.load(job.catalog)
    config = SimulatorConfig(n_users=job.users, population_seed=job.population_seed)
    with reporter.bar("listening histories", job.users) as update:
        table = population_histories(catalog, config, job.users, progress=update)
    write_histories(table, job.out)
    return HistoriesResult(Path(job.out), job.users, table.num_rows, int(table["plays"].to_numpy().sum()), job.population_seed,
                           catalog.fingerprint, time.perf_counter() - start)


@dataclass(frozen=True)
class EmbeddingsJob:
    """Train embeddings on the table ``histories`` (None: the simulated population's histories of
    ``simulated_users`` + ``settings.eval_users`` users, made in memory) and save them to ``out``."""

    settings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    out: Path = DEFAULT_EMBEDDINGS
    histories: Path | None = None
    simulated_users: int = DEFAULT_SIMULATED_USERS
    catalog: Path | None = None

    def __post_init__(self) -> None:
        if self.histories is not None and not Path(self.histories).exists():
            raise ConfigError(f"--histories file not found: {self.histories}")
        check_output_folder(self.out)  # before training, not after
        if not 1 <= self.simulated_users <= MAX_HISTORY_USERS:
            raise ConfigError(f"--users must be between 1 and {MAX_HISTORY_USERS:,}, got {self.simulated_users}")
        _check_catalog(self.catalog)


def train_scorer_embeddings(job: EmbeddingsJob, reporter: Reporter | None = None) -> tuple[Embeddings, dict]:
    """Read (or simulate) the histories, split them, train, evaluate, save; returns the embeddings and the evaluation.

    A history table is read and checked before any training starts (``HistoryError`` names file, row and column).
    """
    reporter = reporter or Reporter.silent()
    catalog = Catalog.load(job.catalog)
    if job.histories is not None:
        histories: Histories = read_histories(job.histories, catalog)
    else:
        n = job.simulated_users + job.settings.eval_users
        reporter.line(f"no --histories: the simulator population's listening histories for {n:,} users, made in memory")
        config = SimulatorConfig(n_users=n)
        with reporter.bar("listening histories", n) as update:
            table = population_histories(catalog, config, n, progress=update)
        histories = histories_from_table(table, catalog, source=f"simulator population (population_seed "
                                                                  f"{config.population_seed}, users 0..{n - 1})")
    split = make_split(catalog, job.settings, histories)
    with reporter.stage(f"embeddings: {len(split.train):,} training users, {job.settings.steps:,} steps -> {job.out}"):
        with reporter.stages() as update:
            emb, report = train_embeddings(catalog, job.settings, split=split, progress=update)
    emb.save(job.out)
    return emb, report
