"""The bottom of Segue: what every layer may import and nothing imports above it.

``core.errors``: the root of the exception hierarchy (``SegueError``) and the
generic ``ConfigError``; each package defines its own subclasses beside its
code (``recommender.errors``, ``logs.errors``, ``policy.errors``, ...).
``core.threads``: CPU thread settings for torch and OpenMP.
"""

from .errors import ConfigError, SegueError

__all__ = ["SegueError", "ConfigError"]
