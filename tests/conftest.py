"""Shared fixtures: the vendored catalog, a small simulated log folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.catalog import Catalog

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
