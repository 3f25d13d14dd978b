import csv

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import ConfigError
from recommender.catalog import DEFAULT_CATALOG_PATH, Catalog
from recommender.derive import derive_freemusicc
from recommender.errors import CatalogError
from recommender.synthetic import MAX_TRACKS, synthetic_catalog, synthetic_table
from recommender.vocab import NON_GENRE_STYLES, canonical_genre
from tests.conftest import SHARED_DATA

FREEMUSICC = SHARED_DATA / "freemusicc"
needs_source = pytest.mark.skipif(not (FREEMUSICC / "tracks.csv").exists(), reason="../shared/data not present")


@needs_source
def test_derivation_keeps_every_track_and_matches_the_vendored_file():
    table = derive_freemusicc(FREEMUSICC)
    with open(FREEMUSICC / "tracks.csv", newline="", encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    assert table.num_rows == len(source) == 21_502
    ids = table["track_id"].to_pylist()
    assert len(set(ids)) == len(ids)
    assert ids[0] == "fmc-00000" and ids[-1] == "fmc-21501"
    # titles and durations line up row by row with the source
    durations = table["duration"].to_pylist()
    assert all(int(float(row["duration"])) == d for row, d in zip(source, durations))
    # curated activity is used as is; unknown activity is estimated and says so
    sources = table["energy_source"].to_pylist()
    curated = sum(1 for row in source if row["activity"] in ("1", "2", "3"))
    assert sources.count("activity") == curated == 16_635
    assert sources.count("release") + sources.count("styles") == 4_867
    for row, energy, how in zip(source, table["energy"].to_pylist(), sources):
        if how == "activity":
            assert energy == {"1": "laid_back", "2": "medium", "3": "upbeat"}[row["activity"]]
    # the vendored file is exactly this derivation
    vendored = pq.read_table(DEFAULT_CATALOG_PATH)
    assert vendored.equals(table)


def test_vendored_catalog_attributes(catalog):
    assert catalog.n == 21_502
    assert len(catalog.genre_names) == 9
    assert catalog.genre_names[0] == "electronic"
    assert "hip hop" in catalog.genre_names and "funk / soul" in catalog.genre_names
    assert not NON_GENRE_STYLES & set(catalog.style_names)
    assert {"ambient", "techno", "trip hop", "drum & bass"} <= set(catalog.style_names)
    assert catalog.genre_matrix.any(axis=1).all()
    counts = np.bincount(catalog.energy, minlength=3)
    assert counts.sum() == catalog.n and (counts > 1000).all()
    assert set(catalog.decade_names) >= {"2000s", "2010s"}
    assert np.isnan(catalog.rating).sum() == 4_877  # rating 0 = unrated in the source
    assert (DEFAULT_CATALOG_PATH.parent / "LICENSE").read_text().startswith("Attribution-ShareAlike 4.0")
    assert "CC BY-SA 4.0" in (DEFAULT_CATALOG_PATH.parent / "ATTRIBUTION.md").read_text()


def test_masks_agree_with_per_track_checks(catalog):
    rng = np.random.default_rng(0)
    rows = rng.choice(catalog.n, 300, replace=False)
    for value in ("electronic", "techno", "ambient", "hip hop", "folk"):
        mask = catalog.mask("genre", value)
        assert all(mask[r] == catalog.has_genre(int(r), value) for r in rows)
    assert catalog.mask("genre", "no such genre").sum() == 0
    techno = catalog.mask("genre", "techno")
    assert catalog.parent_genre("techno") == "electronic"
    assert (techno & catalog.mask("genre", "electronic")).sum() > 0.9 * techno.sum()
    workout = catalog.mask("activity", "workout")
    assert np.array_equal(workout, catalog.mask("energy", "upbeat"))


@pytest.mark.parametrize(
    "said, expected",
    [("EDM", "electronic"), ("electronica", "electronic"), ("hip-hop", "hip hop"), ("Rap", "hip hop"),
     ("dnb", "drum & bass"), ("Techno", "techno"), ("  trip   hop ", "trip hop"), ("chill", "downtempo"),
     ("soundtrack", "stage & screen"), ("polka", None)],
)
def test_genre_synonyms(catalog, said, expected):
    assert canonical_genre(said, catalog.genre_values) == expected


def test_load_from_csv_and_errors(tmp_path, catalog):
    path = tmp_path / "tiny.csv"
    path.write_text(
        "track_id,title,artist,genre,genres,styles,energy,duration\n"
        't1,One,A,rock,rock,"indie, post rock",upbeat,200\n'
        "t2,Two,B,jazz,jazz,,laid_back,180\n"
    )
    tiny = Catalog.load(path)
    assert tiny.n == 2 and set(tiny.style_names) == {"indie", "post rock"}
    assert tiny.mask("genre", "post rock").tolist() == [True, False]
    bad = tmp_path / "bad.csv"
    bad.write_text("track_id,title,artist,genre,genres,styles,energy,duration\nt1,One,A,rock,rock,,loud,200\n")
    with pytest.raises(CatalogError, match=r"row 0: energy must be one of laid_back, medium, upbeat, found 'loud'"):
        Catalog.load(bad)
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("track_id,title\nt1,One\n")
    with pytest.raises(CatalogError, match="lacks required column"):
        Catalog.load(lacking)
    with pytest.raises(CatalogError, match="catalog file not found"):
        Catalog.load(tmp_path / "missing.parquet")


def test_synthetic_catalog_is_seeded_and_has_the_schema(catalog):
    a = synthetic_table(5_000, seed=3, reference=catalog)
    b = synthetic_table(5_000, seed=3, reference=catalog)
    c = synthetic_table(5_000, seed=4, reference=catalog)
    assert a.equals(b) and not a.equals(c)
    assert a.schema.equals(pq.read_schema(DEFAULT_CATALOG_PATH), check_metadata=False)
    syn = synthetic_catalog(5_000, seed=3, reference=catalog)
    assert syn.genre_names[0] == "electronic"
    assert set(syn.style_names) <= set(catalog.style_names)
    assert np.bincount(syn.energy, minlength=3).argmax() == 1  # medium dominates, as in the real catalog
    with pytest.raises(ConfigError, match=r"--tracks \(the synthetic catalog's size\) must be between 1 and 20,000,000, got 0"):
        synthetic_table(0, reference=catalog)


def test_synthetic_catalog_sizes(catalog):
    """The size bounds (1 to 20,000,000 tracks); a million tracks is timed in benchmarks/scorer.py, not here."""
    syn = synthetic_catalog(60_000, seed=1, reference=catalog)
    assert syn.n == 60_000 and isinstance(syn.table, pa.Table)
    assert len(np.unique(syn.table["track_id"].to_numpy(zero_copy_only=False))) == 60_000
    for bad in (0, MAX_TRACKS + 1):
        with pytest.raises(ConfigError, match="between 1 and 20,000,000"):
            synthetic_table(bad, reference=catalog)
    assert syn.mask("genre", "techno").sum() > 600  # the million-track check asked for > 10,000 of 1,000,000


def test_no_mojibake_is_left_in_the_vendored_catalog(catalog):
    """805 tracks carried double-encoded names from the upstream CSV ("Eva MÃ¼ller"); the derivation repairs them."""
    import ftfy
    import ftfy.bad_codecs  # noqa: F401

    def double_encoded(v: str) -> bool:
        try:
            return v.encode("sloppy-windows-1252").decode("utf-8") != v
        except UnicodeError:
            return False

    for column in ("title", "artist", "release"):
        values = catalog.table[column].to_pylist()
        broken = [v for v in values if v and (ftfy.fix_text(v) != v or double_encoded(v))]
        assert not broken, (column, broken[:5])
    assert "Eva Müller" in set(map(str, catalog.artist_names))


def test_the_same_song_under_two_ids_is_found_and_excluded_with_the_one_turned_down(catalog):
    """The vendored catalog lists 524 songs twice or more (same artist and title, another release): turning one down
    must not bring it back under its other id."""
    from recommender.constraints import Constraints

    a, b = 111, 19043  # "Black Capricorn Day" by 30[eks], twice
    assert catalog.track(a).title == catalog.track(b).title and catalog.track(a).artist == catalog.track(b).artist
    assert catalog.same_song([a]).tolist() == [a, b] == catalog.same_song([b, a]).tolist()
    assert catalog.same_song([0]).tolist() == [0]  # a song listed once
    song, _, _ = catalog._songs
    assert len(np.unique(song)) == catalog.n - 1087 + 524  # 1,087 tracks are 524 songs
    artist = catalog.track(a).artist
    constraints = Constraints(artist=artist, excluded_tracks=frozenset({a}))
    mask = constraints.mask(catalog)
    assert not mask[a] and not mask[b] and mask.sum() == Constraints(artist=artist).mask(catalog).sum() - 2
    assert not constraints.satisfied_by(catalog, b)
    for i in np.flatnonzero(mask)[:20]:  # the slow check agrees with the mask
        assert constraints.satisfied_by(catalog, int(i))
