"""Errors of the log layer (subclasses of ``core.errors.SegueError``)."""

from __future__ import annotations

from core.errors import SegueError

__all__ = ["LogValidationError", "LogConflictError", "LogWriteError"]


class LogValidationError(SegueError):
    """A conversation log part breaks the schema; the message names file, row and column."""


class LogConflictError(SegueError):
    """An output folder already holds logs made with different settings."""


class LogWriteError(SegueError):
    """A log part or manifest cannot be written (permissions, a full disk); the message names the path."""
