"""Closed vocabularies of the catalog: energies, moods, genre synonyms.

Genre values are the catalog's coarse genre names and style tags in lower
case ("electronic", "hip hop", "techno", "drum & bass"). Users say other
things ("edm", "hip-hop", "dnb"); :func:`canonical_genre` maps them to a
catalog value. Synonyms are checked before exact style names on purpose:
"electronica" and "rap" are also rare style tags in freemusi.cc, but a
person who says them means the broad genre.
"""

from __future__ import annotations

import re

__all__ = [
    "ENERGIES",
    "MOODS",
    "ACTIVITIES",
    "ACTIVITY_ENERGIES",
    "FAMILIARITIES",
    "NON_GENRE_STYLES",
    "STYLE_MOOD",
    "STYLE_ENERGY_HINT",
    "GENRE_SYNONYMS",
    "normalize_term",
    "canonical_genre",
    "decade_of",
]

#: Energy levels, ordered from calm to lively. freemusi.cc's per-track
#: ``activity`` column maps 1 -> laid_back, 2 -> medium, 3 -> upbeat.
ENERGIES: tuple[str, ...] = ("laid_back", "medium", "upbeat")

MOODS: tuple[str, ...] = ("happy", "melancholic", "calm", "intense")

#: What a person may be doing; each implies the energies that suit it.
ACTIVITIES: tuple[str, ...] = ("workout", "party", "commute", "cleaning", "focus", "relax", "sleep")
ACTIVITY_ENERGIES: dict[str, frozenset[str]] = {
    "workout": frozenset({"upbeat"}),
    "party": frozenset({"upbeat"}),
    "commute": frozenset({"medium", "upbeat"}),
    "cleaning": frozenset({"medium", "upbeat"}),
    "focus": frozenset({"laid_back", "medium"}),
    "relax": frozenset({"laid_back"}),
    "sleep": frozenset({"laid_back"}),
}

FAMILIARITIES: tuple[str, ...] = ("familiar", "new")

#: freemusi.cc style tags that describe a release's format or language,
#: not its music; they are dropped from the sub-genres.
NON_GENRE_STYLES: frozenset[str] = frozenset({"compilation", "mix", "live", "radioshow", "german"})

#: Moods that a style tag states outright. Styles not listed say nothing
#: about mood, and a track gets no mood unless one of its styles is here.
STYLE_MOOD: dict[str, str] = {
    # calm
    "ambient": "calm", "downtempo": "calm", "easy listening": "calm", "lounge": "calm",
    "new age": "calm", "acoustic": "calm", "piano": "calm", "chillout": "calm",
    # melancholic
    "dark": "melancholic", "dark ambient": "melancholic", "shoegaze": "melancholic",
    "gothic": "melancholic", "darkwave": "melancholic", "ballad": "melancholic",
    "emo": "melancholic", "drone": "melancholic", "post rock": "melancholic",
    # happy
    "disco": "happy", "funk": "happy", "synth-pop": "happy", "pop rock": "happy",
    "ska": "happy", "reggae": "happy", "swing": "happy", "chiptune": "happy",
    "soul": "happy", "rock & roll": "happy", "ragtime": "happy", "surf": "happy",
    "mambo": "happy", "big beat": "happy",
    # intense
    "metal": "intense", "nu metal": "intense", "punk": "intense", "hardcore": "intense",
    "breakcore": "intense", "industrial": "intense", "noise": "intense",
    "hard rock": "intense", "dubstep": "intense", "ebm": "intense", "grunge": "intense",
    "jungle": "intense", "drum & bass": "intense", "grime": "intense",
}
# Where two of a track's styles disagree on mood, the first listed wins; the
# priority below breaks ties deterministically (intense and melancholic are
# the more specific statements).
MOOD_PRIORITY: tuple[str, ...] = ("intense", "melancholic", "happy", "calm")

#: Energy hints used only as a last resort for tracks whose activity is
#: unknown and whose styles have no measured energy (see derive.py).
STYLE_ENERGY_HINT: dict[str, str] = {
    "ambient": "laid_back", "drone": "laid_back", "dark ambient": "laid_back",
    "new age": "laid_back", "easy listening": "laid_back",
    "drum & bass": "upbeat", "breakcore": "upbeat", "hardcore": "upbeat",
    "punk": "upbeat", "metal": "upbeat", "trance": "upbeat", "dubstep": "upbeat",
}

#: Spoken synonyms -> catalog genre value (coarse genre or style, lower case).
GENRE_SYNONYMS: dict[str, str] = {
    "edm": "electronic", "electronica": "electronic", "electronic music": "electronic",
    "dance": "electronic", "dance music": "electronic", "electro music": "electronic",
    "hip-hop": "hip hop", "hiphop": "hip hop", "rap": "hip hop", "rap music": "hip hop",
    "funk and soul": "funk / soul", "funk soul": "funk / soul", "funk & soul": "funk / soul",
    "soundtrack": "stage & screen", "soundtracks": "stage & screen", "film music": "stage & screen",
    "movie music": "stage & screen", "film score": "stage & screen", "stage and screen": "stage & screen",
    "world music": "world", "classical music": "classical", "orchestra": "orchestral",
    "rock music": "rock", "pop music": "pop", "jazz music": "jazz",
    "dnb": "drum & bass", "d&b": "drum & bass", "drum and bass": "drum & bass", "drum n bass": "drum & bass",
    "chill": "downtempo", "chillout": "downtempo", "chill out": "downtempo",
    "lofi": "lo-fi", "lo fi": "lo-fi", "synthpop": "synth-pop", "synth pop": "synth-pop",
    "postrock": "post rock", "post-rock": "post rock", "rock and roll": "rock & roll",
    "rock n roll": "rock & roll", "triphop": "trip hop", "trip-hop": "trip hop",
    "rnb": "r&b", "r and b": "r&b", "alt rock": "alternative rock", "indie pop": "indie",
    "deep-house": "deep house", "tech-house": "tech house", "big-beat": "big beat",
    "edm music": "electronic", "idm music": "idm", "8-bit": "chiptune", "8 bit": "chiptune",
}

_SPACE = re.compile(r"\s+")


def normalize_term(text: str) -> str:
    """Lower-case, trim and collapse whitespace: the key form of a genre name."""
    return _SPACE.sub(" ", text.strip().lower())


def canonical_genre(text: str, known: frozenset[str] | set[str]) -> str | None:
    """Map what a person said to a catalog genre value, or ``None``.

    ``known`` is the set of the catalog's genre values (coarse and styles).
    """
    key = normalize_term(text)
    if key in GENRE_SYNONYMS and GENRE_SYNONYMS[key] in known:
        return GENRE_SYNONYMS[key]
    if key in known:
        return key
    return None


def decade_of(year: int | None) -> str | None:
    """1994 -> "1990s"; ``None`` or 0 -> ``None``."""
    if not year:
        return None
    return f"{(int(year) // 10) * 10}s"
