"""Logs -> arrays for offline RL, and -> a d3rlpy ``MDPDataset``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from dialogue.features import FeatureVariant
from dialogue.prompts import PROMPTS
from policy.d3rlpy_support import mdp_dataset
from policy.data import Transitions

from .store import feature_names, fixed_column, read_logs, segue_metadata

__all__ = ["Transitions", "to_transitions", "to_mdp_dataset"]

_PROMPT_INDEX = {p.id.value: i for i, p in enumerate(PROMPTS)}


def to_transitions(table_or_folder: pa.Table | str | Path, *, features: FeatureVariant | str = FeatureVariant.BASE) -> Transitions:
    """The logs as training arrays for the ``features`` variant (raises ``ConfigError`` for an unknown variant,
    ``LogValidationError`` for a folder that does not validate)."""
    features = FeatureVariant.parse(features)
    table = table_or_folder if isinstance(table_or_folder, pa.Table) else read_logs(table_or_folder)
    obs = fixed_column(table, "features").astype(np.float32)
    if features is FeatureVariant.HISTORY:
        obs = np.concatenate([obs, fixed_column(table, "history_features").astype(np.float32)], axis=1)
    actions = np.array([_PROMPT_INDEX[p] for p in table["prompt"].to_pylist()], dtype=np.int64)
    conv = table["conversation_id"].to_numpy()
    last = np.ones(len(conv), dtype=bool)
    last[:-1] = conv[1:] != conv[:-1]
    truncated = table["truncated"].to_numpy(zero_copy_only=False)
    meta = segue_metadata(table.schema.metadata)
    names = feature_names(meta, "features")
    if features is FeatureVariant.HISTORY:
        names += feature_names(meta, "history_features")
    return Transitions(
        observations=obs,
        actions=actions,
        rewards=table["reward"].to_numpy(zero_copy_only=False).astype(np.float32),
        terminals=(last & ~truncated).astype(np.float32),
        timeouts=(last & truncated).astype(np.float32),
        masks=fixed_column(table, "valid_mask").astype(bool),
        propensities=table["propensity"].to_numpy(zero_copy_only=False).astype(np.float64),
        conversation=conv.astype(np.int64),
        feature_names=names if len(names) == obs.shape[1] else (),
    )


def to_mdp_dataset(table_or_folder: pa.Table | str | Path, *, features: FeatureVariant | str = FeatureVariant.BASE, with_mask: bool = False):
    """A d3rlpy ``MDPDataset`` (discrete actions, ``N_PROMPTS`` of them) of the logs.

    ``with_mask`` appends the valid-prompt mask to the observations, as the
    masked learners of ``policy`` expect.
    """
    return mdp_dataset(to_transitions(table_or_folder, features=features), with_mask=with_mask)
