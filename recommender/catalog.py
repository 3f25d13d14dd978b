"""The music catalog in memory: columnar numpy views over an Arrow table.

``Catalog.load()`` with no path loads the vendored freemusi.cc catalog
(21,502 Creative Commons tracks). Any CSV or Parquet file with the columns
of :data:`recommender.schema.CATALOG_SCHEMA` loads too; in CSV, ``genres``
and ``styles`` are comma-separated strings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import scipy.sparse as sp

from .errors import CatalogError
from .schema import REQUIRED_COLUMNS
from .vocab import ACTIVITY_ENERGIES, ENERGIES, MOODS, canonical_genre

__all__ = ["Catalog", "Track", "DEFAULT_CATALOG_PATH", "write_catalog", "concat_ranges"]

DEFAULT_CATALOG_PATH = Path(__file__).with_name("data") / "freemusicc.parquet"


@dataclass(frozen=True)
class Track:
    """One track, for display and for building dialogue prompts."""

    index: int
    track_id: str
    title: str
    artist: str
    genre: str
    genres: tuple[str, ...]
    styles: tuple[str, ...]
    energy: str
    mood: str | None
    decade: str | None
    rating: float | None
    duration: int


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``starts[0] .. starts[0] + counts[0] - 1``, then the next range, and so on, as one int64 array: the entries of
    several CSR rows at once (``starts``: int (m,), where each row begins; ``counts``: int (m,), its length)."""
    starts, counts = np.asarray(starts, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))


