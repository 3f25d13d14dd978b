"""Labels that change later: an accepted track counts as a success only once the person keeps listening.

The seed articles (``../shared/seeds/001_*``) confirm playback success only
after the customer keeps listening, so the newest logs carry provisional
labels. The simulated delay: a conversation that ended with an accepted track
is later counted as skipped with probability

    p_skip = base + slope * (1 - a),  a = affinity(track) / max affinity over the user's history, in [0, 1]

(the further the track from what the person usually plays, the likelier the
skip), drawn from its own seeded stream per conversation id, so the logs'
bytes and the rest of the simulation are untouched. A skipped conversation's
final labels are those of a conversation that played nothing: not a success,
and every prompt's usefulness 0 (``dialogue.usefulness``).

``skip_model`` learns, from earlier rounds whose labels are final, the
probability that a provisional success is later skipped given the last
state's features (a logistic regression, scikit-learn); ``expected_final``
replaces a provisional round's labels by their expectation under it: each
turn of a provisional success keeps ``1 - p_skip(x)`` of its label. That is
the weighting of recent examples by the probability that their label changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import ConfigError
from recommender.catalog import Catalog
from recommender.history import HistoryProfile

from .config import SimulatorConfig
from .population import Population

__all__ = ["DelaySettings", "skipped_later", "final_labels", "skip_model", "expected_final", "conversation_rows"]


@dataclass(frozen=True)
class DelaySettings:
    """base, slope: of ``p_skip`` (module docstring), base + slope in [0, 1]; seed: of the skip draws."""

    base: float = 0.05
    slope: float = 0.4
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.base and 0 <= self.slope and self.base + self.slope <= 1):
            raise ConfigError(f"delay: base and slope must be >= 0 with base + slope <= 1, got {self.base}, {self.slope}")


def conversation_rows(table: pa.Table) -> np.ndarray:
    """Index of each conversation's first row (conversations are contiguous, turn 0 first)."""
    return np.flatnonzero(table["turn"].to_numpy() == 0)


def skipped_later(table: pa.Table, catalog: Catalog, config: SimulatorConfig, settings: DelaySettings = DelaySettings()
                  ) -> np.ndarray:
    """bool (conversations,): whether each conversation's accepted track is later skipped (False when none was)."""
    first = conversation_rows(table)
    success = table["success"].to_numpy(zero_copy_only=False)[first]
    played = table["played_track"].to_numpy(zero_copy_only=False)[first]
    users = table["user_id"].to_numpy()[first]
    ids = table["conversation_id"].to_numpy()[first]
    population = Population(catalog, config, cache_size=4096)
    skipped = np.zeros(len(first), dtype=bool)
    for i in np.flatnonzero(success):
        profile = HistoryProfile(catalog, population.user(int(users[i])).plays)
        top = float(profile.track_affinity.max())
        a = min(1.0, float(profile.track_affinity[int(played[i])]) / top) if top > 0 else 0.0
        u = np.random.default_rng([settings.seed, 0x5C1B, int(ids[i])]).random()
        skipped[i] = u < settings.base + settings.slope * (1.0 - a)
    return skipped


def _per_row(values: np.ndarray, table: pa.Table) -> np.ndarray:
    first = conversation_rows(table)
    lengths = np.diff(np.append(first, table.num_rows))
    return np.repeat(values, lengths)


def final_labels(table: pa.Table, skipped: np.ndarray) -> pa.Table:
    """The table with its final labels: a skipped conversation is not a success and every label is 0."""
    rows = _per_row(skipped, table)
    success = pc.and_(table["success"], pa.array(~rows))
    reward = pa.array(np.where(rows, 0.0, table["reward"].to_numpy(zero_copy_only=False)).astype(np.float32))
    table = table.set_column(table.schema.get_field_index("success"), table.schema.field("success"), success)
    return table.set_column(table.schema.get_field_index("reward"), table.schema.field("reward"), reward)


def _last_state(table: pa.Table) -> np.ndarray:
    first = conversation_rows(table)
    last = np.append(first[1:], table.num_rows) - 1
    base = np.asarray(table["features"].combine_chunks().flatten().to_numpy(), dtype=np.float32).reshape(table.num_rows, -1)
    hist = np.asarray(table["history_features"].combine_chunks().flatten().to_numpy(), dtype=np.float32).reshape(table.num_rows, -1)
    return np.concatenate([base, hist], axis=1)[last]


def skip_model(final_tables: list[tuple[pa.Table, np.ndarray]]):
    """A classifier of P(skipped later | last state) fitted on earlier rounds' successes (table, skipped) whose
    labels are final. Returns ``predict(table) -> float (conversations,)``: 0 for conversations without success.
    Raises ``ConfigError`` when the earlier rounds hold no success or no skip to learn from."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for table, skipped in final_tables:
        success = table["success"].to_numpy(zero_copy_only=False)[conversation_rows(table)]
        xs.append(_last_state(table)[success])
        ys.append(skipped[success])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(y) == 0 or y.all() or not y.any():
        raise ConfigError("the earlier rounds hold no successes, or none later skipped: nothing to learn the delay from")
    model = LogisticRegression(max_iter=1000).fit(x, y)

    def predict(table: pa.Table) -> np.ndarray:
        success = table["success"].to_numpy(zero_copy_only=False)[conversation_rows(table)]
        p = np.zeros(len(success))
        if success.any():
            p[success] = model.predict_proba(_last_state(table)[success])[:, 1]
        return p

    return predict


def expected_final(table: pa.Table, p_skip: np.ndarray) -> pa.Table:
    """A provisional table's labels replaced by their expectation: each turn's usefulness times ``1 - p_skip`` of
    its conversation (success stays as logged: the learners read the usefulness rewards)."""
    keep = _per_row(1.0 - p_skip, table)
    reward = pa.array((table["reward"].to_numpy(zero_copy_only=False) * keep).astype(np.float32))
    return table.set_column(table.schema.get_field_index("reward"), table.schema.field("reward"), reward)
