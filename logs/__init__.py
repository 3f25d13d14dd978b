"""Conversation logs: schema, Parquet store, randomized collection, usefulness labels, datasets."""

from dialogue.usefulness import act_consistent, label_usefulness

from .collect import MANIFEST, CollectionResult, CollectionSettings, collect, simulate_part
from .dataset import Transitions, to_mdp_dataset, to_transitions
from .schema import ACT_TYPE, LOG_SCHEMA_VERSION, log_schema
from .store import LogInfo, list_parts, log_info, part_path, read_logs, read_part, validate_table, write_part
from .summary import summarize, summarize_table

__all__ = [
    "ACT_TYPE",
    "LOG_SCHEMA_VERSION",
    "MANIFEST",
    "CollectionResult",
    "CollectionSettings",
    "LogInfo",
    "Transitions",
    "act_consistent",
    "collect",
    "label_usefulness",
    "list_parts",
    "log_info",
    "log_schema",
    "part_path",
    "read_logs",
    "read_part",
    "simulate_part",
    "summarize",
    "summarize_table",
    "to_mdp_dataset",
    "to_transitions",
    "validate_table",
    "write_part",
]
