"""Randomized collection: run the logging policy against the simulator, write parts.

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
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import ConfigError
from dialogue.features import FeatureLayout
from dialogue.prompts import N_PROMPTS
from logs.errors import LogConflictError, LogValidationError
from policy.base import sample_prompt
from policy.rule import RandomizedPolicy, RuleBasedPolicy
from recommender.catalog import Catalog
from simulator.config import SimulatorConfig
from simulator.env import MusicUserEnv

from .schema import LOG_SCHEMA_VERSION, file_metadata, log_schema
from .store import part_path, write_part

__all__ = ["CollectionSettings", "CollectionResult", "collect", "prepare", "simulate_part", "MANIFEST"]

MANIFEST = "manifest.json"
MAX_CONVERSATIONS = 50_000_000


@dataclass(frozen=True)
class CollectionSettings:
    conversations: int
    seed: int = 0
    exploration: float = 0.3
    temperature: float = 1.0
    part_size: int = 2_500
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    catalog_path: str | None = None  # None: the vendored freemusi.cc catalog
    scorer: str = "baseline"  # or an embeddings folder (segue embeddings train)

    def __post_init__(self) -> None:
        if not 1 <= self.conversations <= MAX_CONVERSATIONS:
            raise ConfigError(f"--conversations must be between 1 and {MAX_CONVERSATIONS:,}, got {self.conversations}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed}")
        if not 0.0 <= self.exploration <= 1.0:
            raise ConfigError(f"--exploration must be within [0, 1], got {self.exploration}")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if not 1 <= self.part_size <= 1_000_000:
            raise ConfigError(f"part size must be between 1 and 1,000,000, got {self.part_size}")

    @property
    def n_parts(self) -> int:
        return math.ceil(self.conversations / self.part_size)

    def part_range(self, index: int) -> range:
        return range(index * self.part_size, min((index + 1) * self.part_size, self.conversations))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["simulator"] = asdict(self.simulator)
        if data["scorer"] == "baseline":  # logs made before scorers were selectable have no such key
            del data["scorer"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CollectionSettings":
        return cls(**{**data, "simulator": SimulatorConfig(**data["simulator"])})


@dataclass(frozen=True)
class CollectionResult:
    folder: Path
    parts_written: int
    parts_reused: int


# ----------------------------------------------------------------- one part
class _Worker:
    """Per-process state: catalog, population, env and policy are built once."""

    def __init__(self, settings: CollectionSettings) -> None:
        catalog = Catalog.load(settings.catalog_path)
        self.settings = settings
        self.env = MusicUserEnv(catalog=catalog, config=settings.simulator, features="history", scorer=settings.scorer)
        layout = self.env.featurizer.layout
        self.n_base = layout.n_base
        self.n_hist = layout.size - layout.n_base
        self.names = layout.names
        self.policy = RandomizedPolicy(RuleBasedPolicy(_base_layout(layout)), exploration=settings.exploration, temperature=settings.temperature)
        self.fingerprint = catalog.fingerprint
        self.feature_version = self.env.featurizer.layout.version

    def run(self, index: int) -> pa.Table:
        settings, env, policy = self.settings, self.env, self.policy
        n_base = self.n_base
        cols: dict[str, list] = {name: [] for name in log_schema(1, 1).names}
        feats: list[np.ndarray] = []
        probs_rows: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        for conv_id in settings.part_range(index):
            seed = int(np.random.SeedSequence([settings.seed, conv_id]).generate_state(1, dtype=np.uint64)[0] >> 1)
            rng = np.random.default_rng([settings.seed, conv_id, 1])
            obs, info = env.reset(seed=seed)
            user_id, persona = info["user_id"], info["persona"]
            turn = 0
            while True:
                mask = info["action_mask"]
                probs = policy.probabilities(obs[:n_base], mask)
                decision = sample_prompt(probs, rng)
                feats.append(obs)
                probs_rows.append(probs)
                masks.append(mask)
                obs, _, terminated, truncated, info = env.step(decision.prompt)
                prompt = info["prompt"]
                cols["conversation_id"].append(conv_id)
                cols["user_id"].append(user_id)
                cols["persona"].append(persona)
                cols["turn"].append(turn)
                cols["prompt"].append(prompt.prompt.value)
                cols["prompt_genres"].append(list(prompt.genres))
                cols["prompt_artist"].append(prompt.artist)
                cols["prompt_track"].append(prompt.track)
                cols["propensity"].append(decision.probability)
                cols["user_acts"].append(
                    [{"act": a.act.value, "slot": a.slot.value if a.slot else None, "value": a.value} for a in info["user_acts"]]
                )
                cols["sentiment"].append(info["sentiment"])
                cols["nlu_confidence"].append(info["confidence"])
                turn += 1
                if terminated or truncated:
                    break
            n = turn
            labels = info["usefulness"]
            cols["reward"].extend(float(x) for x in labels)
            cols["success"].extend([info["success"]] * n)
            cols["abandoned"].extend([info["abandoned"]] * n)
            cols["truncated"].extend([bool(truncated)] * n)
            cols["played_track"].extend([info["played_track"]] * n)
            cols["n_prompts"].extend([n] * n)
        n_rows = len(cols["turn"])
        features = np.stack(feats).astype(np.float32) if feats else np.zeros((0, self.n_base + self.n_hist), np.float32)
        schema = log_schema(self.n_base, self.n_hist)

        def fixed(values: np.ndarray, width: int, value_type: pa.DataType) -> pa.Array:
            return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), value_type), width)

        arrays = {
            **{k: cols[k] for k in cols if k not in ("features", "history_features", "action_probs", "valid_mask")},
            "features": fixed(np.ascontiguousarray(features[:, :n_base]), self.n_base, pa.float32()),
            "history_features": fixed(np.ascontiguousarray(features[:, n_base:]), self.n_hist, pa.float32()),
            "action_probs": fixed(np.stack(probs_rows).astype(np.float32) if n_rows else np.zeros((0, N_PROMPTS), np.float32), N_PROMPTS, pa.float32()),
            "valid_mask": fixed(np.stack(masks) if n_rows else np.zeros((0, N_PROMPTS), bool), N_PROMPTS, pa.bool_()),
        }
        return pa.table({name: arrays[name] for name in schema.names}, schema=schema)

    def metadata(self, index: int) -> dict[str, str]:
        s = self.settings
        conv = s.part_range(index)
        return {
            **file_metadata(feature_version=self.feature_version, names=self.names, n_base=self.n_base,
                            catalog_fingerprint=self.fingerprint, logging_policy=self.policy.name, settings=s.to_dict()),
            "segue.part": str(index),
            "segue.conversations": str(len(conv)),
            "segue.first_conversation": str(conv.start),
        }


def _base_layout(layout: FeatureLayout) -> FeatureLayout:
    """The base part of a history layout (the logging policy sees no history)."""
    return FeatureLayout("base", layout.names[: layout.n_base], layout.n_base, layout.version.replace("history", "base", 1))


_WORKER: _Worker | None = None


def _init_worker(settings_dict: dict) -> None:
    global _WORKER
    _WORKER = _Worker(CollectionSettings.from_dict(settings_dict))


def _run_part(folder: str, index: int) -> int:
    assert _WORKER is not None
    table = _WORKER.run(index)
    write_part(table, part_path(Path(folder), index), _WORKER.metadata(index))
    return index


def simulate_part(settings: CollectionSettings, index: int) -> pa.Table:
    """Simulate one part in this process (for tests and tools)."""
    return _Worker(settings).run(index)


# ----------------------------------------------------------------- driver
def _check_manifest(folder: Path, settings: CollectionSettings) -> None:
    manifest = folder / MANIFEST
    wanted = settings.to_dict()
    if manifest.exists():
        try:
            found = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise LogConflictError(f"{manifest} is not valid JSON ({exc}); remove the folder or choose another --out") from exc
        found_settings = found.get("settings", {})
        if found_settings != wanted:
            diffs = [k for k in sorted(set(wanted) | set(found_settings)) if wanted.get(k) != found_settings.get(k)]
            detail = ", ".join(f"{k}: {found_settings.get(k)!r} there, {wanted.get(k)!r} now" for k in diffs)
            raise LogConflictError(f"{folder} holds logs made with other settings ({detail}); choose another --out")
        return
    stray = sorted(folder.glob("part-*.parquet"))
    if stray:
        raise LogConflictError(f"{folder} holds log parts but no {MANIFEST}; choose another --out")
    tmp = manifest.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps({"segue_log_schema_version": LOG_SCHEMA_VERSION, "settings": wanted}, indent=2, sort_keys=True))
    os.replace(tmp, manifest)


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
    progress: Callable[[int, int], None] | None = None,
) -> CollectionResult:
    """Simulate the missing parts of ``folder``; ``progress(done_conversations, total)`` is called as parts land."""
    folder = prepare(folder, settings)
    for leftover in folder.glob(".part-*.tmp"):  # a crashed run's half-written file
        leftover.unlink()
    todo = [i for i in range(settings.n_parts) if not _complete(part_path(folder, i), len(settings.part_range(i)))]
    done = sum(len(settings.part_range(i)) for i in range(settings.n_parts) if i not in todo)
    if progress:
        progress(done, settings.conversations)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if todo and workers == 1:
        _init_worker(settings.to_dict())
        for index in todo:
            _run_part(str(folder), index)
            done += len(settings.part_range(index))
            if progress:
                progress(done, settings.conversations)
    elif todo:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(settings.to_dict(),)) as pool:
            futures = [pool.submit(_run_part, str(folder), index) for index in todo]
            for future in as_completed(futures):
                index = future.result()
                done += len(settings.part_range(index))
                if progress:
                    progress(done, settings.conversations)
    return CollectionResult(folder, len(todo), settings.n_parts - len(todo))
