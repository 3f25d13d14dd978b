"""Segue's command line and wiring (see ``segue.cli``); every user-facing error class is in ``segue.errors``."""

from core.errors import ConfigError, SegueError

__all__ = ["SegueError", "ConfigError", "__version__"]
__version__ = "0.1.0"
