"""Conversation ids that are unique across parts, runs and sources.

A conversation id is a non-negative int64. Simulated logs derive theirs from the
collection (``simulated_id``): the high 31 bits are a key of the settings that
decide what the conversations are (seed, randomization, simulator, catalog,
scorer, the behaviour policy and its fallback: not how many or how they are split into parts), the low 32 bits the
conversation's index. The same conversation in two runs of the same collection
keeps its id (so reading both is refused as a duplicate, as it should be);
another collection gets other ids. A conversation with a person (chat, voice)
gets 62 random bits (``session_id``), and an imported one a hash of the import
and its id in the source table (``imported_id``), except a Segue id that
``segue logs export`` wrote (a decimal in [2**32, 2**63): ``exported_id``),
which is kept, so logs exported and imported back are the same conversations
to the reader. The reader refuses an id seen in two parts, naming both.
"""

from __future__ import annotations

import hashlib
import json
import secrets

__all__ = ["collection_key", "simulated_id", "session_id", "imported_id", "exported_id", "INDEX_BITS"]

INDEX_BITS = 32
_KEY_FIELDS = ("seed", "exploration", "temperature", "simulator", "catalog_path", "scorer", "policy", "fallback", "fault_rate")


def _hash63(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def collection_key(settings: dict) -> int:
    """31 bits from the collection settings that decide what its conversations are (``CollectionSettings.to_dict``)."""
    decisive = {k: settings.get(k) for k in _KEY_FIELDS if k in settings or k in _KEY_FIELDS[:6]}
    return _hash63(json.dumps(decisive, sort_keys=True)) >> 32 or 1


def simulated_id(key: int, index: int) -> int:
    """The id of conversation ``index`` (< 2**32) of the collection with ``key``."""
    return (key << INDEX_BITS) | index


def session_id() -> int:
    """A random id for a conversation with a person (62 bits from the OS's randomness)."""
    return secrets.randbits(62)


def imported_id(namespace: str, source_id: str) -> int:
    """A stable id for conversation ``source_id`` of an imported table (``namespace``: the import's fingerprint)."""
    return _hash63(f"{namespace}\x00{source_id}")


def exported_id(source_id: str) -> int | None:
    """The Segue conversation id ``source_id`` names, when it is one as ``segue logs export`` writes it: the decimal
    of an int in [2**32, 2**63) (a simulated id has a non-zero collection key above its 32 index bits; a chat's 62
    random bits are below 2**32 with probability 2**-30). None for any other id (then ``imported_id`` applies)."""
    if not (source_id.isascii() and source_id.isdigit()) or source_id != str(int(source_id)):
        return None
    value = int(source_id)
    return value if 2**INDEX_BITS <= value < 2**63 else None
