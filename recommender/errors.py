"""The project's one exception hierarchy.

It lives in the bottom package so that every layer can raise it without an
import pointing upwards; ``segue.errors`` re-exports it. The CLI turns any
``SegueError`` into one clear line and a non-zero exit code.
"""

from __future__ import annotations

__all__ = [
    "SegueError",
    "CatalogError",
    "ConfigError",
    "LogValidationError",
    "LogConflictError",
    "PolicyError",
]


class SegueError(Exception):
    """Base class of every error a user can cause or see."""


class CatalogError(SegueError):
    """A catalog file is missing, unreadable or lacks a required column."""


class ConfigError(SegueError):
    """An option or configuration value is out of range or inconsistent."""


class LogValidationError(SegueError):
    """A conversation log part breaks the schema; the message names file and row."""


class LogConflictError(SegueError):
    """An output folder already holds logs made with different settings."""


class PolicyError(SegueError):
    """A policy cannot be found, loaded or used (e.g. its feature version does not match)."""
