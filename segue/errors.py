"""Re-export of the project's exception hierarchy (defined in the bottom layer)."""

from recommender.errors import CatalogError, ConfigError, LogConflictError, LogValidationError, PolicyError, SegueError

__all__ = ["SegueError", "CatalogError", "ConfigError", "LogValidationError", "LogConflictError", "PolicyError"]
