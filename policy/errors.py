"""Errors of the policy layer (subclasses of ``core.errors.SegueError``)."""

from __future__ import annotations

from core.errors import SegueError

__all__ = ["PolicyError", "ScorerMismatchError"]


class PolicyError(SegueError):
    """A policy cannot be found, loaded, trained or used (e.g. its feature version does not match)."""


class ScorerMismatchError(PolicyError):
    """A history-feature policy trained with another scorer's affinities than the one it is asked to serve with:
    the same features otherwise. ``trained`` and ``built``: the two ``FeatureVersion``s."""

    def __init__(self, message: str, *, trained, built) -> None:
        super().__init__(message)
        self.trained, self.built = trained, built
