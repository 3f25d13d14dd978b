"""The conversation log: one row per system prompt (turn), in Parquet.

Columns (per turn):
  conversation_id  int64    global index of the conversation in its collection
  user_id          int32
  persona          string   the user's segment (decisive | explorer), for per-segment reports
  turn             int16    0-based index of the prompt within its conversation
  prompt           string   prompt id (dialogue.prompts.PromptId)
  prompt_genres    list<string>  arguments: genres suggested / the station's genre
  prompt_artist    string   argument: the artist suggested
  prompt_track     int32    argument: the catalog row of the sample played or station seed
  propensity       float64  the logging policy's probability of this prompt (> 0)
  action_probs     fixed_size_list<float32>[N_PROMPTS]  its whole distribution
  valid_mask       fixed_size_list<bool>[N_PROMPTS]     prompts valid in this state
  features         fixed_size_list<float32>[n_base]     base state features before the prompt
  history_features fixed_size_list<float32>[n_hist]     the history variant's extra features
  user_acts        list<struct<act, slot, value>>        the answer as understood
  sentiment        float32  in [-1, 1]
  nlu_confidence   float32  in [0, 1]
  reward           float32  prompt usefulness label (0 or 1), filled at the end
  success, abandoned, truncated  bool   the conversation's outcome (same on every row)
  played_track     int32    catalog row played at the end (null unless success)
  n_prompts        int16    the conversation's length

File metadata (``segue.*`` keys) records the schema version, prompt
catalogue and feature versions, feature names, the catalog fingerprint, the
logging policy and the collection settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from dialogue.prompts import N_PROMPTS

if TYPE_CHECKING:
    from .manifest import LogManifest

__all__ = ["LOG_SCHEMA_VERSION", "ACT_TYPE", "log_schema", "REQUIRED_COLUMNS", "file_metadata"]

LOG_SCHEMA_VERSION = "1"
ACT_TYPE = pa.struct([("act", pa.string()), ("slot", pa.string()), ("value", pa.string())])


def log_schema(n_base: int, n_history: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("conversation_id", pa.int64(), nullable=False),
            pa.field("user_id", pa.int32(), nullable=False),
            pa.field("persona", pa.string()),
            pa.field("turn", pa.int16(), nullable=False),
            pa.field("prompt", pa.string(), nullable=False),
            pa.field("prompt_genres", pa.list_(pa.string())),
            pa.field("prompt_artist", pa.string()),
            pa.field("prompt_track", pa.int32()),
            pa.field("propensity", pa.float64()),
            pa.field("action_probs", pa.list_(pa.float32(), N_PROMPTS)),
            pa.field("valid_mask", pa.list_(pa.bool_(), N_PROMPTS)),
            pa.field("features", pa.list_(pa.float32(), n_base)),
            pa.field("history_features", pa.list_(pa.float32(), n_history)),
            pa.field("user_acts", pa.list_(ACT_TYPE)),
            pa.field("sentiment", pa.float32()),
            pa.field("nlu_confidence", pa.float32()),
            pa.field("reward", pa.float32()),
            pa.field("success", pa.bool_()),
            pa.field("abandoned", pa.bool_()),
            pa.field("truncated", pa.bool_()),
            pa.field("played_track", pa.int32()),
            pa.field("n_prompts", pa.int16()),
        ]
    )


REQUIRED_COLUMNS = tuple(log_schema(1, 1).names)


def file_metadata(manifest: "LogManifest") -> dict[str, str]:
    """The ``segue.*`` keys every log part carries (simulated, chat or voice), before its part-specific ones."""
    import json

    from dialogue.prompts import PROMPT_CATALOGUE_VERSION, PROMPTS

    names, n_base = manifest.feature_names, manifest.n_base
    return {
        "segue.log_schema_version": LOG_SCHEMA_VERSION,
        "segue.prompt_catalogue_version": PROMPT_CATALOGUE_VERSION,
        "segue.prompt_ids": json.dumps([p.id.value for p in PROMPTS]),
        "segue.feature_version": str(manifest.feature_version),
        "segue.features_names": json.dumps(list(names[:n_base])),
        "segue.history_features_names": json.dumps(list(names[n_base:])),
        "segue.catalog_fingerprint": manifest.catalog_fingerprint,
        "segue.logging_policy": manifest.logging_policy,
        "segue.settings": json.dumps(manifest.settings_json(), sort_keys=True),
    }
