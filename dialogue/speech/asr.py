"""Offline speech recognition with pocketsphinx, biased to the music domain.

*Model*: pocketsphinx 5's en-us acoustic model and CMU dictionary, both in its
wheel (nothing is downloaded). *Domain biasing*: a trigram language model
written here (``domain_corpus`` + ``write_arpa``) from what people say to
Segue: the NLU's templates, their slots filled with the catalog's genres and
styles, energies, moods, activities, familiarity words, decades as spoken
("nineteen eighties") and the most-played artists whose names the dictionary
can pronounce, with the small words people add ("oh", "well", "please",
"thanks"); every slot value also once on its own. It is estimated with
interpolated absolute discounting (d = 0.7) and Katz-style back-off weights and
loaded as an ARPA file. When the prompt Segue just asked is known
(``recognize(..., prompt=)``), a model for that prompt's group decodes instead:
half the answers the prompt invites ("I love it", "skip this one" after a
sample), half anything, built on first use (about a second) and kept.
Without biasing (``biased=False``) the wheel's general 27 MB language model
decodes instead.

Words missing from the dictionary get a pronunciation spelled from their
letters (acronyms: "idm", "ebm") or joined from two dictionary words
("breakcore" = "break" + "core"); what still has none is left out and listed
in ``Recognizer.unpronounceable``.

A JSGF grammar of the same phrases was tried first and dropped: with the
catalog's ~250 slot values it decoded at 2-7x real time (the JSGF compiler
expands every rule reference) and a hand-built compact FSG of the same
language was not more accurate; the language model decodes at ~0.05x real time.

*Confidence*: pocketsphinx's posterior probability of the best hypothesis
(from its word lattice) is far below how often that hypothesis is right
(development set, 720 utterances: mean posterior 0.21, exact sentences 0.48;
posteriors of 0.1-0.5 were right 62-68% of the time). With the domain model
it is therefore calibrated by Platt scaling (Platt, "Probabilistic outputs
for support vector machines and comparisons to regularized likelihood
methods", 1999) on two inputs, the log posterior and the hypothesis's log
probability per word under the domain trigram model (words forced into the
domain's vocabulary from speech outside it make unlikely sentences):
``calibrate(p, lm) = 1 / (1 + exp(-(a log p + c lm + b)))``, ``CALIBRATION``
= (a, c, b) fitted by ``benchmarks/voice.py --design`` to whether the
sentence was heard exactly. Fitted on one half of the development set and
tried on the other, the language-model input is what makes it carry over
(template-like -> hand-written: expected calibration error 0.15 with it, 0.23
without, 0.15 raw; the other way 0.19 against 0.24, 0.41 raw). The raw
posterior stays in ``Recognition.alternatives`` (its log); the general model
(``biased=False``) reports it uncalibrated. The confidence goes to the NLU,
which scales its own by it (``NLUResult.heard_with``), so the state's
NLU-confidence features see doubtful hearing too.

*Dither*: digital silence (exact zeros, as in synthesized speech) breaks the
front end's log energies and made the search end early; the decoder adds
pocketsphinx's own seeded 1-bit dither, which a real microphone's noise makes
irrelevant.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.catalog import Catalog
from recommender.vocab import GENRE_SYNONYMS

from ..nlu.lexicon import ACTIVITY_WORDS, ENERGY_WORDS, FAMILIARITY_WORDS, MOOD_WORDS, spoken_decade
from ..nlu.templates import TEMPLATES
from ..prompts import ASK_PROMPTS
from .audio import ASR_RATE, VoiceError, resample, to_pcm16

__all__ = ["Recognizer", "Recognition", "TrigramLM", "domain_corpus", "write_arpa", "speakable", "PROMPT_GROUPS",
           "CALIBRATION", "POSTERIOR_FLOOR", "calibrate", "raw_posterior"]

# Platt scaling of the domain model's posterior (see the module docstring): fitted on the development set.
CALIBRATION = (0.4605, 0.6649, 3.2707)
POSTERIOR_FLOOR = 1e-4


def raw_posterior(recognition: "Recognition") -> float:
    """pocketsphinx's uncalibrated posterior of a recognition it made (its one alternative holds the log); for a
    recognition without alternatives, its confidence."""
    return math.exp(recognition.alternatives[0][1]) if recognition.alternatives else recognition.confidence


def calibrate(posterior: float, lm_per_word: float, coefficients: tuple[float, float, float] = CALIBRATION) -> float:
    """The chance that a hypothesis is heard exactly right, from pocketsphinx's ``posterior`` (in [0, 1]) and its
    log probability per word (natural log, the end of sentence counted as a word) under the domain trigram model:
    ``1 / (1 + exp(-(a log max(posterior, 1e-4) + c lm_per_word + b)))`` with ``(a, c, b) = coefficients``
    (Platt scaling)."""
    a, c, b = coefficients
    return 1.0 / (1.0 + math.exp(-(a * math.log(max(posterior, POSTERIOR_FLOOR)) + c * lm_per_word + b)))


_SLOT = re.compile(r"\{(genre|energy|mood|decade|artist|activity|familiarity)\}")
LEADS = ("oh", "well", "hmm", "ok", "okay", "um", "uh", "so", "yes", "yeah", "no", "nope", "nah", "hey")
TAILS = ("please", "thanks", "thank you", "then", "i think", "today", "music", "songs")


def speakable(text: str) -> list[str]:
    """The words someone reading ``text`` aloud says: lower case, "&" as "and", decades spelled out."""
    text = text.lower().replace("&", " and ").replace("-", " ").replace("/", " ")
    words: list[str] = []
    for raw in re.findall(r"[a-z0-9']+", text):
        m = re.fullmatch(r"'?(\d{2})?(\d)0'?s", raw)
        if m:
            century = m.group(1) or ("20" if m.group(2) in "01" else "19")
            spoken = spoken_decade(f"{century}{m.group(2)}0s")
            words += spoken[0].split() if spoken else [raw]
            continue
        raw = raw.strip("'")
        if raw:
            words.append(raw)
    return words


@dataclass(frozen=True)
class Recognition:
    """One utterance recognized: ``text`` (lower-case words), ``confidence`` in [0, 1], seconds spent decoding and
    of audio; ``engine`` the recognizer that produced it; ``alternatives`` the n-best (text, log-probability score)
    where the engine gives one; ``no_speech`` Whisper's probability that there was no speech (-1: not given)."""

    text: str
    confidence: float
    decode_seconds: float
    audio_seconds: float
    engine: str = "pocketsphinx"
    alternatives: tuple[tuple[str, float], ...] = ()
    no_speech: float = -1.0

    @property
    def rtf(self) -> float:
        return self.decode_seconds / max(self.audio_seconds, 1e-9)


