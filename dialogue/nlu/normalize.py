"""What people type, made readable for the NLU: broken text, emoji, rating idioms, contractions, years.

``normalize(text)`` returns lower-case text with:

- mojibake and other broken Unicode repaired (ftfy: "MÃ¼ller" -> "müller") and accents folded
  ("müller" -> "muller"), so a name is found however it was typed;
- emoji and rating idioms as words (the emoji package names them: 👍 -> "thumbs up", ❤️ -> "love it",
  👎 -> "thumbs down"; "+1", "<3", ":)", ":(", "5 stars", "one star", "2/10", "8 out of 10");
- contractions written with or without an apostrophe, or split by a tokenizer ("dont", "don t",
  "don ' t"), as one form ("don't"); "80 ' s" and "80 s" as "80's";
- "thumb up", "thumbs down" as one token each ("thumbs-up", "thumbs-down");
- "r & b", "r n b", "r and b" as "r&b", "rock n roll" as "rock & roll", "hip-hop" kept for the lexicon.

- years as decades: "1972" -> "1970s", "from 1990 upwards" -> "from 1990s upwards", "'72" -> "1970s"
  (``years`` gives the spans), so every decade from the 1900s to the 2020s is understood whether or not
  the catalog has it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["normalize", "fold", "years", "ALL_DECADES"]

#: Every decade a person may ask for, whether or not the catalog has it (the answer then says so).
ALL_DECADES: tuple[str, ...] = tuple(f"{y}s" for y in range(1900, 2030, 10))

_EMOJI_WORDS = {  # emoji names (emoji.demojize) -> what they mean as an answer
    "thumbs_up": " thumbs up ", "ok_hand": " thumbs up ", "clapping_hands": " love it ", "fire": " love it ",
    "red_heart": " love it ", "heart_eyes": " love it ", "smiling_face_with_heart-eyes": " love it ",
    "two_hearts": " love it ", "sparkling_heart": " love it ", "growing_heart": " love it ", "star-struck": " love it ",
    "hundred_points": " love it ", "musical_note": " ", "musical_notes": " ", "headphone": " ",
    "thumbs_down": " thumbs down ", "pile_of_poo": " thumbs down ", "nauseated_face": " thumbs down ",
    "face_vomiting": " thumbs down ", "broken_heart": " thumbs down ", "angry_face": " thumbs down ",
    "pouting_face": " thumbs down ", "cross_mark": " thumbs down ", "stop_sign": " stop ", "waving_hand": " bye ",
    "sleeping_face": " boring ", "yawning_face": " boring ",
}
_SMILE = re.compile(r"(?<!\S)(?:[:;=]-?[)D\]]+|\(\s*:|\^_?\^)(?!\S)")
_FROWN = re.compile(r"(?<!\S)(?:[:;=]'?-?[(\[/]+)(?!\S)")
_HEART = re.compile(r"<3+")
_PLUS_ONE = re.compile(r"(?<![\w+])\+\s?1(?!\d)")
_MINUS_ONE = re.compile(r"(?<![\w-])-\s?1(?!\d)")
_STARS = re.compile(r"\b(?:([1-5])|(one|two|three|four|five))\s*(?:out of (?:5|five)\s*)?stars?\b")
_STAR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_OUT_OF = re.compile(r"(?<![\d.])(10|\d)\s*(?:/|out of)\s*(10|5)\b")  # "2/10", "8 out of 10", "4/5"
# "don't", "dont", "don t", "don ' t": the separator is optional, so the bare forms need no second pass
_CONTRACTIONS = re.compile(
    r"\b(don|doesn|didn|isn|aren|wasn|weren|can|couldn|won|wouldn|shouldn|haven|hasn|ain)(?:\s*['’`]\s*|\s+)?t\b")
_APOSTROPHE_S = re.compile(r"\b(\d0)\s*['’`]?\s+s\b|\b(\d0)\s*['’`]\s*s\b")
_RNB = re.compile(r"\br\s*(?:&|and|n|'n'|’n’)\s*b\b")
_ROCK_N_ROLL = re.compile(r"\brock\s*(?:n|'n'|’n’|and|&)\s*roll\b")


@lru_cache(maxsize=1)
def _emoji():
    try:
        import emoji
    except ImportError:  # a broken install: emoji are dropped below instead of read
        return None
    return emoji


def fold(text: str) -> str:
    """Accents removed ("müller" -> "muller", "beyoncé" -> "beyonce"); other characters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stars(match: re.Match) -> str:
    n = int(match.group(1)) if match.group(1) else _STAR_WORDS[match.group(2)]
    return " thumbs up " if n >= 4 else " thumbs down " if n <= 2 else " ok "


def _out_of(match: re.Match) -> str:
    share = int(match.group(1)) / int(match.group(2))
    return " thumbs up " if share >= 0.7 else " thumbs down " if share <= 0.4 else " ok "


def normalize(text: str) -> str:
    """The text as the NLU reads it (see the module docstring): lower case, repaired, folded, idioms as words."""
    import ftfy

    text = ftfy.fix_text(text)
    emoji = _emoji()
    if emoji is not None:
        text = emoji.replace_emoji(text, replace=lambda chars, data: " " + _EMOJI_WORDS.get(
            data.get("en", "").strip(":").lower(), " ") + " ")
    text = _HEART.sub(" love it ", text)
    text = _SMILE.sub(" nice ", text)
    text = _FROWN.sub(" thumbs down ", text)
    text = fold(text).lower()
    text = _PLUS_ONE.sub(" thumbs up ", text)
    text = _MINUS_ONE.sub(" thumbs down ", text)
    text = _STARS.sub(_stars, text)
    text = _OUT_OF.sub(_out_of, text)
    text = _CONTRACTIONS.sub(lambda m: f"{m.group(1)}'t", text)
    text = _APOSTROPHE_S.sub(lambda m: f"{m.group(1) or m.group(2)}'s", text)
    text = re.sub(r"\bthumbs?\s*-?\s*(up|down)\b", r"thumbs-\1", text)  # one token: "down" is no mood here
    text = _RNB.sub("r&b", text)
    text = _ROCK_N_ROLL.sub("rock & roll", text)
    for start, end, decade in reversed(years(text)):
        text = f"{text[:start]}{decade}{text[end:]}"
    return re.sub(r"\s+", " ", text).strip()


_YEAR = re.compile(r"(?<![\d$£€])(?:(19|20)(\d)\d)(?:\s?['’`]?\s?s\b|(?!\d))")
_SHORT_YEAR = re.compile(r"(?<![\w'])['’](\d)\d\b(?!\s*s\b)")


def years(text: str) -> list[tuple[int, int, str]]:
    """Years written as numbers, as decades: ``[(start, end, "1970s"), ...]`` for "1972", "1990s", "'72"
    (character spans in ``text``). A year outside 1900-2029 is not a decade Segue knows and is left out."""
    found = []
    for m in _YEAR.finditer(text):
        decade = f"{m.group(1)}{m.group(2)}0s"
        if decade in ALL_DECADES:
            found.append((m.start(), m.end(), decade))
    for m in _SHORT_YEAR.finditer(text):
        digit = int(m.group(1))
        found.append((m.start(), m.end(), f"{'19' if digit >= 3 else '20'}{digit}0s"))
    return sorted(found)
