"""Errors of the recommender layer (subclasses of ``core.errors.SegueError``)."""

from __future__ import annotations

from core.errors import SegueError

__all__ = ["CatalogError", "EmbeddingsError"]


class CatalogError(SegueError):
    """A catalog file is missing, unreadable or lacks a required column."""


class EmbeddingsError(SegueError):
    """Embeddings or a listening-history table are missing, unreadable, or made for another catalog."""
