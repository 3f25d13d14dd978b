"""Randomized collection: run the behaviour policy against the simulator, write parts.

The behaviour policy is the randomized rule policy, or any registry policy
served with its randomized share (``CollectionSettings.policy``, served as
``policy.serving.ExploringPolicy``), optionally with a fallback that finishes
the conversations in which it raises (``policy.serving.FallbackPolicy``); each
part's metadata counts those (``segue.fallback_conversations``).

``collect(out, settings)`` splits the conversations into parts of
``part_size`` and simulates the missing ones, in parallel processes. Each
conversation has its own seed derived from ``(seed, conversation index)``,
so the logs are the same byte for byte whatever the number of workers, and
re-running the same command after a crash completes the missing parts and
never duplicates one. ``manifest.json`` records the settings; re-running
with different settings into the same folder is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.engine import EngineSettings, run_tasks
from core.errors import ConfigError
from dialogue.features import FeatureVariant
from policy.registry import load_policy
from policy.rule import RandomizedPolicy, RuleBasedPolicy
from policy.serving import BaseFeatures, ExploringPolicy, FallbackPolicy, FaultyPolicy
from recommender.catalog import Catalog
from simulator.rollout import run_conversations
from simulator.vector import MAX_ENVS, MusicUserVectorEnv

from .errors import LogConflictError, LogValidationError
from .ids import collection_key, simulated_id
from .manifest import MAX_CONVERSATIONS, RULE, CollectionSettings, LogManifest, LogSource
from .schema import LOG_SCHEMA_VERSION, file_metadata
from .store import MANIFEST, part_path, write_part
from .writer import conversations_table

__all__ = ["CollectionSettings", "CollectionResult", "collect", "check", "prepare", "simulate_part", "fallback_conversations", "MANIFEST",
           "MAX_CONVERSATIONS", "FALLBACKS_KEY"]



#: conversations a collection worker steps together (``simulator.vector``): a learned behaviour policy answers
#: them in one forward pass per step
VECTOR_ENVS = 64


@dataclass(frozen=True)
class CollectionResult:
    folder: Path
    parts_written: int
    parts_reused: int


# ----------------------------------------------------------------- one part
class _Worker:
    """Per-process state: catalog, population, env and policy are built once."""

    def __init__(self, settings: CollectionSettings, envs: int = VECTOR_ENVS) -> None:
        catalog = Catalog.load(settings.catalog_path)
        self.settings = settings
        self.venv = MusicUserVectorEnv(min(envs, settings.part_size), catalog=catalog, config=settings.simulator,
                                       features=FeatureVariant.HISTORY, scorer=settings.scorer, autoreset=False,
                                       infos=False)
        self.env = self.venv.envs[0]
        layout = self.env.featurizer.layout
        self.layout = layout
        self.catalog = catalog
        self.served = self._served(settings.policy)
        self.fallback = self._served(settings.fallback) if settings.fallback is not None else None
        self.policy = self.served
        self.fallbacks = 0
        self.key = collection_key(settings.to_dict())
        self.manifest = LogManifest(LogSource.SIMULATED, layout.version, layout.names, layout.n_base, catalog.fingerprint,
                                    self.served.name, catalog_path=settings.catalog_path, scorer=settings.scorer,
                                    scorer_version=self.env.scorer.version, collection=settings)

    def _served(self, ref: str):
        """The behaviour policy ``ref`` with the randomized share, reading the whole (history-variant) state."""
        settings, layout = self.settings, self.layout
        if ref == RULE:
            return BaseFeatures(RandomizedPolicy(RuleBasedPolicy(layout.base()), exploration=settings.exploration,
                                                 temperature=settings.temperature), layout.n_base)
        policy, variant = load_policy(ref, catalog=self.catalog, scorer_version=self.env.scorer.version)
        served = ExploringPolicy(policy, settings.exploration)
        return BaseFeatures(served, layout.n_base) if FeatureVariant(variant) is FeatureVariant.BASE else served

    def run(self, index: int) -> pa.Table:
        """The part's conversations (each seeded by ``(seed, conversation index)``) as a log table."""
        settings = self.settings
        policy = self.served
        if settings.fault_rate > 0:
            policy = FaultyPolicy(policy, settings.fault_rate, seed=(settings.seed << 20) ^ index)
        slots = None
        if self.fallback is not None:  # a fallback is per conversation: one per sub-env
            slots = [FallbackPolicy(policy, self.fallback) for _ in range(self.venv.num_envs)]
        conv_ids = settings.part_range(index)
        seeds = [int(np.random.SeedSequence([settings.seed, c]).generate_state(1, dtype=np.uint64)[0] >> 1) for c in conv_ids]
        rngs = [np.random.default_rng([settings.seed, c, 1]) for c in conv_ids]
        conversations = run_conversations(self.venv, policy, FeatureVariant.HISTORY, seeds=seeds, rngs=rngs, slot_policies=slots)
        self.fallbacks = sum(p.faults for p in slots) if slots else 0
        ids = [simulated_id(self.key, i) for i in settings.part_range(index)]
        return conversations_table(conversations, n_base=self.layout.n_base, n_history=self.layout.n_history, ids=ids)

    def metadata(self, index: int) -> dict[str, str]:
        conv = self.settings.part_range(index)
        meta = {
            **file_metadata(self.manifest),
            "segue.part": str(index),
            "segue.conversations": str(len(conv)),
            "segue.first_conversation": str(conv.start),
        }
        if self.fallback is not None:  # only then: parts of other collections keep their bytes
            meta[FALLBACKS_KEY] = str(self.fallbacks)
        return meta


