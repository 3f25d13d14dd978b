"""Errors of the policy layer (subclasses of ``core.errors.SegueError``)."""

from __future__ import annotations

from core.errors import SegueError

__all__ = ["PolicyError"]


class PolicyError(SegueError):
    """A policy cannot be found, loaded, trained or used (e.g. its feature version does not match)."""
