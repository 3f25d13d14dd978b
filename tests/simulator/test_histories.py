import numpy as np
import pyarrow as pa
import pytest

import simulator
from core.errors import ConfigError
from recommender.histories import HISTORY_SCHEMA, histories_from_table
from simulator import Population, SimulatorConfig, population_histories


def test_table_has_the_documented_schema(catalog):
    table = population_histories(catalog, SimulatorConfig(), 40)
    assert table.schema.equals(HISTORY_SCHEMA)
    assert [f.name for f in table.schema] == ["user_id", "track_id", "plays", "segment"]
    assert (table["user_id"].type, table["track_id"].type, table["plays"].type, table["segment"].type) == (
        pa.int64(), pa.string(), pa.int64(), pa.string())
    assert table["plays"].to_numpy().min() >= 1 and table.num_rows > 40
    assert set(table["segment"].to_pylist()) <= {"decisive", "explorer"}
    assert set(table["track_id"].to_pylist()) <= set(catalog.table["track_id"].to_pylist())
    assert simulator.population_histories is population_histories
    hist = histories_from_table(table, catalog)  # the table passes the recommender's validation
    assert np.array_equal(hist.users, np.arange(40)) and set(hist.segment_names) <= {"decisive", "explorer"}


def test_deterministic_for_the_same_config(catalog):
    a = population_histories(catalog, SimulatorConfig(), 30, first_user=5)
    b = population_histories(catalog, SimulatorConfig(), 30, first_user=5)
    assert a.equals(b)
    other = population_histories(catalog, SimulatorConfig(population_seed=7), 30, first_user=5)
    assert not other.equals(a)
    calls = []
    population_histories(catalog, SimulatorConfig(), 250, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 250), (200, 250), (250, 250)]


def test_plays_per_user_equal_the_population(catalog):
    config = SimulatorConfig(population_seed=11)
    table = population_histories(catalog, config, 25, first_user=100)
    population = Population(catalog, config)
    users = table["user_id"].to_numpy()
    rows = catalog.table["track_id"].to_pylist()
    index = {tid: i for i, tid in enumerate(rows)}
    assert np.array_equal(np.unique(users), np.arange(100, 125))
    for uid in range(100, 125):
        mine = users == uid
        sim = population.user(uid)
        tracks, counts = np.unique(sim.plays, return_counts=True)
        got = np.array([index[t] for t in np.asarray(table["track_id"].to_pylist(), dtype=object)[mine]])
        assert np.array_equal(got, tracks)
        assert np.array_equal(table["plays"].to_numpy()[mine], counts)
        assert table["plays"].to_numpy()[mine].sum() == len(sim.plays)
        assert set(np.asarray(table["segment"].to_pylist(), dtype=object)[mine]) == {sim.persona.name}


def test_refuses_bad_sizes(catalog):
    with pytest.raises(ConfigError, match="n_users must be >= 1, got 0"):
        population_histories(catalog, SimulatorConfig(), 0)
    with pytest.raises(ConfigError, match="first_user must be >= 0, got -1"):
        population_histories(catalog, SimulatorConfig(), 3, first_user=-1)
