"""Helpers for the frozen settings records every package has (``from_dict`` beside ``to_dict``)."""

from __future__ import annotations

from dataclasses import fields

from .errors import ConfigError, SegueError

__all__ = ["check_keys"]


def check_keys(cls, data: dict, what: str, *, error: type[SegueError] = ConfigError) -> None:
    """Refuse keys of ``data`` that are not fields of the dataclass ``cls`` (a misspelled setting is an error, never
    silently dropped). Raises ``error`` naming ``what``, the unknown keys and the known ones."""
    if not isinstance(data, dict):
        raise error(f"{what}: expected an object of settings, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{what}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
