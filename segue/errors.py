"""Every exception a user can see, in one place: re-exported from the packages that raise them.

The hierarchy's root (``SegueError``) and ``ConfigError`` live in the bottom
package ``core``; each layer defines its own subclasses beside its code.
"""

from core.errors import ConfigError, SegueError
from dialogue.nlu.rasa_client import RasaError
from dialogue.speech.audio import VoiceError
from logs.errors import LogConflictError, LogValidationError, LogWriteError
from policy.errors import PolicyError
from recommender.errors import CatalogError, EmbeddingsError, HistoryError

__all__ = ["SegueError", "ConfigError", "CatalogError", "EmbeddingsError", "LogValidationError", "LogConflictError",
           "LogWriteError", "PolicyError", "VoiceError", "RasaError", "HistoryError"]
