"""Errors of the recommender layer (subclasses of ``core.errors.SegueError``)."""

from __future__ import annotations

from core.errors import SegueError

__all__ = ["CatalogError", "EmbeddingsError", "HistoryError"]


class CatalogError(SegueError):
    """A catalog file is missing, unreadable or lacks a required column."""


class EmbeddingsError(SegueError):
    """Embeddings or a listening-history table are missing, unreadable, or made for another catalog."""


class HistoryError(EmbeddingsError):
    """A listening-history table (``recommender.histories``) is missing, unreadable or invalid.

    A subclass of ``EmbeddingsError`` (histories are what embeddings train on), so code that
    already catches ``EmbeddingsError`` catches it too; the message names the file, and where
    a value is at fault, the column, the row and the value.
    """