def _codes(column: pa.ChunkedArray | pa.Array, names: tuple[str, ...] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Dictionary-encode a string column: (int32 codes with -1 for null, names)."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    dictionary = tuple(encoded.dictionary.to_pylist())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    if names is None:
        return codes, dictionary
    lookup = np.array([names.index(v) if v in names else -2 for v in dictionary] + [-1], dtype=np.int32)
    return lookup[codes], names


class Catalog:
    """Columnar catalog. Track ``i`` is row ``i`` everywhere.

    Arrays (n = number of tracks):
      - ``genre_matrix``: bool, shape (n, n_genres); a track may have several coarse genres
      - ``style_indptr``, ``style_indices``: CSR rows of style codes
      - ``energy``: int8, shape (n,), index into ``ENERGIES``
      - ``mood``: int8, shape (n,), index into ``MOODS`` or -1
      - ``decade``: int16, shape (n,), index into ``decade_names`` or -1
      - ``artist``: int32, shape (n,), index into ``artist_names``
      - ``release``: int32, shape (n,), index into the release ids
      - ``rating``: float32, shape (n,), NaN when unrated
      - ``prior``: float32, shape (n,), rating prior in [0, 1] (unrated -> 0.45)
    """

    def __init__(self, table: pa.Table, *, name: str = "catalog") -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing:
            raise CatalogError(f"catalog {name!r} lacks required column(s): {', '.join(missing)}")
        if table.num_rows == 0:
            raise CatalogError(f"catalog {name!r} has no tracks")
        self.name = name
        self.table = table
        self.n = table.num_rows

        energy_codes, _ = _codes(table["energy"], ENERGIES)
        bad = np.flatnonzero(energy_codes < 0)
        if bad.size:
            value = table["energy"][int(bad[0])].as_py()
            raise CatalogError(
                f"catalog {name!r} row {int(bad[0])}: energy must be one of {', '.join(ENERGIES)}, found {value!r}"
            )
        self.energy = energy_codes.astype(np.int8)
        if "mood" in table.column_names:
            mood_codes, _ = _codes(table["mood"], MOODS)
            bad = np.flatnonzero(mood_codes == -2)
            if bad.size:
                value = table["mood"][int(bad[0])].as_py()
                raise CatalogError(f"catalog {name!r} row {int(bad[0])}: unknown mood {value!r}")
            self.mood = mood_codes.astype(np.int8)
        else:
            self.mood = np.full(self.n, -1, dtype=np.int8)

        genres = table["genres"].combine_chunks()
        flat_genres = pc.list_flatten(genres)
        genre_counts = pc.value_counts(flat_genres).to_pylist()
        genre_counts.sort(key=lambda d: (-d["counts"], d["values"]))
        self.genre_names: tuple[str, ...] = tuple(d["values"] for d in genre_counts)
        gcodes, _ = _codes(flat_genres, self.genre_names)
        goffsets = genres.offsets.to_numpy()
        grows = np.repeat(np.arange(self.n), np.diff(goffsets))
        self.genre_matrix = np.zeros((self.n, len(self.genre_names)), dtype=bool)
        self.genre_matrix[grows, gcodes] = True
        if not self.genre_matrix.any(axis=1).all():
            row = int(np.flatnonzero(~self.genre_matrix.any(axis=1))[0])
            raise CatalogError(f"catalog {name!r} row {row}: a track needs at least one genre")
        #: the first-listed genre of each track (int32, shape (n,))
        self.primary_genre = gcodes[goffsets[:-1] - goffsets[0]].astype(np.int32)

        styles = table["styles"].combine_chunks()
        flat_styles = pc.list_flatten(styles)
        style_counts = pc.value_counts(flat_styles).to_pylist() if len(flat_styles) else []
        style_counts.sort(key=lambda d: (-d["counts"], d["values"]))
        self.style_names: tuple[str, ...] = tuple(d["values"] for d in style_counts)
        self.style_indptr = styles.offsets.to_numpy().astype(np.int64) - int(styles.offsets[0].as_py())
        self.style_indices = (_codes(flat_styles, self.style_names)[0] if len(flat_styles) else np.zeros(0, np.int32))
        self.style_rows = np.repeat(np.arange(self.n), np.diff(self.style_indptr))

        if "decade" in table.column_names:
            codes, names = _codes(table["decade"])
            order = sorted(range(len(names)), key=lambda i: names[i])
            remap = np.full(len(names) + 1, -1, dtype=np.int16)
            remap[order] = np.arange(len(order))
            self.decade = remap[codes]
            self.decade_names: tuple[str, ...] = tuple(names[i] for i in order)
        else:
            self.decade, self.decade_names = np.full(self.n, -1, dtype=np.int16), ()
        self.artist, artist_names = _codes(table["artist"])
        self.artist_names = np.array(artist_names, dtype=object)
        release_col = table["release_id"] if "release_id" in table.column_names else table["artist"]
        self.release, _ = _codes(release_col)
        if "rating" in table.column_names:
            self.rating = table["rating"].to_numpy(zero_copy_only=False).astype(np.float32)
        else:
            self.rating = np.full(self.n, np.nan, dtype=np.float32)
        self.prior = np.where(np.isnan(self.rating), 0.45, (self.rating - 1.0) / 4.0).astype(np.float32)
        self.genre_index = {g: i for i, g in enumerate(self.genre_names)}
        self.style_index = {s: i for i, s in enumerate(self.style_names)}
        self.genre_values = frozenset(self.genre_names) | frozenset(self.style_names)
        self._mask_cache: dict[tuple[str, str], np.ndarray] = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path | None = None) -> "Catalog":
        """Load a catalog from Parquet or CSV; ``None`` is the vendored default."""
        path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
        if not path.is_file():
            raise CatalogError(f"catalog file not found: {path}")
        try:
            if path.suffix.lower() == ".csv":
                table = pacsv.read_csv(path)
                for column in ("genres", "styles"):
                    if column in table.column_names and not pa.types.is_list(table[column].type):
                        split = pc.split_pattern(pc.fill_null(table[column].cast(pa.string()), ""), ", ")
                        cleaned = [[t.strip().lower() for t in row if t.strip()] for row in split.to_pylist()]
                        table = table.set_column(table.column_names.index(column), column, pa.array(cleaned, pa.list_(pa.string())))
            else:
                table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
        return cls(table, name=path.name)

    # ------------------------------------------------------------------ lookup
    def track(self, index: int) -> Track:
        row = self.table.slice(int(index), 1).to_pylist()[0]
        return Track(
            index=int(index), track_id=row["track_id"], title=row["title"], artist=row["artist"],
            genre=row["genre"], genres=tuple(row["genres"]), styles=tuple(row["styles"]),
            energy=row["energy"], mood=row.get("mood"), decade=row.get("decade"),
            rating=row.get("rating"), duration=int(row["duration"]),
        )

    @cached_property
    def style_matrix(self) -> sp.csr_matrix:
        """Tracks x styles, float32 CSR with 1 where a track carries a style."""
        data = np.ones(len(self.style_indices), dtype=np.float32)
        return sp.csr_matrix((data, self.style_indices, self.style_indptr), shape=(self.n, len(self.style_names)))

    @cached_property
    def genre_style_sets(self) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """The distinct (primary genre, styles) pairs of the tracks, for sums over genres and styles done once per
        pair instead of once per track (``HistoryProfile.track_affinity``): (pair of each track, intp (n,);
        primary genre of each pair, int32 (n_pairs,); pairs x styles, float32 CSR with each pair's styles in the
        tracks' own order, so a sum over a pair's row is the same float32 sum as over any of its tracks' rows).
        The vendored catalog has 689 pairs for 21,502 tracks."""
        seen: dict[tuple[int, bytes], int] = {}
        pair = np.empty(self.n, dtype=np.int32)
        indptr, indices = self.style_indptr, self.style_indices
        for i, (genre, start, stop) in enumerate(zip(self.primary_genre.tolist(), indptr[:-1].tolist(), indptr[1:].tolist())):
            pair[i] = seen.setdefault((genre, indices[start:stop].tobytes()), len(seen))
        firsts = np.unique(pair, return_index=True)[1]
        counts = indptr[firsts + 1] - indptr[firsts]
        rows = concat_ranges(indptr[firsts], counts)
        styles = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), indices[rows], np.concatenate([[0], np.cumsum(counts)])),
                               shape=(len(firsts), len(self.style_names)))
        return pair.astype(np.intp), self.primary_genre[firsts].astype(np.int32), styles

    def artists_tracks(self, codes: np.ndarray) -> np.ndarray:
        """The tracks of the artists ``codes`` (int, distinct), artist by artist: int64 rows."""
        order, indptr = self.artist_tracks
        codes = np.asarray(codes, dtype=np.int64)
        return order[concat_ranges(indptr[codes], indptr[codes + 1] - indptr[codes])]

    @cached_property
    def _artist_codes(self) -> dict[str, int]:
        return {name: code for code, name in enumerate(self.artist_names.tolist())}

    @cached_property
    def artist_tracks(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, indptr): the tracks of artist ``a`` are ``rows[indptr[a]:indptr[a + 1]]``."""
        order = np.argsort(self.artist, kind="stable")
        return order, np.searchsorted(self.artist[order], np.arange(len(self.artist_names) + 1))

    def tracks_by(self, artist: int) -> np.ndarray:
        rows, indptr = self.artist_tracks
        return rows[indptr[artist] : indptr[artist + 1]]

    @cached_property
    def _songs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(song, rows, indptr): each track's song id (the same artist and title, case and spacing aside: the catalog
        lists 524 songs twice or more, once per release), and the tracks of song ``s``, ``rows[indptr[s]:indptr[s + 1]]``.
        An untitled track is a song of its own."""
        titles = self.table.column("title").to_pylist()
        ids: dict[tuple[int, str], int] = {}
        song = np.empty(self.n, dtype=np.int64)
        for i, (artist, title) in enumerate(zip(self.artist.tolist(), titles)):
            key = " ".join(str(title or "").casefold().split())
            song[i] = ids.setdefault((artist, key) if key else (-1, str(i)), len(ids))
        order = np.argsort(song, kind="stable")
        return song, order, np.searchsorted(song[order], np.arange(len(ids) + 1))

    def same_song(self, rows: np.ndarray) -> np.ndarray:
        """Every track that is the same song as one of ``rows`` (int, catalog rows; ``rows`` included): what a person
        who turned a track down should not be offered again under another id. Sorted int64 rows."""
        song, order, indptr = self._songs
        rows = np.asarray(rows, dtype=np.int64)
        if not self._in_several[rows].any():  # the usual case: songs listed once
            return np.unique(rows)
        ids = np.unique(song[rows])
        return np.sort(np.concatenate([order[indptr[s] : indptr[s + 1]] for s in ids]))

    @cached_property
    def _in_several(self) -> np.ndarray:
        """Whether each track's song is listed more than once (bool (n,))."""
        song, _, indptr = self._songs
        return (np.diff(indptr) > 1)[song]

    def artist_code(self, name: str) -> int:
        """Code of an artist name, -1 when the catalog has no such artist."""
        return self._artist_codes.get(name, -1)

    def styles_of(self, index: int) -> np.ndarray:
        """Style codes of track ``index``."""
        return self.style_indices[self.style_indptr[index] : self.style_indptr[index + 1]]

    def canonical_genre(self, text: str) -> str | None:
        return canonical_genre(text, self.genre_values)

    def has_genre(self, index: int, value: str) -> bool:
        """Whether track ``index`` belongs to genre value ``value`` (coarse or style)."""
        g = self.genre_index.get(value)
        if g is not None:
            return bool(self.genre_matrix[index, g])
        s = self.style_index.get(value)
        return s is not None and bool((self.styles_of(index) == s).any())

    @cached_property
    def style_parent(self) -> np.ndarray:
        """For each style, the coarse genre most of its tracks carry (int, shape (n_styles,))."""
        parent = np.zeros(len(self.style_names), dtype=np.int32)
        if len(self.style_indices):
            counts = np.zeros((len(self.style_names), len(self.genre_names)), dtype=np.int64)
            rows = self.style_rows
            for g in range(len(self.genre_names)):
                counts[:, g] = np.bincount(self.style_indices, weights=self.genre_matrix[rows, g], minlength=len(self.style_names))
            parent = counts.argmax(axis=1).astype(np.int32)
        return parent

    def parent_genre(self, value: str) -> str:
        """The coarse genre a genre value belongs to ("techno" -> "electronic")."""
        if value in self.genre_index:
            return value
        return self.genre_names[int(self.style_parent[self.style_index[value]])]

    def mask(self, slot: str, value: str) -> np.ndarray:
        """Boolean mask of the tracks that satisfy ``slot = value`` (cached; do not modify).

        Slots: genre (coarse or style value), energy, mood, decade, artist,
        activity (the energies that suit it). Unknown values match nothing.
        """
        key = (slot, value)
        cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        if slot == "genre":
            if value in self.genre_index:
                mask = self.genre_matrix[:, self.genre_index[value]].copy()
            elif value in self.style_index:
                mask = np.zeros(self.n, dtype=bool)
                mask[self.style_rows[self.style_indices == self.style_index[value]]] = True
            else:
                mask = np.zeros(self.n, dtype=bool)
        elif slot == "energy":
            mask = self.energy == ENERGIES.index(value) if value in ENERGIES else np.zeros(self.n, dtype=bool)
        elif slot == "mood":
            mask = self.mood == MOODS.index(value) if value in MOODS else np.zeros(self.n, dtype=bool)
        elif slot == "decade":
            mask = (self.decade == self.decade_names.index(value)) if value in self.decade_names else np.zeros(self.n, dtype=bool)
        elif slot == "artist":
            code = self.artist_code(value)
            mask = self.artist == code if code >= 0 else np.zeros(self.n, dtype=bool)
        elif slot == "activity":
            allowed = [ENERGIES.index(e) for e in ACTIVITY_ENERGIES.get(value, ())]
            mask = np.isin(self.energy, allowed)
        else:
            raise CatalogError(f"cannot filter the catalog by slot {slot!r}")
        mask.setflags(write=False)
        if len(self._mask_cache) < 4096:
            self._mask_cache[key] = mask
        return mask

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the catalog's identity and the attributes the dialogue uses."""
        digest = hashlib.sha256()
        digest.update(str(self.n).encode())
        for array in (self.energy, self.mood, self.decade, self.artist, self.genre_matrix, self.style_indices):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\x00".join(self.table["track_id"].to_pylist()[:: max(1, self.n // 4096)]).encode())
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"Catalog({self.name!r}, tracks={self.n}, genres={len(self.genre_names)}, styles={len(self.style_names)})"


def write_catalog(table: pa.Table, path: str | Path) -> None:
    """Write a catalog table to Parquet atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    except OSError as exc:
        raise CatalogError(f"cannot write catalog {path}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
