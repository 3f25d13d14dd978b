"""The one writer of log rows: conversation records -> the Parquet log table, for every source.

``conversations_table`` turns ``dialogue.records.ConversationRecord`` objects
(from the simulator's rollouts or from the dialogue manager talking with a
person) into a table in ``logs.schema.log_schema``; ``ConversationLog`` is the
sink a chat or voice session gives its dialogue manager: it keeps the
conversations and writes them as one new part of a log folder when closed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from dialogue.prompts import N_PROMPTS
from dialogue.records import ConversationRecord

from .errors import LogWriteError
from .ids import session_id
from .manifest import LogManifest
from .schema import file_metadata, log_schema
from .store import PART_GLOB, add_part_to_manifest, check_session_folder, part_path, write_part

__all__ = ["conversations_table", "ConversationLog", "acts_json"]


def acts_json(acts) -> list[dict]:
    """Dialogue acts as the log's ``user_acts`` structs."""
    return [{"act": a.act.value, "slot": a.slot.value if a.slot else None, "value": a.value} for a in acts]


def _fixed(values: np.ndarray, width: int, value_type: pa.DataType) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(values).reshape(-1), value_type), width)


def conversations_table(conversations: Sequence[ConversationRecord], *, n_base: int, n_history: int,
                        ids: Sequence[int]) -> pa.Table:
    """Rows of the log table (``logs.schema``), one per prompt, conversations in order with the given ``ids``
    (one each; ``logs.ids`` makes them unique across parts, runs and sources).

    Every turn's features hold ``n_base + n_history`` values (the history layout); the table splits them
    into ``features`` and ``history_features``. Outcome and opening columns repeat on each row.
    """
    if len(ids) != len(conversations):
        raise LogWriteError(f"{len(ids)} conversation ids for {len(conversations)} conversations")
    schema = log_schema(n_base, n_history)
    n_rows = sum(c.n_prompts for c in conversations)
    cols: dict[str, list] = {name: [] for name in ("conversation_id", "user_id", "persona", "turn", "prompt", "prompt_genres",
                                                    "prompt_artist", "prompt_track", "forced", "propensity", "user_acts",
                                                    "sentiment", "nlu_confidence", "opening_acts", "opening_sentiment",
                                                    "opening_confidence", "reward", "success", "abandoned", "truncated",
                                                    "played_track", "n_prompts")}
    features = np.zeros((n_rows, n_base + n_history), dtype=np.float32)
    distributions = np.zeros((n_rows, N_PROMPTS), dtype=np.float32)
    masks = np.zeros((n_rows, N_PROMPTS), dtype=bool)
    row = 0
    for conversation_id, conv in zip(ids, conversations):
        n = conv.n_prompts
        opening = acts_json(conv.opening)
        for t, turn in enumerate(conv.turns):
            p = turn.prompt
            cols["turn"].append(t)
            cols["prompt"].append(p.prompt.value)
            cols["prompt_genres"].append(list(p.genres))
            cols["prompt_artist"].append(p.artist)
            cols["prompt_track"].append(p.track)
            cols["forced"].append(turn.forced)
            cols["propensity"].append(turn.propensity)
            cols["user_acts"].append(acts_json(turn.acts))
            cols["sentiment"].append(turn.sentiment)
            cols["nlu_confidence"].append(turn.confidence)
            features[row] = turn.features
            distributions[row] = turn.distribution
            masks[row] = turn.mask
            row += 1
        cols["conversation_id"].extend([conversation_id] * n)
        cols["opening_acts"].extend([opening] * n)
        cols["opening_sentiment"].extend([conv.opening_sentiment] * n)
        cols["opening_confidence"].extend([conv.opening_confidence] * n)
        cols["user_id"].extend([conv.user_id] * n)
        cols["persona"].extend([conv.persona] * n)
        cols["reward"].extend(float(x) for x in conv.labels)
        cols["success"].extend([conv.success] * n)
        cols["abandoned"].extend([conv.abandoned] * n)
        cols["truncated"].extend([conv.truncated] * n)
        cols["played_track"].extend([conv.played_track] * n)
        cols["n_prompts"].extend([n] * n)
    arrays = {
        **cols,
        "features": _fixed(features[:, :n_base], n_base, pa.float32()),
        "history_features": _fixed(features[:, n_base:], n_history, pa.float32()),
        "action_probs": _fixed(distributions, N_PROMPTS, pa.float32()),
        "valid_mask": _fixed(masks, N_PROMPTS, pa.bool_()),
    }
    return pa.table({name: arrays[name] for name in schema.names}, schema=schema)


@dataclass
class ConversationLog:
    """A conversation sink that writes what it received as one new part of ``folder`` on ``close()``.

    Nothing is written for a session without a prompt. The part gets the first free part number, so
    sessions never overwrite each other, and is added to the folder's ``manifest.json`` (the parts a reader
    reads). Each conversation gets a random id (``logs.ids.session_id``). Raises ``LogWriteError`` when the
    folder cannot be written.
    """

    folder: Path
    manifest: LogManifest
    conversations: list[ConversationRecord] = field(default_factory=list)

    def add(self, conversation: ConversationRecord) -> None:
        self.conversations.append(conversation)

    def close(self) -> tuple[Path, int, int] | None:
        """Write the part; returns (its path, conversations, turns), or None when there was nothing to log."""
        if not self.conversations:
            return None
        folder = Path(self.folder)
        if folder.exists() and not folder.is_dir():
            raise LogWriteError(f"cannot log to {folder}: it is a file, not a folder")
        check_session_folder(folder)  # before the part is written: a refused folder is left as it was
        folder.mkdir(parents=True, exist_ok=True)
        m = self.manifest
        ids = [session_id() for _ in self.conversations]
        table = conversations_table(self.conversations, n_base=m.n_base, n_history=len(m.feature_names) - m.n_base, ids=ids)
        index = len(list(folder.glob(PART_GLOB)))
        while part_path(folder, index).exists():
            index += 1
        path = part_path(folder, index)
        n = len(self.conversations)
        write_part(table, path, {**file_metadata(m), "segue.part": str(index), "segue.conversations": str(n),
                                 "segue.logged_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        add_part_to_manifest(folder, path.name)
        self.conversations = []
        return path, n, table.num_rows
