"""Logs -> arrays for offline RL, and -> a d3rlpy ``MDPDataset``."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dialogue.features import VARIANTS
from dialogue.prompts import N_PROMPTS, PROMPTS
from recommender.errors import ConfigError

from .store import read_logs

__all__ = ["Transitions", "to_transitions", "to_mdp_dataset", "import_d3rlpy"]

_PROMPT_INDEX = {p.id.value: i for i, p in enumerate(PROMPTS)}


@dataclass(frozen=True)
class Transitions:
    """Turn-level arrays (n = number of logged prompts).

    observations float32 (n, n_features); actions int64 (n,); rewards float32 (n,);
    terminals float32 (n,): 1 on a conversation's last turn when it ended
    (accepted or abandoned); timeouts float32 (n,): 1 on the last turn when it
    was cut at max_turns; masks bool (n, N_PROMPTS): valid prompts at each
    turn; propensities float64 (n,); conversation int64 (n,).
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    masks: np.ndarray
    propensities: np.ndarray
    conversation: np.ndarray


def _fixed(table: pa.Table, column: str) -> np.ndarray:
    width = table.schema.field(column).type.list_size
    return pc.list_flatten(table[column]).to_numpy(zero_copy_only=False).reshape(table.num_rows, width)


def to_transitions(table_or_folder: pa.Table | str | Path, *, features: str = "base") -> Transitions:
    if features not in VARIANTS:
        raise ConfigError(f"--features must be one of {', '.join(VARIANTS)}, got {features!r}")
    table = table_or_folder if isinstance(table_or_folder, pa.Table) else read_logs(table_or_folder)
    obs = _fixed(table, "features").astype(np.float32)
    if features == "history":
        obs = np.concatenate([obs, _fixed(table, "history_features").astype(np.float32)], axis=1)
    actions = np.array([_PROMPT_INDEX[p] for p in table["prompt"].to_pylist()], dtype=np.int64)
    conv = table["conversation_id"].to_numpy()
    last = np.ones(len(conv), dtype=bool)
    last[:-1] = conv[1:] != conv[:-1]
    truncated = table["truncated"].to_numpy(zero_copy_only=False)
    return Transitions(
        observations=obs,
        actions=actions,
        rewards=table["reward"].to_numpy(zero_copy_only=False).astype(np.float32),
        terminals=(last & ~truncated).astype(np.float32),
        timeouts=(last & truncated).astype(np.float32),
        masks=_fixed(table, "valid_mask").astype(bool),
        propensities=table["propensity"].to_numpy(zero_copy_only=False).astype(np.float64),
        conversation=conv.astype(np.int64),
    )


def import_d3rlpy():
    """Import d3rlpy quietly: it prints a gym notice on import and logs chattily."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        import d3rlpy  # noqa: PLC0415
    logging.getLogger("d3rlpy").setLevel(logging.WARNING)
    try:
        import structlog  # noqa: PLC0415

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:  # pragma: no cover - structlog comes with d3rlpy
        pass
    return d3rlpy


def to_mdp_dataset(table_or_folder: pa.Table | str | Path, *, features: str = "base"):
    """A d3rlpy ``MDPDataset`` (discrete actions, ``N_PROMPTS`` of them) of the logs."""
    t = to_transitions(table_or_folder, features=features)
    d3rlpy = import_d3rlpy()
    return d3rlpy.dataset.MDPDataset(
        observations=t.observations,
        actions=t.actions,
        rewards=t.rewards,
        terminals=t.terminals,
        timeouts=t.timeouts,
        action_space=d3rlpy.constants.ActionSpace.DISCRETE,
        action_size=N_PROMPTS,
    )
