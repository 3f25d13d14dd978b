"""The catalog's columns: one schema for the real catalog, synthetic ones
and any user-supplied CSV or Parquet file."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["CATALOG_SCHEMA", "REQUIRED_COLUMNS", "CATALOG_SCHEMA_VERSION"]

CATALOG_SCHEMA_VERSION = 1

#: One row per track. ``genres`` are coarse genres, ``styles`` the finer
#: style tags (the sub-genres); both lower case. ``energy`` is
#: laid_back | medium | upbeat and ``energy_source`` says where it came
#: from: "activity" (curated per track), "release" (majority of the curated
#: tracks on the same release) or "styles" (naive-Bayes estimate from the
#: style tags). ``rating`` is 1-5, null when the track was never rated.
CATALOG_SCHEMA = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("artist", pa.string(), nullable=False),
        pa.field("release", pa.string(), nullable=False),
        pa.field("release_id", pa.string(), nullable=False),
        pa.field("genre", pa.string(), nullable=False),
        pa.field("genres", pa.list_(pa.string()), nullable=False),
        pa.field("styles", pa.list_(pa.string()), nullable=False),
        pa.field("energy", pa.string(), nullable=False),
        pa.field("energy_source", pa.string(), nullable=False),
        pa.field("mood", pa.string()),
        pa.field("year", pa.int16()),
        pa.field("decade", pa.string()),
        pa.field("rating", pa.float32()),
        pa.field("duration", pa.int32(), nullable=False),
        pa.field("license_url", pa.string()),
    ]
)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "track_id", "title", "artist", "genre", "genres", "styles", "energy", "duration",
)