# Words of the domain the CMU dictionary lacks, written by hand in its ARPAbet phones.
EXTRA_PRONUNCIATIONS = {
    "synth": "S IH N TH", "synthpop": "S IH N TH P AA P", "lofi": "L OW F AY", "uptempo": "AH P T EH M P OW",
    "electronica": "IH L EH K T R AA N IH K AH", "noughties": "N AO T IY Z", "favourites": "F EY V ER IH T S",
    "illbient": "IH L B IY AH N T", "sombre": "S AA M B ER", "hiya": "HH AY AH", "psy": "S AY", "meh": "M EH",
}


class _Pronouncer:
    """Dictionary lookups, and pronunciations for words the CMU dictionary lacks."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder
        self.added: dict[str, str] = {}
        self.missing: set[str] = set()

    def phones(self, word: str) -> str | None:
        if not re.fullmatch(r"[a-z']+", word):
            return None
        found = self.decoder.lookup_word(word)
        if found:
            return found
        if word in self.added:
            return self.added[word]
        guess = EXTRA_PRONUNCIATIONS.get(word)
        if guess is None and len(word) <= 3 and "'" not in word:  # an acronym: its letters ("idm", "ebm")
            letters = [self.decoder.lookup_word(ch) for ch in word]
            if all(letters):
                guess = " ".join(letters)
        if guess is None:  # a compound of two dictionary words
            for cut in range(3, len(word) - 2):
                a, b = self.decoder.lookup_word(word[:cut]), self.decoder.lookup_word(word[cut:])
                if a and b:
                    guess = f"{a} {b}"
                    break
        if guess is None:
            self.missing.add(word)
            return None
        self.decoder.add_word(word, guess, False)
        self.added[word] = guess
        return guess

    def phrase(self, text: str) -> str | None:
        words = speakable(text)
        if not words or not all(self.phones(w) for w in words):
            return None
        return " ".join(words)


def _slot_values(catalog: Catalog, say, *, max_artists: int) -> dict[str, list[str]]:
    genres = [g.lower() for g in catalog.genre_names + catalog.style_names] + list(GENRE_SYNONYMS)
    raw = {
        "genre": genres,
        "energy": [p for ws in ENERGY_WORDS.values() for p in ws],
        "mood": [p for ws in MOOD_WORDS.values() for p in ws],
        "activity": [p for ws in ACTIVITY_WORDS.values() for p in ws],
        "familiarity": [p for ws in FAMILIARITY_WORDS.values() for p in ws],
        "decade": [p for d in catalog.decade_names for p in spoken_decade(d)],
    }
    values = {slot: sorted({s for p in phrases if (s := say(p))}) for slot, phrases in raw.items()}
    _rows, indptr = catalog.artist_tracks
    tracks = np.diff(indptr)
    artists: list[str] = []
    for code in np.argsort(-tracks, kind="stable"):
        name = str(catalog.artist_names[code])
        if len(artists) >= max_artists:
            break
        if re.fullmatch(r"[A-Za-z' .&-]+", name) and (spoken := say(name)) and len(spoken) >= 4:
            artists.append(spoken)
    values["artist"] = sorted(set(artists))
    return values


# What each prompt invites (``recognize(..., prompt=)``): the intents of likely answers with their shares and, for
# a question about one slot, that slot. Prompts that share a group share a language model.
PROMPT_GROUPS: dict[str, tuple[dict[str, float], str | None]] = {
    "sample": ({"accept": 0.45, "reject": 0.45, "stop": 0.05, "restart": 0.05}, None),
    "suggestion": ({"affirm": 0.45, "deny": 0.4, "dont_care": 0.15}, None),
    **{slot: ({"inform": 0.8, "dont_care": 0.2}, slot)
       for slot in ("energy", "mood", "genre", "decade", "activity", "familiarity")},
}
_PROMPT_GROUP = {"play_sample": "sample", "offer_station": "sample", "suggest_genres": "suggestion",
                 "suggest_artist": "suggestion", "open": "suggestion",
                 **{str(prompt): str(slot) for prompt, slot in ASK_PROMPTS.items()}}  # ask_energy -> "energy", ...


def domain_corpus(catalog: Catalog, say, *, sentences: int = 30_000, seed: int = 0, part: str = "all",
                  max_artists: int = 150, focus: str | None = None) -> list[list[str]]:
    """Sentences people say to Segue (see the module docstring), as word lists.

    ``focus``: a key of ``PROMPT_GROUPS``; only the answers that prompt invites (its intents; for a question
    about a slot, the inform templates that name that slot).
    """
    from ..nlu.templates import _split

    rng = np.random.default_rng(seed)
    values = _slot_values(catalog, say, max_artists=max_artists)
    shares, slot = PROMPT_GROUPS[focus] if focus is not None else ({i: 1.0 for i in TEMPLATES}, None)
    by_intent = {intent: [t for t in _split(TEMPLATES[intent], part) if all(values.get(s) for s in _SLOT.findall(t))
                          and (slot is None or intent != "inform" or f"{{{slot}}}" in t)] for intent in shares}
    if focus is None:  # every template equally likely
        pool = [t for ts in by_intent.values() for t in ts]
        by_intent, shares = {"any": pool}, {"any": 1.0}
    intents = [i for i in shares if by_intent[i]]
    weights = np.array([shares[i] for i in intents]) / sum(shares[i] for i in intents)
    out: list[list[str]] = []
    while len(out) < sentences:
        group = by_intent[intents[int(rng.choice(len(intents), p=weights))]]
        template = group[int(rng.integers(len(group)))]
        text = _SLOT.sub(lambda m: (v := values[m.group(1)])[int(rng.integers(len(v)))], template)
        words = say(text)
        if words is None:
            continue
        if rng.random() < 0.15:
            words = f"{LEADS[int(rng.integers(len(LEADS)))]} {words}"
        if rng.random() < 0.15:
            words = f"{words} {TAILS[int(rng.integers(len(TAILS)))]}"
        out.append(words.split())
    if focus is None or slot is not None:  # every value reachable on its own
        out += [v.split() for key, group in values.items() if slot in (None, key) for v in group]
    return out


class TrigramLM:
    """A trigram language model: interpolated absolute discounting with Katz-style back-off weights.

    Built from word lists (``TrigramLM.estimate``); ``write`` saves it as an ARPA file a decoder reads and
    ``logprob`` scores a sentence as the decoder would (natural log, with ``<s>``/``</s>``; words never seen
    get ``unknown`` per word). Source: Ney, Essen & Kneser, "On structuring probabilistic dependences in
    stochastic language modelling" (1994) for the discounting; Katz (1987) for back-off.
    """

    def __init__(self, prob: list[dict], backoff: list[dict]) -> None:
        self.prob, self.backoff = prob, backoff

    @classmethod
    def estimate(cls, sentences: list[list[str]], *, discount: float = 0.7) -> "TrigramLM":
        from collections import Counter, defaultdict

        counts: list[Counter] = [Counter(), Counter(), Counter()]
        for sentence in sentences:
            t = ["<s>", *sentence, "</s>"]
            for i in range(len(t)):
                counts[0][(t[i],)] += 1
                if i >= 1:
                    counts[1][tuple(t[i - 1 : i + 1])] += 1
                if i >= 2:
                    counts[2][tuple(t[i - 2 : i + 1])] += 1
        total = sum(v for (w,), v in counts[0].items() if w != "<s>")
        prob: list[dict] = [{g: (0.0 if g == ("<s>",) else v / total) for g, v in counts[0].items()}, {}, {}]
        backoff: list[dict] = [{}, {}]

        def lower(order: int, gram: tuple) -> float:  # P(w | shorter history), backing off as the file will
            if order == 1:
                return prob[0][gram[-1:]]
            if gram[1:] in prob[1]:
                return prob[1][gram[1:]]
            return backoff[0].get(gram[1:2], 1.0) * prob[0][gram[-1:]]

        for order in (1, 2):
            by_history: dict[tuple, list[tuple]] = defaultdict(list)
            for gram in counts[order]:
                by_history[gram[:-1]].append(gram)
            for history, grams in by_history.items():
                n = sum(counts[order][g] for g in grams)
                left = discount * len(grams) / n
                for g in grams:
                    prob[order][g] = (counts[order][g] - discount) / n + left * lower(order, g)
                seen = sum(prob[order][g] for g in grams)
                seen_lower = sum(lower(order, g) for g in grams)
                backoff[order - 1][history] = max(1.0 - seen, 1e-12) / max(1.0 - seen_lower, 1e-12)
        return cls(prob, backoff)

    @property
    def vocabulary(self) -> int:
        return len(self.prob[0])

    def _p(self, history: tuple, word: str) -> float:
        if len(history) == 2:
            if history + (word,) in self.prob[2]:
                return self.prob[2][history + (word,)]
            return self.backoff[1].get(history, 1.0) * self._p(history[1:], word)
        if history and history + (word,) in self.prob[1]:
            return self.prob[1][history + (word,)]
        weight = self.backoff[0].get(history, 1.0) if history else 1.0
        return weight * self.prob[0].get((word,), 0.0)

    def logprob(self, words: list[str], *, unknown: float = -12.0) -> float:
        """ln P(``words`` and the sentence end | sentence start); each word the model lacks costs ``unknown``."""
        t = ["<s>", *words, "</s>"]
        total = 0.0
        for i in range(1, len(t)):
            p = self._p(tuple(t[max(i - 2, 0) : i]), t[i]) if (t[i],) in self.prob[0] else 0.0
            total += math.log(p) if p > 0 else unknown
        return total

    def per_word(self, words: list[str]) -> float:
        """``logprob(words)`` per word, the sentence end counted as one: comparable across lengths."""
        return self.logprob(words) / (len(words) + 1)

    def write(self, path: Path) -> None:
        prob, backoff = self.prob, self.backoff

        def log10(x: float) -> str:
            return f"{math.log10(x):.5f}" if x > 0 else "-99.00000"

        lines = ["\\data\\", *(f"ngram {k + 1}={len(prob[k])}" for k in range(3)), "", "\\1-grams:"]
        lines += [f"{log10(p)} {g[0]} {log10(backoff[0].get(g, 1.0))}" for g, p in prob[0].items()]
        lines += ["", "\\2-grams:"]
        lines += [f"{log10(p)} {' '.join(g)} {log10(backoff[1].get(g, 1.0))}" for g, p in prob[1].items()]
        lines += ["", "\\3-grams:"]
        lines += [f"{log10(p)} {' '.join(g)}" for g, p in prob[2].items()]
        lines += ["", "\\end\\", ""]
        Path(path).write_text("\n".join(lines))


def write_arpa(sentences: list[list[str]], path: Path, *, discount: float = 0.7) -> int:
    """A trigram ARPA model (``TrigramLM``) of ``sentences`` written to ``path``; returns the vocabulary size."""
    model = TrigramLM.estimate(sentences, discount=discount)
    model.write(path)
    return model.vocabulary


class Recognizer:
    """pocketsphinx with the domain language model (``biased=True``) or the general one in its wheel."""

    name = "pocketsphinx"

    def __init__(self, catalog: Catalog, *, biased: bool = True, seed: int = 1, part: str = "all",
                 sentences: int = 30_000, options: dict | None = None) -> None:
        try:
            from pocketsphinx import Decoder, get_model_path
        except ImportError:
            raise VoiceError("pocketsphinx is not installed (pip install 'pocketsphinx>=5'; make test installs it)") from None
        started = time.perf_counter()
        model = Path(get_model_path()) / "en-us"
        config = dict(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"), loglevel="FATAL",
                      dither=True, seed=seed, **(options or {}))
        self.biased = biased
        self.vocabulary = 0
        self._catalog, self._part, self._sentences = catalog, part, sentences
        self._searches: dict[str | None, str] = {}
        self.language_model: TrigramLM | None = None
        if biased:
            self.decoder = Decoder(**config, lm=None)
            self._pron = _Pronouncer(self.decoder)
            self.vocabulary = self._add_model(None)
            self.decoder.activate_search("segue")
        else:
            self.decoder = Decoder(**config, lm=str(model / "en-us.lm.bin"))
            self._pron = None
        self.load_seconds = time.perf_counter() - started

    def _add_model(self, group: str | None) -> int:
        """Build and add the language model for a prompt group (None: any prompt); returns its vocabulary size."""
        name = "segue" if group is None else f"segue-{group}"
        say, half = self._pron.phrase, self._sentences // 2
        if group is None:
            corpus = domain_corpus(self._catalog, say, sentences=self._sentences, part=self._part)
        else:  # half what the prompt invites, half anything: a person may always lead elsewhere
            corpus = (domain_corpus(self._catalog, say, sentences=half, part=self._part)
                      + domain_corpus(self._catalog, say, sentences=half, part=self._part, focus=group, seed=1))
        model = TrigramLM.estimate(corpus)
        with tempfile.TemporaryDirectory(prefix="segue-lm-") as tmp:
            arpa = Path(tmp) / f"{name}.arpa"
            model.write(arpa)
            self.decoder.add_lm_file(name, str(arpa))
        self._searches[group] = name
        if group is None:
            self.language_model = model  # what the domain says, for rescoring other recognizers' hypotheses
        return model.vocabulary

    def _search_for(self, prompt) -> str:
        group = _PROMPT_GROUP.get(str(prompt)) if prompt is not None else None
        if group not in self._searches:
            self._add_model(group)  # once per prompt group, on first use (about a second)
        return self._searches[group]

    @property
    def unpronounceable(self) -> list[str]:
        return sorted(self._pron.missing) if self._pron else []

    def recognize(self, samples: np.ndarray, rate: int, *, prompt=None, question: str | None = None) -> Recognition:
        """The best hypothesis for one utterance; its confidence is pocketsphinx's posterior, calibrated with the
        domain model (``calibrate``), and ``alternatives`` holds (text, log posterior).

        ``prompt``: what Segue just asked (a ``PromptId`` or its string); with the domain model, the answers it
        invites weigh more (a language model per prompt group, half those answers, half anything). ``question``
        (the prompt's text) is accepted for the recognizers' common interface and not used here.
        """
        x = resample(samples, rate, ASR_RATE)
        d = self.decoder
        if self.biased:
            search = self._search_for(prompt)
            if d.current_search() != search:
                d.activate_search(search)
        started = time.perf_counter()
        d.start_utt()
        d.process_raw(to_pcm16(x), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        text = " ".join(w for w in (hyp.hypstr.split() if hyp is not None and hyp.hypstr else []) if not w.startswith("<"))
        posterior = min(max(float(hyp.prob), 0.0), 1.0) if text else 0.0
        seconds = time.perf_counter() - started
        if not text:
            return Recognition("", 0.0, seconds, len(x) / ASR_RATE)
        if self.biased and self.language_model is not None:
            confidence = calibrate(posterior, self.language_model.per_word(text.split()))
        else:
            confidence = posterior
        return Recognition(text, round(confidence, 4), seconds, len(x) / ASR_RATE,
                           alternatives=((text, round(math.log(max(posterior, POSTERIOR_FLOOR)), 4)),))