_WORKER: _Worker | None = None
#: part metadata: how many of the part's conversations fell back to ``CollectionSettings.fallback``
FALLBACKS_KEY = "segue.fallback_conversations"


def fallback_conversations(folder: str | Path) -> int:
    """Conversations of a simulated folder that the fallback policy finished (0 without a fallback)."""
    from .store import list_parts

    return sum(int((pq.read_schema(p).metadata or {}).get(FALLBACKS_KEY.encode(), b"0")) for p in list_parts(folder))


def _init_worker(settings_dict: dict, envs: int = VECTOR_ENVS) -> None:
    global _WORKER
    _WORKER = _Worker(CollectionSettings.from_dict(settings_dict), envs)


def _run_part(folder: str, index: int) -> int:
    assert _WORKER is not None
    table = _WORKER.run(index)
    write_part(table, part_path(Path(folder), index), _WORKER.metadata(index))
    return index


def simulate_part(settings: CollectionSettings, index: int, envs: int = VECTOR_ENVS) -> pa.Table:
    """Simulate one part in this process (for tests and tools); ``envs`` conversations at a time (same table)."""
    return _Worker(settings, envs).run(index)


# ----------------------------------------------------------------- driver
def _check_manifest(folder: Path, settings: CollectionSettings, *, write: bool = True, option: str = "--out") -> None:
    """Refuse a folder made with other settings, or holding other files; ``write``: record the settings when new;
    ``option``: what the user chose the folder with (the errors say to choose another)."""
    manifest = folder / MANIFEST
    wanted = settings.to_dict()
    if manifest.exists():
        try:
            found = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise LogConflictError(f"{manifest} is not valid JSON ({exc}); remove the folder or choose another {option}") from exc
        found_settings = found.get("settings", {})
        if found_settings != wanted:
            diffs = [k for k in sorted(set(wanted) | set(found_settings)) if wanted.get(k) != found_settings.get(k)]
            detail = ", ".join(f"{k}: {_shown(found_settings.get(k))} there, {_shown(wanted.get(k))} now" for k in diffs)
            raise LogConflictError(f"{folder} holds logs made with other settings ({detail}); choose another {option}")
        return
    stray = sorted(folder.glob("part-*.parquet"))
    if stray:
        raise LogConflictError(f"{folder} holds log parts but no {MANIFEST}; choose another {option}")
    others = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".part-"))
    if others:
        raise LogConflictError(f"{folder} holds other files ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}) "
                               f"and no {MANIFEST}; logs go to a new or empty folder: choose another {option}")
    if not write:
        return
    tmp = manifest.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps({"segue_log_schema_version": LOG_SCHEMA_VERSION, "settings": wanted}, indent=2, sort_keys=True))
    os.replace(tmp, manifest)


def _shown(value) -> str:
    return "unset" if value is None else repr(value)


