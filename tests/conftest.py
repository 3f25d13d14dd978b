"""Shared fixtures: the vendored catalog, simulated logs, one trained registry, histories and embeddings (each built once
per test session and shared across the test packages)."""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.threads import quiet_openmp

# As the CLI does before torch loads: waiting OpenMP threads sleep instead of spinning. The suite runs two test
# processes on two cores, and a spinning torch thread of one steals the other's core (the session's embeddings took
# 42 s instead of 22 s beside a busy core; training fixtures likewise).
if "torch" in sys.modules:  # a plugin loaded it first: the variable comes too late for this process
    warnings.warn("torch was imported before tests/conftest.py could set OMP_WAIT_POLICY=PASSIVE", stacklevel=1)
quiet_openmp()

from recommender.catalog import Catalog  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: The slowest test files, heaviest first (seconds in one process, `pytest -n 2 --dist loadfile --durations=0` on a
#: 2-core VM, 2026-12-03, after the CLI tests moved in-process). `make test` passes --no-loadscope-reorder, so xdist
#: hands out files in this order and then the others in their usual order: longest jobs first is how two processes
#: finish together (xdist's own reorder sorts files by their number of tests, which sent the 2-minute Ray file and the
#: demo journey last).
SLOW_FILES_FIRST = (
    "tests/core/test_engine.py",
    "tests/journeys/test_newcomer.py",
    "tests/segue/test_cli_policy.py",
    "tests/journeys/test_logs_from_every_source.py",
    "tests/segue/test_loop.py",
    "tests/logs/test_interchange.py",
    "tests/segue/test_voice.py",
    "tests/policy/test_learned.py",
    "tests/segue/test_chat.py",
    "tests/logs/test_collect.py",
    "tests/segue/test_cli_eval.py",
    "tests/simulator/test_calibration.py",
    "tests/segue/test_cli.py",
)


def pytest_collection_modifyitems(config, items):
    """Put the files of ``SLOW_FILES_FIRST`` first, in that order; a stable sort keeps every file's own order."""
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def small_logs(tmp_path_factory) -> Path:
    """200 logged conversations in 2 parts (seed 7), built once per test session."""
    from logs.collect import CollectionSettings, collect

    folder = tmp_path_factory.mktemp("logs") / "small"
    collect(folder, CollectionSettings(conversations=200, seed=7, part_size=100), workers=1)
    return folder


@pytest.fixture(scope="session")
def small_histories(catalog):
    """The simulator population's history table for 700 users (ids 0..699, default config), as Histories."""
    from recommender.histories import histories_from_table
    from simulator.config import SimulatorConfig
    from simulator.histories import population_histories

    table = population_histories(catalog, SimulatorConfig(), 700)
    return histories_from_table(table, catalog, source="simulator population (700 users)")


#: the arrays of an ``Embeddings`` that its save and load must keep
EMBEDDING_ARRAYS = ("source", "target", "user_proj", "cold")


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    import hashlib

    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()


@pytest.fixture(scope="session")
def small_embeddings(catalog, small_histories, tmp_path_factory, worker_id):
    """Embeddings trained briefly (500 of small_histories' users, 200 others to evaluate, 100 steps, 20 cold-start
    epochs; about 5 s), saved once per test run and shared by the test processes (``built_once``): (Embeddings,
    folder, as trained) with ``as trained`` the version, threshold and ``array_digest`` of each array as training
    returned them, before saving (recorded where they were trained), and the Embeddings themselves as trained there,
    as loaded elsewhere."""
    import json

    from recommender.embeddings import Embeddings, EmbeddingSettings, train_embeddings

    made = {}

    def build(root: Path) -> None:
        settings = EmbeddingSettings(steps=100, train_users=500, eval_users=200, seed=3, cold_epochs=20)
        emb, _ = train_embeddings(catalog, settings, histories=small_histories)
        emb.save(root / "embeddings")
        made["emb"] = emb
        record = {"version": emb.version, "threshold": emb.threshold,
                  **{name: array_digest(getattr(emb, name)) for name in EMBEDDING_ARRAYS}}
        (root / "as_trained.json").write_text(json.dumps(record))

    root = built_once(tmp_path_factory, worker_id, "emb", build)
    folder = root / "embeddings"
    emb = made.get("emb") or Embeddings.load(folder, catalog=catalog)
    return emb, folder, json.loads((root / "as_trained.json").read_text())


def built_once(tmp_path_factory, worker_id: str, name: str, build) -> Path:
    """A folder ``build(folder)`` fills once per test run. Under pytest-xdist the first worker to ask builds it in the
    run's shared temporary folder under a file lock and the others wait and reuse it (pytest-xdist's documented
    recipe): the suite's two processes need the same expensive artefacts and used to build them twice."""
    if worker_id == "master":  # no xdist: this process's own temporary folder
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / name
    done = folder / ".built"
    with FileLock(str(folder) + ".lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way is not reused
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def training_logs_folder(tmp_path_factory, worker_id) -> Path:
    """3,000 logged conversations in 2 parts (seed 21): enough for short training runs to beat chance."""
    from logs.collect import CollectionSettings, collect

    def build(folder: Path) -> None:
        collect(folder / "logs", CollectionSettings(conversations=3000, seed=21, part_size=1500), workers=2)

    return built_once(tmp_path_factory, worker_id, "train", build) / "logs"


#: (learner, features, gradient steps) of the shared registry
TRAINED = (("cql", "base", 600), ("bcq", "base", 200), ("bc", "base", 200), ("regressor", "base", 1),
           ("cql", "history", 300), ("regressor", "history", 1))


def probe_states(catalog) -> list[tuple]:
    """The (history-variant features, mask) pairs a uniformly random policy visits in 25 simulated conversations
    (seed 3): where each trained policy's as-trained decisions are recorded (``trained_registry``)."""
    from simulator import MusicUserEnv
    from tests.policy.conformance import collect_states

    return collect_states(MusicUserEnv(catalog=catalog, features="history"), n_conversations=25, seed=3)


@pytest.fixture(scope="session")
def trained_registry(training_logs_folder, tmp_path_factory, worker_id, catalog):
    """One small policy per learner and feature variant on ``training_logs_folder``, saved in one registry shared by
    every test package and test process: (registry folder, {name: the policy's probabilities as trained, before
    saving, float (n_probe_states, N_PROMPTS) on ``probe_states`` cut to its feature variant}).

    The decisions are recorded where the policies are trained, so a process that reuses the registry still checks
    a loaded policy against the policy as it came out of training (``tests/policy/test_learned.py``)."""
    from dialogue.features import Featurizer
    from dialogue.prompts import PROMPT_CATALOGUE_VERSION
    from logs import read_logs, to_transitions
    from policy.registry import PolicyRecord, save_policy
    from policy.train import TrainConfig, train

    def build(root: Path) -> None:
        table = read_logs(training_logs_folder)
        registry = root / "registry"
        registry.mkdir()
        states, as_trained = probe_states(catalog), {}
        for algo, features, steps in TRAINED:
            data = to_transitions(table, features=features)
            name = f"{algo}-{features}"
            staging = registry / f".{name}.staging"
            staging.mkdir()
            config = TrainConfig.make(algo, features=features, steps=steps, seed=0)
            result = train(data, config, staging, name=name)
            layout = Featurizer(catalog.genre_names, features).layout
            record = PolicyRecord(name=name, algo=algo, features=features, feature_version=layout.version,
                                  prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config=config.to_dict(),
                                  logs={"path": str(training_logs_folder), "conversations": data.n_conversations},
                                  model_file=result.model_file, train_seconds=result.seconds, feature_names=list(layout.names))
            as_trained[name] = np.stack([result.policy.probabilities(f[: layout.size], m) for f, m in states])
            save_policy(registry / name, record, result.model, staging=staging)
        np.savez(root / "as_trained.npz", **as_trained)

    root = built_once(tmp_path_factory, worker_id, "registry", build)
    with np.load(root / "as_trained.npz") as recorded:
        return root / "registry", {name: recorded[name] for name in recorded.files}
