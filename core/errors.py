"""The root of Segue's one exception hierarchy.

Every error a user can cause or see is a ``SegueError``; the CLI turns it into
one clear line on stderr and exit code 2, never a traceback. This module sits
at the bottom of the layout so that every package can raise it without an
import pointing upwards. Subclasses live with the code that raises them:

- ``core.errors.ConfigError``: an option or setting out of range or inconsistent
- ``recommender.errors.CatalogError``, ``recommender.errors.EmbeddingsError``
- ``logs.errors.LogValidationError``, ``LogConflictError``, ``LogWriteError``
- ``policy.errors.PolicyError``
- ``dialogue.speech.audio.VoiceError``, ``dialogue.nlu.rasa_client.RasaError``

``segue.errors`` re-exports them all.
"""

from __future__ import annotations

__all__ = ["SegueError", "ConfigError"]


class SegueError(Exception):
    """Base class of every error a user can cause or see."""


class ConfigError(SegueError):
    """An option or configuration value is out of range or inconsistent."""