def _complete(path: Path, expected: int) -> bool:
    if not path.exists():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read existing part {path}: {exc}; delete it and re-run to rebuild it") from exc
    found = meta.get(b"segue.conversations")
    if found is None or int(found) != expected:
        raise LogValidationError(f"existing part {path} holds {found} conversations, expected {expected}; delete it and re-run")
    return True


def check(folder: str | Path, settings: CollectionSettings, *, option: str = "--out") -> None:
    """Everything ``collect`` would refuse, checked without writing anything: ``folder`` is a folder made with the
    same settings (or new, or empty) and the behaviour policy and scorer can be served. Raises ``ConfigError``,
    ``LogConflictError`` or ``PolicyError``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder} exists and is not a folder")
    if folder.is_dir():
        _check_manifest(folder, settings, write=False, option=option)
    _check_servable(settings)


_SERVABLE: set[str] = set()  # settings (JSON) whose policy and scorer this process has already loaded once


def _check_servable(settings: CollectionSettings) -> None:
    """A policy or scorer that cannot be served fails here, in this process, before any folder is touched."""
    if settings.policy == RULE and settings.fallback is None and settings.scorer in (None, "baseline", "popularity"):
        return  # nothing to load that could fail
    key = json.dumps(settings.to_dict(), sort_keys=True)
    if key not in _SERVABLE:
        _Worker(settings, 1)
        _SERVABLE.add(key)


def prepare(folder: str | Path, settings: CollectionSettings) -> Path:
    """Create ``folder`` and its manifest, or check that the existing manifest matches."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    _check_manifest(folder, settings)
    return folder


def collect(
    folder: str | Path,
    settings: CollectionSettings,
    *,
    workers: int | None = None,
    envs: int | None = None,
    engine: EngineSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CollectionResult:
    """Simulate the missing parts of ``folder``; ``progress(done_conversations, total)`` is called as parts land.

    ``envs``: conversations each worker steps together on its vector env (default ``VECTOR_ENVS``); ``engine``:
    local processes (default) or Ray tasks (``core.engine``; on a cluster, ``folder`` must be storage every node
    writes to). The logs are the same byte for byte whatever ``envs``, ``workers`` and the engine. Raises
    ``ConfigError`` for ``envs`` out of range or an unreachable Ray cluster, ``LogConflictError`` for a folder made
    with other settings, ``PolicyError`` for a behaviour policy that cannot be served (missing, other features or
    scorer)."""
    envs = VECTOR_ENVS if envs is None else envs
    if not 1 <= envs <= MAX_ENVS:
        raise ConfigError(f"--envs must be between 1 and {MAX_ENVS:,}, got {envs}")
    _check_servable(settings)
    target = Path(folder)
    new_folder, new_manifest = not target.exists(), not (target / MANIFEST).exists()
    folder = prepare(folder, settings)
    try:
        return _collect_parts(folder, settings, workers, envs, engine, progress)
    except BaseException:
        if new_manifest and not list(folder.glob("part-*.parquet")):  # nothing was logged: leave no trace of this run
            _forget(folder, remove_folder=new_folder)
        raise


def _forget(folder: Path, *, remove_folder: bool) -> None:
    """Undo ``prepare`` for a run that logged nothing: its manifest, leftovers, and the folder it made."""
    for leftover in folder.glob(".part-*.tmp"):
        leftover.unlink(missing_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    if remove_folder:
        try:
            folder.rmdir()
        except OSError:  # something else was put there meanwhile: keep it
            pass


def _collect_parts(folder: Path, settings: CollectionSettings, workers, envs: int, engine, progress) -> CollectionResult:
    for leftover in folder.glob(".part-*.tmp"):  # a crashed run's half-written file
        leftover.unlink()
    todo = [i for i in range(settings.n_parts) if not _complete(part_path(folder, i), len(settings.part_range(i)))]
    done = sum(len(settings.part_range(i)) for i in range(settings.n_parts) if i not in todo)
    if progress:
        progress(done, settings.conversations)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    calls = [(str(folder), index) for index in todo]
    for index in run_tasks(engine, _init_worker, (settings.to_dict(), envs), _run_part, calls, workers=workers):
        done += len(settings.part_range(index))
        if progress:
            progress(done, settings.conversations)
    for leftover in folder.glob(".part-*.tmp"):  # a worker killed while writing (its part was written again)
        leftover.unlink(missing_ok=True)
    return CollectionResult(folder, len(todo), settings.n_parts - len(todo))
