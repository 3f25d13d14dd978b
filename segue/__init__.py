"""Segue's command line and wiring (see ``segue.cli``)."""

from recommender.errors import CatalogError, ConfigError, LogConflictError, LogValidationError, SegueError

__all__ = ["SegueError", "CatalogError", "ConfigError", "LogValidationError", "LogConflictError", "__version__"]
__version__ = "0.1.0"
