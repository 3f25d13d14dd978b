"""Shared fixtures: the vendored catalog, simulated logs, one trained registry, histories and embeddings (each built once
per test session and shared across the test packages)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

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


@pytest.fixture(scope="session")
def small_embeddings(catalog, small_histories, tmp_path_factory):
    """Embeddings trained briefly (500 of small_histories' users, 200 others to evaluate, 100 steps; about 12 s),
    saved once per session: (Embeddings, folder)."""
    from recommender.embeddings import EmbeddingSettings, train_embeddings

    settings = EmbeddingSettings(steps=100, train_users=500, eval_users=200, seed=3)
    emb, _ = train_embeddings(catalog, settings, histories=small_histories)
    folder = emb.save(tmp_path_factory.mktemp("emb") / "embeddings")
    return emb, folder


@pytest.fixture(scope="session")
def training_logs_folder(tmp_path_factory) -> Path:
    """3,000 logged conversations in 2 parts (seed 21): enough for short training runs to beat chance."""
    from logs.collect import CollectionSettings, collect

    folder = tmp_path_factory.mktemp("train") / "logs"
    collect(folder, CollectionSettings(conversations=3000, seed=21, part_size=1500), workers=2)
    return folder


#: (learner, features, gradient steps) of the shared registry
TRAINED = (("cql", "base", 1500), ("bcq", "base", 600), ("bc", "base", 600), ("regressor", "base", 1),
           ("cql", "history", 600), ("regressor", "history", 1))


@pytest.fixture(scope="session")
def trained_registry(training_logs_folder, tmp_path_factory, catalog):
    """One small policy per learner and feature variant on ``training_logs_folder``, saved in one registry shared by
    every test package: (registry folder, {name: the policy as trained, before saving})."""
    from dialogue.features import Featurizer
    from dialogue.prompts import PROMPT_CATALOGUE_VERSION
    from logs import read_logs, to_transitions
    from policy.registry import PolicyRecord, save_policy
    from policy.train import TrainConfig, train

    table = read_logs(training_logs_folder)
    registry = tmp_path_factory.mktemp("registry")
    made = {}
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
        save_policy(registry / name, record, result.model, staging=staging)
        made[name] = result.policy
    return registry, made
