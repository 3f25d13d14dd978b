"""Derive Segue's catalog from the freemusi.cc database (CC BY-SA 4.0).

``derive_freemusicc(folder)`` joins ``tracks.csv`` to ``releases.csv`` and
computes the attributes the dialogue needs. Titles, artists and release names
are repaired with ftfy (the upstream CSV double-encodes some UTF-8: "Eva
MÃ¼ller" is "Eva Müller"). Every track of the source is
kept (21,502), in source order, with id ``fmc-<row>``. The result is what
``recommender/data/freemusicc.parquet`` holds; rebuild it with
``segue catalog build --source ../shared/data/freemusicc``.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa

from .errors import CatalogError
from .schema import CATALOG_SCHEMA
from .vocab import ENERGIES, MOOD_PRIORITY, NON_GENRE_STYLES, STYLE_MOOD, decade_of, normalize_term

__all__ = ["derive_freemusicc", "ACTIVITY_ENERGY"]

#: freemusi.cc ``activity`` (per track) -> energy; 0 means unknown.
ACTIVITY_ENERGY = {1: "laid_back", 2: "medium", 3: "upbeat"}


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise CatalogError(f"catalog source file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _text(text: str) -> str:
    """A name as people write it: mojibake and other broken Unicode repaired (ftfy), spaces trimmed.

    ftfy is conservative with some double encodings ("Katja Å\xa0ulc", "PÃ¥ Grensen"); non-ASCII text it leaves
    is read back through ftfy's sloppy Windows-1252 codec and kept only when that is valid UTF-8 ("Katja Šulc",
    "På Grensen"; a real "Äpfel" or "Müller" is not valid UTF-8 that way and stays).
    """
    import ftfy
    import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-1252 codec)

    fixed = ftfy.fix_text(text)
    if not fixed.isascii():
        try:
            fixed = ftfy.fix_text(fixed.encode("sloppy-windows-1252").decode("utf-8"))  # and NFC, as ftfy does
        except UnicodeError:
            pass
    return fixed.strip()


def _split_tags(text: str) -> list[str]:
    seen: list[str] = []
    for part in text.split(","):
        tag = normalize_term(part)
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def _int(text: str, default: int = 0) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return default


class _EnergyNaiveBayes:
    """P(energy | style tags) learned from the tracks whose activity is known.

    Multinomial naive Bayes with add-one smoothing. It is the "reasoned
    estimate from style tags" for tracks whose curated activity is 0.
    """

    def __init__(self, examples: list[tuple[list[str], str]]) -> None:
        self.class_count = Counter(energy for _, energy in examples)
        self.tag_count: dict[str, Counter[str]] = defaultdict(Counter)
        self.tags: set[str] = set()
        for tags, energy in examples:
            for tag in tags:
                self.tag_count[energy][tag] += 1
                self.tags.add(tag)
        self.total_tags = {e: sum(self.tag_count[e].values()) for e in ENERGIES}

    def predict(self, tags: list[str]) -> str:
        total = sum(self.class_count.values())
        best, best_score = "medium", -math.inf
        for energy in ENERGIES:
            score = math.log((self.class_count[energy] + 1) / (total + len(ENERGIES)))
            for tag in tags:
                if tag in self.tags:
                    score += math.log(
                        (self.tag_count[energy][tag] + 1) / (self.total_tags[energy] + len(self.tags))
                    )
            if score > best_score:
                best, best_score = energy, score
        return best


def _mood(styles: list[str]) -> str | None:
    moods = {STYLE_MOOD[s] for s in styles if s in STYLE_MOOD}
    for mood in MOOD_PRIORITY:
        if mood in moods:
            return mood
    return None


def derive_freemusicc(folder: str | Path) -> pa.Table:
    """Return the derived catalog table (schema ``CATALOG_SCHEMA``)."""
    folder = Path(folder)
    tracks = _read_csv(folder / "tracks.csv")
    releases = {row["id"]: row for row in _read_csv(folder / "releases.csv")}
    missing = sorted({t["id"] for t in tracks if t["id"] not in releases})
    if missing:
        raise CatalogError(f"{len(missing)} tracks name a release missing from releases.csv, e.g. {missing[0]!r}")

    rel_genres = {rid: _split_tags(r["genre"]) for rid, r in releases.items()}
    rel_styles = {
        rid: [s for s in _split_tags(r["style"]) if s not in NON_GENRE_STYLES] for rid, r in releases.items()
    }
    activity = [_int(t["activity"]) for t in tracks]

    # Evidence for unknown activity: curated siblings on the same release first,
    # then a naive-Bayes estimate from the release's style tags (and genres).
    sibling_votes: dict[str, Counter[str]] = defaultdict(Counter)
    examples: list[tuple[list[str], str]] = []
    for track, act in zip(tracks, activity):
        if act in ACTIVITY_ENERGY:
            energy = ACTIVITY_ENERGY[act]
            sibling_votes[track["id"]][energy] += 1
            rid = track["id"]
            examples.append((rel_styles[rid] + [f"genre:{g}" for g in rel_genres[rid]], energy))
    bayes = _EnergyNaiveBayes(examples)

    columns: dict[str, list] = {field.name: [] for field in CATALOG_SCHEMA}
    for row, (track, act) in enumerate(zip(tracks, activity)):
        rid = track["id"]
        release = releases[rid]
        styles = rel_styles[rid]
        genres = rel_genres[rid] or ["unknown"]
        if act in ACTIVITY_ENERGY:
            energy, source = ACTIVITY_ENERGY[act], "activity"
        elif sibling_votes[rid]:
            votes = sibling_votes[rid]
            # majority; ties go to the calmer energy, deterministically
            energy = max(ENERGIES, key=lambda e: (votes[e], -ENERGIES.index(e)))
            source = "release"
        else:
            energy = bayes.predict(styles + [f"genre:{g}" for g in genres])
            source = "styles"
        year = _int(release["year"]) or None
        rating = _int(track["rating"])
        artist = _text(track["trackartist"] or release["artist"] or "Unknown artist")
        title = _text(track["title"] or f"Track {track['track']}")
        columns["track_id"].append(f"fmc-{row:05d}")
        columns["title"].append(title)
        columns["artist"].append(artist)
        columns["release"].append(_text(release["album"]))
        columns["release_id"].append(rid)
        columns["genre"].append(genres[0])
        columns["genres"].append(genres)
        columns["styles"].append(styles)
        columns["energy"].append(energy)
        columns["energy_source"].append(source)
        columns["mood"].append(_mood(styles))
        columns["year"].append(year)
        columns["decade"].append(decade_of(year))
        columns["rating"].append(float(rating) if rating > 0 else None)
        columns["duration"].append(_int(track["duration"]))
        columns["license_url"].append(release["licenseurl"] or None)
    return pa.table(columns, schema=CATALOG_SCHEMA)
