"""The conversation log: one row per system prompt (turn), in Parquet. Schema version 2.

Columns (per turn; "required" columns may hold no null, and no NaN where they are numbers):
  conversation_id  int64    required; unique across parts, runs and sources (``logs.ids``)
  user_id          int32    required; the simulated user, or -1 for a person
  persona          string   the user's segment (decisive | explorer | person | imported), for per-segment reports
  turn             int16    required; 0-based index of the prompt within its conversation
  prompt           string   required; prompt id (dialogue.prompts.PromptId)
  prompt_genres    list<string>  arguments: genres suggested / the station's genre
  prompt_artist    string   argument: the artist suggested
  prompt_track     int32    argument: the catalog row of the sample played or station seed
  forced           bool     required; the prompt was not the system's choice (the person led: "play some jazz");
                            its serving distribution is one-hot and its propensity 1, and estimators treat it as no decision
  propensity       float64  required; the serving distribution's probability of this prompt, in (0, 1]
  action_probs     fixed_size_list<float32>[N_PROMPTS]  required; that whole distribution
  valid_mask       fixed_size_list<bool>[N_PROMPTS]     required; prompts valid in this state
  features         fixed_size_list<float32>[n_base]     required; base state features before the prompt
  history_features fixed_size_list<float32>[n_hist]     required; the history variant's extra features
  user_acts        list<struct<act, slot, value>>        required; the answer as understood (may be empty)
  sentiment        float32  required; in [-1, 1]
  nlu_confidence   float32  required; in [0, 1]
  opening_acts     list<struct<act, slot, value>>        required; what the user said before the first prompt
  opening_sentiment, opening_confidence  float32         required; of that opening (same on every row)
  reward           float32  required; prompt usefulness label (0 or 1), filled at the end
  success, abandoned, truncated  bool   required; the conversation's outcome (same on every row)
  played_track     int32    catalog row played at the end (null unless success)
  n_prompts        int16    required; the conversation's length

Parts of schema version 1 (Segue 0.1: no ``forced`` and no opening columns) are still read: their prompts
count as not forced and their opening is unknown (they cannot be exported for a replay). Columns Segue does
not know are ignored when a part is read (a newer writer may add some); a known column of another type is
an error naming the part and the column.

File metadata (``segue.*`` keys) records the schema version, prompt
catalogue and feature versions, feature names, the catalog fingerprint, the
logging policy and the collection or session settings (``logs.manifest``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from dialogue.prompts import N_PROMPTS

if TYPE_CHECKING:
    from .manifest import LogManifest

__all__ = ["LOG_SCHEMA_VERSION", "READABLE_SCHEMA_VERSIONS", "ACT_TYPE", "log_schema", "REQUIRED_COLUMNS", "NON_NULL_COLUMNS",
           "V2_COLUMNS", "file_metadata"]

LOG_SCHEMA_VERSION = "2"
READABLE_SCHEMA_VERSIONS = ("1", "2")
ACT_TYPE = pa.struct([("act", pa.string()), ("slot", pa.string()), ("value", pa.string())])
#: columns schema version 2 added
V2_COLUMNS = ("forced", "opening_acts", "opening_sentiment", "opening_confidence")


def log_schema(n_base: int, n_history: int, *, version: str = LOG_SCHEMA_VERSION) -> pa.Schema:
    """The expected schema of a part (``version`` "1" leaves out ``V2_COLUMNS``)."""
    fields = [
        pa.field("conversation_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int32(), nullable=False),
        pa.field("persona", pa.string()),
        pa.field("turn", pa.int16(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("prompt_genres", pa.list_(pa.string())),
        pa.field("prompt_artist", pa.string()),
        pa.field("prompt_track", pa.int32()),
        pa.field("forced", pa.bool_()),
        pa.field("propensity", pa.float64()),
        pa.field("action_probs", pa.list_(pa.float32(), N_PROMPTS)),
        pa.field("valid_mask", pa.list_(pa.bool_(), N_PROMPTS)),
        pa.field("features", pa.list_(pa.float32(), n_base)),
        pa.field("history_features", pa.list_(pa.float32(), n_history)),
        pa.field("user_acts", pa.list_(ACT_TYPE)),
        pa.field("sentiment", pa.float32()),
        pa.field("nlu_confidence", pa.float32()),
        pa.field("opening_acts", pa.list_(ACT_TYPE)),
        pa.field("opening_sentiment", pa.float32()),
        pa.field("opening_confidence", pa.float32()),
        pa.field("reward", pa.float32()),
        pa.field("success", pa.bool_()),
        pa.field("abandoned", pa.bool_()),
        pa.field("truncated", pa.bool_()),
        pa.field("played_track", pa.int32()),
        pa.field("n_prompts", pa.int16()),
    ]
    if version == "1":
        fields = [f for f in fields if f.name not in V2_COLUMNS]
    return pa.schema(fields)


REQUIRED_COLUMNS = tuple(log_schema(1, 1).names)
#: columns that may hold no null (and, for numbers, no NaN); the others are optional arguments or outcomes
NON_NULL_COLUMNS = tuple(c for c in REQUIRED_COLUMNS if c not in ("persona", "prompt_genres", "prompt_artist", "prompt_track",
                                                                    "played_track"))


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
