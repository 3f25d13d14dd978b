"""Simulate and log conversations of a behaviour policy with its randomized share (``segue simulate``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from logs.collect import check, collect
from logs.manifest import CollectionSettings
from logs.summary import summarize

from ..progress import Reporter

__all__ = ["SimulateSettings", "SimulateResult", "simulate_logs"]


@dataclass(frozen=True)
class SimulateSettings:
    """Where to log (``out``, created; resumable), what (``collection``), with how many processes (None: all cores)
    and how many conversations each steps together (``envs``, None: ``logs.collect.VECTOR_ENVS``; same logs)."""

    out: Path
    collection: CollectionSettings
    workers: int | None = None
    envs: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.envs is not None and not 1 <= self.envs <= 65_536:
            raise ConfigError(f"--envs must be between 1 and 65,536, got {self.envs}")
        catalog = self.collection.catalog_path
        if catalog is not None and not Path(catalog).is_file():
            raise ConfigError(f"--catalog file not found: {catalog}")


@dataclass(frozen=True)
class SimulateResult:
    folder: Path
    summary: dict
    seconds: float
    parts_written: int
    parts_reused: int


def simulate_logs(settings: SimulateSettings, reporter: Reporter | None = None) -> SimulateResult:
    """Simulate the missing parts of ``settings.out`` and summarize the whole folder.

    Raises ``LogConflictError`` when the folder holds logs made with other settings (checked before any work),
    ``ConfigError`` for bad settings. Interrupted, it keeps the finished parts: the same call resumes.
    """
    reporter = reporter or Reporter.silent()
    check(settings.out, settings.collection)  # refuse a conflicting folder or policy before any progress shows
    start = time.perf_counter()
    with reporter.bar("simulating", settings.collection.conversations) as update:
        result = collect(settings.out, settings.collection, workers=settings.workers, envs=settings.envs, progress=update)
    seconds = time.perf_counter() - start
    return SimulateResult(Path(settings.out), summarize(settings.out), seconds, result.parts_written, result.parts_reused)
