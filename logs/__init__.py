"""Conversation logs: schema, manifest, Parquet store, the one row writer, randomized collection, datasets."""

from dialogue.usefulness import act_consistent, label_usefulness

from .collect import MANIFEST, CollectionResult, collect, simulate_part
from .dataset import Transitions, to_mdp_dataset, to_transitions
from .errors import LogConflictError, LogValidationError, LogWriteError
from .manifest import CollectionSettings, LogManifest, LogSource, SessionSettings
from .schema import ACT_TYPE, LOG_SCHEMA_VERSION, log_schema
from .store import list_parts, part_path, read_logs, read_manifest, read_part, validate_table, write_part
from .summary import summarize, summarize_table
from .writer import ConversationLog, conversations_table

__all__ = [
    "ACT_TYPE",
    "LOG_SCHEMA_VERSION",
    "MANIFEST",
    "CollectionResult",
    "CollectionSettings",
    "ConversationLog",
    "LogConflictError",
    "LogManifest",
    "LogSource",
    "LogValidationError",
    "LogWriteError",
    "SessionSettings",
    "Transitions",
    "act_consistent",
    "collect",
    "conversations_table",
    "label_usefulness",
    "list_parts",
    "log_schema",
    "part_path",
    "read_logs",
    "read_manifest",
    "read_part",
    "simulate_part",
    "summarize",
    "summarize_table",
    "to_mdp_dataset",
    "to_transitions",
    "validate_table",
    "write_part",
]
