"""The simulated population's listening histories as a history table (``recommender.histories``).

``population_histories`` turns users ``first_user .. first_user + n_users - 1``
of the population into rows ``user_id, track_id, plays, segment``: one row per
(user, distinct track), ``plays`` the times the user played it, ``segment``
the user's persona name. The same config gives the same table: a user is a
deterministic function of ``(population_seed, user_id)``.
``segue simulate-histories`` writes it with ``recommender.histories.write_histories``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa

from core.errors import ConfigError
from recommender.catalog import Catalog
from recommender.histories import HISTORY_SCHEMA

from .config import SimulatorConfig
from .population import Population

__all__ = ["population_histories"]

_PROGRESS_EVERY = 100


def population_histories(
    catalog: Catalog,
    config: SimulatorConfig,
    n_users: int,
    *,
    first_user: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> pa.Table:
    """The histories of ``n_users`` simulated users (ids from ``first_user``) as a history table.

    Columns (``HISTORY_SCHEMA``): ``user_id`` int64, ``track_id`` string (the catalog's ids),
    ``plays`` int64 > 0, ``segment`` string (the persona: "decisive" or "explorer"); rows sorted by
    user, then catalog row. ``progress(done, total)`` is called every 100 users and at the end.
    Raises ``ConfigError`` when ``n_users`` < 1 or ``first_user`` < 0.
    """
    if n_users < 1:
        raise ConfigError(f"n_users must be >= 1, got {n_users}")
    if first_user < 0:
        raise ConfigError(f"first_user must be >= 0, got {first_user}")
    population = Population(catalog, config, cache_size=1)
    users, tracks, plays, personas, persona_names = [], [], [], [], []
    code: dict[str, int] = {}
    for done, uid in enumerate(range(first_user, first_user + n_users), start=1):
        user = population.user(uid)
        rows, counts = np.unique(user.plays, return_counts=True)
        users.append(np.full(len(rows), uid, dtype=np.int64))
        tracks.append(rows.astype(np.int64))
        plays.append(counts.astype(np.int64))
        name = user.persona.name
        if name not in code:
            code[name] = len(persona_names)
            persona_names.append(name)
        personas.append(np.full(len(rows), code[name], dtype=np.int32))
        if progress is not None and (done % _PROGRESS_EVERY == 0 or done == n_users):
            progress(done, n_users)
    track_ids = catalog.table["track_id"].take(pa.array(np.concatenate(tracks)))
    segment = pa.DictionaryArray.from_arrays(pa.array(np.concatenate(personas)), pa.array(persona_names, pa.string()))
    return pa.Table.from_arrays(
        [pa.array(np.concatenate(users)), track_ids.combine_chunks().cast(pa.string()),
         pa.array(np.concatenate(plays)), segment.cast(pa.string())],
        schema=HISTORY_SCHEMA,
    )
