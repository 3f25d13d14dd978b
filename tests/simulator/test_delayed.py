"""Labels that change later: the simulated skip, the final labels, and a skip model learnt from earlier rounds."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from logs.store import read_logs
from simulator.config import SimulatorConfig
from simulator.delayed import DelaySettings, expected_final, final_labels, skip_model, skipped_later


@pytest.fixture(scope="module")
def rounds(training_logs_folder, catalog):
    table = read_logs(training_logs_folder)
    first = np.flatnonzero(table["turn"].to_numpy() == 0)
    cut = int(first[len(first) // 2])
    halves = [table.slice(0, cut), table.slice(cut)]
    return [(t, skipped_later(t, catalog, SimulatorConfig())) for t in halves]


def test_only_accepted_conversations_are_later_skipped_the_same_way_every_time(rounds, catalog):
    (table, skipped), _ = rounds
    success = table["success"].to_numpy(zero_copy_only=False)[table["turn"].to_numpy() == 0]
    assert not skipped[~success].any()
    assert 0.05 <= skipped[success].mean() <= 0.45
    np.testing.assert_array_equal(skipped, skipped_later(table, catalog, SimulatorConfig()))
    other = skipped_later(table, catalog, SimulatorConfig(), DelaySettings(seed=1))
    assert (other != skipped).any()
    with pytest.raises(ConfigError, match="base \\+ slope <= 1"):
        DelaySettings(base=0.5, slope=0.6)


def test_a_skipped_conversation_ends_with_no_success_and_no_useful_prompt(rounds):
    (table, skipped), _ = rounds
    final = final_labels(table, skipped)
    first = table["turn"].to_numpy() == 0
    conv = np.cumsum(first) - 1
    reward, final_reward = table["reward"].to_numpy(), final["reward"].to_numpy()
    assert (final_reward[skipped[conv]] == 0).all() and (final_reward[~skipped[conv]] == reward[~skipped[conv]]).all()
    assert not final["success"].to_numpy(zero_copy_only=False)[first][skipped].any()
    half = expected_final(table, np.where(skipped, 0.5, 0.0))
    np.testing.assert_allclose(half["reward"].to_numpy()[skipped[conv]], reward[skipped[conv]] * 0.5)


def test_the_skip_model_learnt_on_one_round_predicts_the_share_on_the_next(rounds):
    (old, old_skipped), (new, new_skipped) = rounds
    p = skip_model([(old, old_skipped)])(new)
    success = new["success"].to_numpy(zero_copy_only=False)[new["turn"].to_numpy() == 0]
    assert (p[~success] == 0).all()
    assert p[success].mean() == pytest.approx(new_skipped[success].mean(), abs=0.05)
    # it ranks: the conversations it finds likelier to be skipped are skipped more often
    order = np.argsort(p[success])
    low, high = new_skipped[success][order[: len(order) // 3]], new_skipped[success][order[-len(order) // 3:]]
    assert high.mean() > low.mean()
