"""Gazetteers built from the catalog: the words people use for each slot value.

Genres are the catalog's coarse genres and styles (lower case) plus the
vocabulary's synonyms; artists are the catalog's artist names; energies,
moods, activities, decades and familiarity have hand-written synonyms.
Matching is longest-span-first over word n-grams, exact first, then fuzzy
(rapidfuzz) for misspellings of genre words and of artist names that follow
"by", "from", "like", "some" or "of".

Every decade from the 1900s to the 2020s is a value, whether or not the
catalog has it (the dialogue says so and relaxes it). Artist names are
matched with accents folded ("eva muller" finds "Eva Müller"). A fuzzy match
needs a reason and a margin: the phrase has no digits, is not a common
English word, shares its first letter with the value, beats the next-best
value by ``MARGIN`` points; a short word (3-4 letters: "jaz", "rok") may be
one edit from a genre word, or two when it stands where a genre does ("play
foke", "jas music").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from recommender.catalog import Catalog
from recommender.vocab import GENRE_SYNONYMS

from ..acts import Slot
from .normalize import ALL_DECADES, fold

__all__ = ["Lexicon", "Match", "ENERGY_WORDS", "ENERGY_COMPARATIVES", "MOOD_WORDS", "ACTIVITY_WORDS", "FAMILIARITY_WORDS",
           "decade_words", "spoken_decade", "tokenize"]

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
    """Ways to say a decade name such as "1980s". The 1900s, 1910s and 2020s only by their full names ("10s" is
    the 2010s, "the twenties" the 1920s)."""
    if decade in ("1900s", "1910s", "2020s"):
        spoken = {"1900s": "nineteen hundreds", "1910s": "nineteen tens", "2020s": "twenty twenties"}[decade]
        return (decade, f"{decade[:3]}0's", spoken, f"the {spoken}")
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
#: Words of music requests that are not names (an artist called "Random" needs "by Random").
REQUEST_WORDS = frozenset("""
random latest popular favorite favourite favorites favourites tunes tune playlist playlists album albums record records radio
track tracks song songs music hits hit top best new old now today tonight spotify youtube itunes deezer lastfm pandora
google slacker soundcloud alexa siri olly google cortana genre genres artist artists band bands singer station stations
volume shuffle repeat next previous skip stop pause start off turn put on up down thumbs thumb star stars rating rate
save saved list library collection everything anything something stuff kind sort type mix loud louder quiet quieter
again happy sad chill cool hot fire dope sick lit vibe vibes mood feel feeling feelings smile dance dancing party
love hate like dislike want need wanna gonna let lets listen hear hearing heard sound sounds sounding noise quiet
classic classics oldies old school golden live version remix cover acoustic instrumental album single ep
pls plz thx thanks blue red green black white gold silver pink purple yellow orange grey gray brown work working world words word
""".split())
_SHORT_GENRE_CONTEXT = frozenset({"play", "some", "favorite", "favourite", "like", "love", "more", "hear", "want"})
_GENRE_NOUNS = frozenset({"music", "genre", "songs", "song", "tunes", "stuff", "playlist"})
#: How much better (rapidfuzz points) a fuzzy match must be than the next-best value.
MARGIN = 4.0
_MORE_GENRE_WORDS = {"rhythm and blues": "r&b", "rhythm & blues": "r&b", "r&b": "r&b", "hiphop": "hip hop",
                     "drum and bass": "drum & bass", "drum n bass": "drum & bass", "dnb": "drum & bass",
                     "punk rock": "punk", "electronic dance music": "electronic", "edm": "electronic"}
_COMPARATIVES = {"jazz": ("jazzy", "jazzier"), "rock": ("rockier", "rocky"), "pop": ("poppy", "poppier"),
                 "funk": ("funky", "funkier"), "folk": ("folky", "folkier"), "punk": ("punky", "punkier"),
                 "soul": ("soulful", "soulfuller"),
                 "blues rock": ("bluesy", "bluesier"), "disco": ("disco-y", "discoey")}
#: "Something calmer", "a bit livelier", "not too loud": the energy a comparative (or "loud") asks for. Only the
#: lexicon reads these (the
#: templates and the speech recognizer's word list keep ``ENERGY_WORDS``); "louder" and "quieter" are read as the
#: music's energy, as Segue sets no volume.
ENERGY_COMPARATIVES: dict[str, tuple[str, ...]] = {
    "laid_back": ("calmer", "more relaxed", "relaxed", "more chilled", "more chill", "chiller", "mellower", "more mellow",
                  "softer", "gentler", "quieter", "more laid back", "more laid-back", "less energetic", "less upbeat",
                  "slower paced", "more low key", "less intense"),
    "upbeat": ("livelier", "more lively", "more upbeat", "more energetic", "louder", "loud", "more energy", "punchier",
               "quicker", "more danceable", "less mellow", "less chill", "less laid back", "less slow", "peppier"),
}


#: Genres people ask for by name, whatever the catalog holds: those the catalog lacks (``Lexicon.absent``) are
#: recognized as such, so "blues please" is told there is no blues, not taken for a yes.
WELL_KNOWN_GENRES = (
    "blues", "gospel", "latin", "salsa", "samba", "bossa nova", "tango", "flamenco", "reggaeton", "cumbia", "bachata",
    "merengue", "mariachi", "k-pop", "kpop", "j-pop", "jpop", "polka", "opera", "bluegrass", "americana", "zydeco", "afrobeat",
    "afrobeats", "dancehall", "trap music", "drill music", "bebop", "big band", "christian music", "christmas music",
    "children's music", "schlager", "chanson", "fado", "klezmer", "celtic", "doo-wop", "hyperpop", "black metal",
    "death metal", "heavy metal", "thrash metal", "grindcore", "eurodance", "city pop", "bhangra", "bollywood",
)  # common words ("trap", "drill") only with "music"; periods and labels of held genres (baroque, motown) left out


#: A word more frequent than this in general English (the unigram log-probability of pocketsphinx's en-us language
#: model, in its units of log base 1.0001: about 1 in 60,000 words) is a common word, not a name.
FREQUENT_LOGPROB = -110_000
#: A 3-4 letter word more frequent than this (about 1 in 250,000 words: "pot", "lock", "rack", "rick") is an English
#: word, not a misspelt genre; "jaz", "rok", "foke", "jas" are rarer or unknown.
SHORT_WORD_LOGPROB = -125_000


@lru_cache(maxsize=1)
def _english_model():
    try:
        from pocketsphinx import NGramModel, get_model_path
    except ImportError:
        return None
    path = Path(get_model_path()) / "en-us" / "en-us.lm.bin"
    return NGramModel.readfile(str(path)) if path.is_file() else None


def frequent_word(word: str, logprob: float = FREQUENT_LOGPROB) -> bool:
    """Whether ``word`` is frequent in general English: its unigram log-probability is above ``logprob``
    (``FREQUENT_LOGPROB`` by default; pocketsphinx's en-us model, which ships in its wheel; False when pocketsphinx
    is missing). A one-word artist name that is such a word ("Note", "Random") needs "by", "from", "play", ...
    before it to be taken as the artist; a short word above ``SHORT_WORD_LOGPROB`` is never guessed to be a
    misspelt genre ("pot" is no pop, "lock" no lo-fi)."""
    model = _english_model()
    return model is not None and model.prob([word]) > logprob


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common English words (scikit-learn's stop words) and the words of music requests: never a fuzzy match, and
    an artist's name made only of them needs "by", "from", ... before it."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | REQUEST_WORDS | _NON_ARTISTS


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
        for decade in ALL_DECADES:  # every decade, not only the catalog's: "no 1970s here" is an answer too
            add(Slot.DECADE, decade, decade_words(decade))
        genre_values = [g.lower() for g in catalog.genre_names + catalog.style_names]
        for value in genre_values:
            add(Slot.GENRE, value, (value, value.replace(" & ", " and "), value.replace("-", " "), value + " music"))
        for phrase, value in GENRE_SYNONYMS.items():
            if value.lower() in genre_values:
                add(Slot.GENRE, value.lower(), (phrase,))
        for phrase, value in _MORE_GENRE_WORDS.items():
            if value in genre_values:
                add(Slot.GENRE, value, (phrase,))
        for value, forms in _COMPARATIVES.items():  # "something jazzier"
            if value in genre_values:
                add(Slot.GENRE, value, forms)
        for value, forms in ENERGY_COMPARATIVES.items():  # "something calmer"
            add(Slot.ENERGY, value, forms)
        self.table = table
        self.genre_keys = [k for k, (s, _) in table.items() if s is Slot.GENRE and len(k) >= 4]
        artists: dict[str, str] = {}
        for name in catalog.artist_names:
            key = " ".join(tokenize(fold(str(name))))
            if len(key) >= 3 and key not in table and key not in _NON_ARTISTS and key not in artists:
                artists[key] = str(name)
        self.artists = artists
        from .templates import TEMPLATES  # words of the prompts' answers: an artist named like them needs "by"/"from"

        common = {w for group in TEMPLATES.values() for t in group for w in tokenize(t.replace("{", " ").replace("}", " "))}
        common |= {w for k in table for w in k.split()} | common_words()
        self.ambiguous = {k for k in artists if all(w in common for w in k.split()) or (" " not in k and frequent_word(k))}
        genre_words = {k for k, (s, _) in table.items() if s is Slot.GENRE and " " not in k}
        self.common = frozenset(common - genre_words)  # never guessed at: "sure" is no "surf", "i'm" no "idm"
        self.genre_words = sorted({k for k, (s, _) in table.items() if s is Slot.GENRE and " " not in k and len(k) >= 3})
        #: words of many-word genre names ("hip", "hop", "drum", "bass"): in a two-word span beside a word that is not
        #: common, they do not stop the fuzzy guess ("hip hopp" is hip hop)
        self.genre_parts = frozenset(w for k, (s, _) in table.items() if s is Slot.GENRE and " " in k for w in k.split())
        self.absent: dict[str, str] = {}  # phrase -> a well-known genre this catalog does not hold
        for name in WELL_KNOWN_GENRES:
            for key in (" ".join(tokenize(name)), " ".join(tokenize(name.replace("-", " ")))):
                if key and key not in table and not any(m.slot is Slot.GENRE for m in self.match(key.split())):
                    self.absent[key] = name

    def unavailable(self, tokens: list[str], matches: list[Match]) -> list[tuple[str, int, int]]:
        """Well-known genres this catalog does not hold, mentioned in ``tokens`` outside ``matches``: (name, start,
        stop) of each, in order ("blues please" -> [("blues", 0, 1)] when the catalog has no blues)."""
        taken = [False] * len(tokens)
        for m in matches:
            taken[m.start : m.stop] = [True] * (m.stop - m.start)
        found = []
        for size in (3, 2, 1):
            for start in range(0, len(tokens) - size + 1):
                name = self.absent.get(" ".join(tokens[start : start + size]))
                if name is not None and not any(taken[start : start + size]):
                    found.append((name, start, start + size))
                    taken[start : start + size] = [True] * size
        return sorted(found, key=lambda f: f[1])

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

    def _best(self, phrase: str, keys: list[str], cutoff: float, value_of) -> tuple[str, float] | None:
        """The value ``phrase`` most resembles among ``keys``, when it clears ``cutoff``, shares the first letter and
        beats the next-best other value by ``MARGIN`` points; else None."""
        ranked = process.extract(phrase, keys, scorer=fuzz.ratio, score_cutoff=cutoff - MARGIN, limit=8)
        ranked = [(k, score) for k, score, _ in ranked if k[0] == phrase[0]]
        if not ranked or ranked[0][1] < cutoff:
            return None
        value = value_of(ranked[0][0])
        runner_up = next((score for k, score in ranked[1:] if value_of(k) != value), 0.0)
        if ranked[0][1] - runner_up < MARGIN:
            return None
        return value, ranked[0][1]

    def _short_genre(self, tokens: list[str], i: int) -> tuple[str, float] | None:
        """A 3-4 letter misspelling of a genre word ("jaz", "rok"; "foke", "jas" where a genre stands)."""
        word = tokens[i]
        if frequent_word(word, SHORT_WORD_LOGPROB):  # "play some pot": a word, not a misspelt pop
            return None
        context = (i > 0 and tokens[i - 1] in _SHORT_GENRE_CONTEXT) or (i + 1 < len(tokens) and tokens[i + 1] in _GENRE_NOUNS)
        limit = 2 if context else 1
        near = [(Levenshtein.distance(word, k), k) for k in self.genre_words if k[0] == word[0] and abs(len(k) - len(word)) <= limit]
        near = sorted((d, k) for d, k in near if d <= limit)
        if not near:
            return None
        values = {self.table[k][1] for d, k in near if d == near[0][0]}
        if len(values) != 1:  # as close to two genres: no guess
            return None
        return values.pop(), round(1.0 - 0.12 * near[0][0], 3)

    def _fuzzy(self, tokens: list[str], taken: list[bool]) -> list[Match]:
        out: list[Match] = []
        for size in (2, 1):
            for start in range(0, len(tokens) - size + 1):
                if any(taken[start : start + size]):
                    continue
                words = tokens[start : start + size]
                phrase = " ".join(words)
                common = [w in self.common for w in words]
                if not re.fullmatch(r"[a-z][a-z \-]*", phrase) or all(common) or (
                        any(common) and not (size == 2 and all(w in self.genre_parts for w, c in zip(words, common) if c))):
                    continue  # digits, "&", or common words (but "hip" in "hip hopp"): no reason to guess
                slot, found = None, None
                if len(phrase) >= 5:
                    found = self._best(phrase, self.genre_keys, 85.0, lambda k: self.table[k][1])
                    slot = Slot.GENRE if found else None
                elif size == 1 and len(phrase) >= 3:
                    found = self._short_genre(tokens, start)
                    slot = Slot.GENRE if found else None
                if found is None and len(phrase) >= 5 and start > 0 and tokens[start - 1] in _FUZZY_TRIGGERS:
                    found = self._best(phrase, self.artist_keys, 88.0, lambda k: self.artists[k])
                    slot = Slot.ARTIST if found else None
                if found is None:
                    continue
                value, score = found
                out.append(Match(slot, value, start, start + size, round(score / 100.0, 3) if score > 1 else score))
                for i in range(start, start + size):
                    taken[i] = True
        return out
