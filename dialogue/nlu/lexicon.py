"""Gazetteers built from the catalog: the words people use for each slot value.

Genres are the catalog's coarse genres and styles (lower case) plus the
vocabulary's synonyms; artists are the catalog's artist names; energies,
moods, activities, decades and familiarity have hand-written synonyms.
Matching is longest-span-first over word n-grams, exact first, then fuzzy
(rapidfuzz) for misspellings of genre words and of artist names that follow
"by", "from", "like", "some" or "of".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz, process

from recommender.catalog import Catalog
from recommender.vocab import GENRE_SYNONYMS

from ..acts import Slot

__all__ = ["Lexicon", "Match", "ENERGY_WORDS", "MOOD_WORDS", "ACTIVITY_WORDS", "FAMILIARITY_WORDS", "decade_words",
           "spoken_decade", "tokenize"]

ENERGY_WORDS: dict[str, tuple[str, ...]] = {
    "laid_back": ("laid back", "laid-back", "laidback", "chilled", "chill", "mellow", "slow", "low key", "easy going",
                  "easygoing", "gentle", "soft", "quiet", "slower"),
    "medium": ("in between", "in-between", "medium", "moderate", "mid tempo", "mid-tempo", "somewhere in the middle",
               "middle of the road", "not too fast"),
    "upbeat": ("upbeat", "up-beat", "energetic", "lively", "fast", "high energy", "high-energy", "pumped", "uptempo",
               "up tempo", "faster", "bouncy", "danceable", "something to dance to"),
}
MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "happy": ("happy", "cheerful", "joyful", "feel good", "feel-good", "sunny", "uplifting", "fun", "festive"),
    "melancholic": ("sad", "melancholic", "melancholy", "gloomy", "moody", "heartbroken", "bittersweet", "down"),
    "calm": ("calm", "peaceful", "serene", "soothing", "tranquil", "relaxing"),
    "intense": ("intense", "aggressive", "powerful", "angry", "fierce", "hard hitting", "hard-hitting"),
}
ACTIVITY_WORDS: dict[str, tuple[str, ...]] = {
    "workout": ("workout", "work out", "working out", "gym", "exercise", "exercising", "running", "a run", "training", "hiking"),
    "party": ("party", "partying", "house party", "a party", "dancing"),
    "commute": ("commute", "commuting", "drive", "driving", "road trip", "the car", "the bus", "the train"),
    "cleaning": ("cleaning", "clean", "chores", "housework", "tidying", "tidying up"),
    "focus": ("focus", "focusing", "studying", "study", "concentrate", "concentrating", "coding", "reading", "homework"),
    "relax": ("relax", "unwind", "unwinding", "chilling out", "winding down", "vibe to"),
    "sleep": ("sleep", "sleeping", "bedtime", "fall asleep", "falling asleep", "nap"),
}
FAMILIARITY_WORDS: dict[str, tuple[str, ...]] = {
    "familiar": ("something i know", "familiar", "my favourites", "my favorites", "stuff i know", "songs i know",
                 "something familiar", "what i usually listen to", "old favourites"),
    "new": ("something new", "new to me", "discover", "never heard", "something different", "surprise me",
            "new stuff", "fresh"),
}


_ONES = {"20": "twenties", "30": "thirties", "40": "forties", "50": "fifties", "60": "sixties", "70": "seventies",
         "80": "eighties", "90": "nineties"}


def spoken_decade(decade: str) -> tuple[str, ...]:
    """How a decade is said aloud: "1980s" -> "nineteen eighties", "eighties"; "2000s" -> "two thousands"."""
    century, tens = decade[:2], decade[2:4]
    if tens in _ONES:
        return (f"{'nineteen' if century == '19' else 'twenty'} {_ONES[tens]}", _ONES[tens], f"the {_ONES[tens]}")
    if decade == "2000s":
        return ("two thousands", "the two thousands", "noughties")
    if decade == "2010s":
        return ("twenty tens", "the twenty tens", "twenty tens")
    return ()


def decade_words(decade: str) -> tuple[str, ...]:
    """Ways to say a decade name such as "1980s"."""
    short = decade[2:4]
    names = {"20": "twenties", "30": "thirties", "40": "forties", "50": "fifties", "60": "sixties", "70": "seventies",
             "80": "eighties", "90": "nineties", "00": "two thousands", "10": "twenty tens", "20s": "twenties"}
    words = [decade, f"{short}s", f"'{short}s", f"the {short}s", f"{decade[:3]}0's", f"{short}'s"]
    if short in names:
        words.append(names[short])
    if decade == "2000s":
        words += ["noughties", "early 2000s", "two thousands"]
    if decade == "2010s":
        words += ["2010s", "twenty tens"]
    words += spoken_decade(decade)
    return tuple(dict.fromkeys(words))


_TOKEN = re.compile(r"[a-z0-9]+(?:[&'/\-.][a-z0-9]+)*|&")
_FUZZY_TRIGGERS = frozenset({"by", "from", "like", "some", "of", "more", "play"})
_NON_ARTISTS = frozenset({"the", "yes", "no", "more", "music", "songs", "something", "some", "please", "play", "it", "this",
                          "that", "me", "you", "one", "okay", "ok", "good", "great", "love", "like", "nice", "again"})


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Match:
    slot: Slot
    value: str
    start: int  # token span [start, stop)
    stop: int
    score: float  # 1.0 exact, < 1 fuzzy


class Lexicon:
    """Phrase -> (slot, value) tables for one catalog."""

    MAX_SPAN = 5

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        table: dict[str, tuple[Slot, str]] = {}

        def add(slot: Slot, value: str, phrases) -> None:
            for phrase in phrases:  # "up-beat" also as "up beat": the speech recognizer hears two words
                for key in (" ".join(tokenize(phrase)), " ".join(tokenize(phrase.replace("-", " ")))):
                    if key and key not in table:
                        table[key] = (slot, value)

        for value, words in ENERGY_WORDS.items():
            add(Slot.ENERGY, value, words)
        for value, words in MOOD_WORDS.items():
            add(Slot.MOOD, value, words)
        for value, words in ACTIVITY_WORDS.items():
            add(Slot.ACTIVITY, value, words)
        for value, words in FAMILIARITY_WORDS.items():
            add(Slot.FAMILIARITY, value, words)
        for decade in catalog.decade_names:
            add(Slot.DECADE, decade, decade_words(decade))
        genre_values = [g.lower() for g in catalog.genre_names + catalog.style_names]
        for value in genre_values:
            add(Slot.GENRE, value, (value, value.replace(" & ", " and "), value.replace("-", " "), value + " music"))
        for phrase, value in GENRE_SYNONYMS.items():
            if value.lower() in genre_values:
                add(Slot.GENRE, value.lower(), (phrase,))
        self.table = table
        self.genre_keys = [k for k, (s, _) in table.items() if s is Slot.GENRE and len(k) >= 4]
        artists: dict[str, str] = {}
        for name in catalog.artist_names:
            key = " ".join(tokenize(str(name)))
            if len(key) >= 3 and key not in table and key not in _NON_ARTISTS and key not in artists:
                artists[key] = str(name)
        self.artists = artists
        from .templates import TEMPLATES  # words of the prompts' answers: an artist named like them needs "by"/"from"

        common = {w for group in TEMPLATES.values() for t in group for w in tokenize(t.replace("{", " ").replace("}", " "))}
        common |= {w for k in table for w in k.split()} | _NON_ARTISTS
        self.ambiguous = {k for k in artists if all(w in common for w in k.split())}

    @cached_property
    def artist_keys(self) -> list[str]:
        return [k for k in self.artists if len(k) >= 5]

    def match(self, tokens: list[str]) -> list[Match]:
        """Non-overlapping slot mentions, longest span first; exact matches, then fuzzy ones."""
        taken = [False] * len(tokens)
        found: list[Match] = []
        for size in range(min(self.MAX_SPAN, len(tokens)), 0, -1):
            for start in range(0, len(tokens) - size + 1):
                if any(taken[start : start + size]):
                    continue
                phrase = " ".join(tokens[start : start + size])
                hit = self.table.get(phrase)
                if hit is not None:
                    found.append(Match(hit[0], hit[1], start, start + size, 1.0))
                elif phrase in self.artists and (size > 1 or len(phrase) >= 4) and (
                        phrase not in self.ambiguous or (start > 0 and tokens[start - 1] in _FUZZY_TRIGGERS)):
                    found.append(Match(Slot.ARTIST, self.artists[phrase], start, start + size, 0.95))
                else:
                    continue
                for i in range(start, start + size):
                    taken[i] = True
        found += self._fuzzy(tokens, taken)
        return sorted(found, key=lambda m: m.start)

    def _fuzzy(self, tokens: list[str], taken: list[bool]) -> list[Match]:
        out: list[Match] = []
        for size in (2, 1):
            for start in range(0, len(tokens) - size + 1):
                if any(taken[start : start + size]):
                    continue
                phrase = " ".join(tokens[start : start + size])
                if len(phrase) < 5 or phrase in _NON_ARTISTS:
                    continue
                best = process.extractOne(phrase, self.genre_keys, scorer=fuzz.ratio, score_cutoff=85)
                slot = None
                if best is not None:
                    slot, value = self.table[best[0]]
                elif start > 0 and tokens[start - 1] in _FUZZY_TRIGGERS:
                    best = process.extractOne(phrase, self.artist_keys, scorer=fuzz.ratio, score_cutoff=88)
                    if best is not None:
                        slot, value = Slot.ARTIST, self.artists[best[0]]
                if slot is None:
                    continue
                out.append(Match(slot, value, start, start + size, round(best[1] / 100.0, 3)))
                for i in range(start, start + size):
                    taken[i] = True
        return out
