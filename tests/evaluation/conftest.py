"""Small hand-made logs for the estimator tests."""

from __future__ import annotations

import numpy as np
import pytest

from dialogue.prompts import N_PROMPTS
from evaluation.data import OPEData


def make_data(lengths, actions, behaviour_rows, rewards, success, persona=None) -> OPEData:
    """OPEData from per-turn lists; ``behaviour_rows`` are dicts prompt -> probability (the rest 0)."""
    n = sum(lengths)
    conversation = np.repeat(np.arange(len(lengths)), lengths)
    turn = np.concatenate([np.arange(k) for k in lengths])
    behaviour = np.zeros((n, N_PROMPTS))
    for i, row in enumerate(behaviour_rows):
        for a, p in row.items():
            behaviour[i, a] = p
    actions = np.asarray(actions, dtype=np.int64)
    return OPEData(
        conversation=conversation, turn=turn, actions=actions, propensities=behaviour[np.arange(n), actions],
        masks=behaviour > 0, features=np.zeros((n, 2), np.float32), history=np.zeros((n, 1), np.float32),
        rewards=np.asarray(rewards, dtype=np.float64), success=np.asarray(success, dtype=bool),
        persona=np.array(persona or ["decisive"] * len(lengths), dtype=object), behaviour=behaviour,
    )


@pytest.fixture
def tiny() -> OPEData:
    """Three conversations (2, 1 and 3 prompts) over prompts 0, 1 and 2."""
    b = [{0: 0.5, 1: 0.5}, {0: 0.25, 1: 0.75}, {0: 0.2, 1: 0.8}, {0: 0.5, 1: 0.3, 2: 0.2}, {0: 0.5, 2: 0.5}, {1: 1.0}]
    return make_data(
        lengths=[2, 1, 3],
        actions=[0, 1, 1, 0, 2, 1],
        behaviour_rows=b,
        rewards=[1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
        success=[True, False, True],
    )
