"""Segue's command line and wiring (see ``segue.cli``)."""

from recommender.errors import CatalogError, ConfigError, LogConflictError, LogValidationError, PolicyError, SegueError

__all__ = ["SegueError", "CatalogError", "ConfigError", "LogValidationError", "LogConflictError", "PolicyError", "__version__"]
__version__ = "0.1.0"
