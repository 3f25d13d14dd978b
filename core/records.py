"""Helpers for the frozen settings records every package has (``from_dict`` beside ``to_dict``)."""

from __future__ import annotations

from dataclasses import fields

from .errors import ConfigError, SegueError

__all__ = ["check_keys", "check_types"]


def check_keys(cls, data: dict, what: str, *, error: type[SegueError] = ConfigError) -> None:
    """Refuse keys of ``data`` that are not fields of the dataclass ``cls`` (a misspelled setting is an error, never
    silently dropped). Raises ``error`` naming ``what``, the unknown keys and the known ones."""
    if not isinstance(data, dict):
        raise error(f"{what}: expected an object of settings, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{what}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list", dict: "an object",
               type(None): "null"}


def check_types(data: dict, types: dict[str, tuple[type, ...]], what: str, *, error: type[SegueError] = ConfigError) -> None:
    """Refuse values of the wrong JSON type before a record is built from them (``types``: key -> allowed types;
    ``bool`` is not an integer here, an integer is a number). Raises ``error`` naming ``what``, the key and the value."""
    for key, allowed in types.items():
        if key not in data:
            continue
        value = data[key]
        ok = any(isinstance(value, t) and not (isinstance(value, bool) and t in (int, float)) for t in allowed)
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            expected = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in allowed)
            raise error(f"{what}: {key} must be {expected}, got {value!r}")
