"""Music catalog, snippet synthesis, listening-history profiles and the scorer."""

from .catalog import DEFAULT_CATALOG_PATH, Catalog, Track
from .constraints import FILTER_SLOTS, Constraints
from .derive import derive_freemusicc
from .errors import CatalogError, EmbeddingsError, HistoryError
from .history import AFFINITY_WEIGHTS, HistoryProfile
from .schema import CATALOG_SCHEMA, CATALOG_SCHEMA_VERSION
from .scorer import BaselineScorer, Ranking, Scorer
from .snippet import ENERGY_RMS, ENERGY_TEMPO_BPM, SAMPLE_RATE, render_snippet
from .synthetic import synthetic_catalog, synthetic_table

__all__ = [
    "Catalog", "Track", "DEFAULT_CATALOG_PATH", "Constraints", "FILTER_SLOTS", "derive_freemusicc",
    "CatalogError", "EmbeddingsError", "HistoryError",
    "HistoryProfile", "AFFINITY_WEIGHTS", "CATALOG_SCHEMA", "CATALOG_SCHEMA_VERSION",
    "BaselineScorer", "Ranking", "Scorer", "render_snippet", "ENERGY_TEMPO_BPM", "ENERGY_RMS", "SAMPLE_RATE",
    "synthetic_catalog", "synthetic_table",
]
