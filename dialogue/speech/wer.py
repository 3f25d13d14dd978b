"""Word accuracy of recognized speech: the text normalization and the word error count.

``normalized_words`` follows the normalization of Whisper's evaluation
(Radford et al. 2022, appendix C; ``whisper/normalizers/english.py``), in short
and for what Segue's requests hold: lower case, no punctuation, hesitations
("um", "uh", "hmm") dropped, British spellings as American, small numbers and
decades in one form ("10" = "ten"; "80s" = "eighties" = "nineteen eighties"),
and spelling variants that sound the same joined ("laid back" = "laidback").
``strict_words`` keeps only the last (and "okay" = "ok"): what Segue's voice
benchmark reported before Whisper joined.
"""

from __future__ import annotations

from .asr import speakable

__all__ = ["normalized_words", "strict_words", "word_errors", "word_accuracy"]

_FILLERS = {"um", "uh", "uhm", "umm", "erm", "er", "hmm", "hm", "mm", "mhm", "mmm"}
_SPELLING = {"favourite": "favorite", "favourites": "favorites", "colour": "color", "okay": "ok"}
_DECADES = {"twenties": "1920s", "thirties": "1930s", "forties": "1940s", "fifties": "1950s", "sixties": "1960s",
            "seventies": "1970s", "eighties": "1980s", "nineties": "1990s", "noughties": "2000s"}
_NUMBERS = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                          "fifteen sixteen seventeen eighteen nineteen twenty".split()))
_JOINED = {("laid", "back"), ("work", "out"), ("easy", "going"), ("up", "beat"), ("up", "tempo"), ("mid", "tempo"),
           ("lo", "fi"), ("chill", "out"), ("hip", "hop"), ("synth", "pop"), ("post", "rock"), ("trip", "hop"),
           ("all", "right")}


def _joined(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if out and (out[-1], w) in _JOINED:
            out[-1] += w
        else:
            out.append(w)
    return out


def strict_words(text: str) -> list[str]:
    """``text``'s words with only "okay" = "ok" and same-sounding variants joined ("laid back" = "laidback")."""
    return _joined(["ok" if w == "okay" else w for w in text.split()])


def normalized_words(text: str) -> list[str]:
    """``text``'s words normalized for word accuracy (see the module docstring)."""
    words = [_SPELLING.get(w, w) for w in speakable(text)]
    words = [_NUMBERS[int(w)] if w.isdigit() and int(w) in _NUMBERS else w for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        w, nxt = words[i], (words[i + 1] if i + 1 < len(words) else "")
        if w in _FILLERS:
            i += 1
        elif w in ("nineteen", "twenty") and nxt in _DECADES:  # "nineteen eighties" = "eighties"
            i += 1
        elif (w, nxt) in (("two", "thousands"), ("twenty", "tens")):
            out.append("2000s" if w == "two" else "2010s")
            i += 2
        else:
            out.append(_DECADES.get(w, w))
            i += 1
    return _joined(out)


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + insertions + deletions turning ``reference`` into ``hypothesis`` (word Levenshtein)."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(reference, hypothesis)


def word_accuracy(pairs: list[tuple[str, str]], *, normalize=normalized_words) -> float:
    """1 - word error rate over (said, recognized) text pairs: total errors / total reference words."""
    errors = words = 0
    for said, heard in pairs:
        ref = normalize(said)
        errors += word_errors(ref, normalize(heard))
        words += len(ref)
    return 1.0 - errors / max(words, 1)
