"""The embedded NLU: gazetteer entities + a trained intent classifier + sentiment intensity.

1. Slot mentions are found by the catalog's gazetteers (exact, then fuzzy).
2. They are replaced by placeholders ("some GENRE please") and the intent
   classifier (scikit-learn: word and character TF-IDF, logistic regression)
   trained on the generated ``nlu.yml`` examples decides the intent.
3. Intent + entities -> acts: ``inform`` for each mention; a mention after a
   negation ("not jazz", "anything but rap") is ``deny`` with that value; the
   prompt gives short answers their meaning ("yes" to a sample is ``accept``).
4. Sentiment: VADER's intensity (capitals, exclamation marks, boosters) with
   a few domain words, blended with the intent's prior, so that
   "Hmm, OK" < "Yes" < "YES!" < "Brilliant, I love it".
5. Confidence: the classifier's probability, lowered for fuzzy matches and
   for an ``inform`` with nothing recognized.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

import numpy as np

from recommender.catalog import Catalog

from ..acts import Act, DialogueAct, Slot
from ..prompts import PromptId
from . import NLUResult
from .lexicon import Lexicon, tokenize
from .templates import generate

__all__ = ["EmbeddedNLU", "MAX_CHARS"]

MAX_CHARS = 2_000  # longer input is cut (a 100 KB line costs no more than this)
_NEGATIONS = frozenset({"not", "no", "don't", "dont", "without", "except", "but", "hate", "neither", "nor", "never"})
_INTENT_PRIOR = {"accept": 0.6, "affirm": 0.3, "inform": 0.15, "greet": 0.2, "help": 0.0, "dont_care": 0.0,
                 "request_alternative": -0.15, "deny": -0.3, "reject": -0.4, "restart": -0.2, "stop": -0.5}
_DOMAIN_WORDS = {"hmm": -0.8, "meh": -1.2, "nah": -1.0, "nope": -1.2, "skip": -0.8, "yess": 2.0, "yesss": 2.2,
                 "okayy": 0.9, "brilliant": 3.0, "banger": 2.5, "boring": -1.5}
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b.|[\x00-\x08\x0b-\x1f\x7f]")  # ANSI escapes, control characters


@lru_cache(maxsize=2)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(_DOMAIN_WORDS)
    return analyzer


def _delex(text: str, spans) -> str:
    """Replace entity character spans by their slot's placeholder token."""
    out, pos = [], 0
    for start, end, slot in sorted(spans):
        out.append(text[pos:start])
        out.append(f" {slot.upper()} ")
        pos = end
    out.append(text[pos:])
    return "".join(out)


class EmbeddedNLU:
    """Default NLU; ``EmbeddedNLU.for_catalog(catalog)`` builds (and caches) one per catalog."""

    name = "embedded"
    _cache: dict[str, "EmbeddedNLU"] = {}

    def __init__(self, catalog: Catalog, *, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        started = time.perf_counter()
        self.catalog = catalog
        self.lexicon = Lexicon(catalog)
        examples = generate(catalog, part="train", seed=seed)
        texts = [_delex(e.text.lower(), [(s, t, slot) for s, t, slot, _ in e.entities]) for e in examples]
        labels = [e.intent for e in examples]
        self.model = make_pipeline(
            make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                       TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            LogisticRegression(C=20.0, max_iter=2000, random_state=seed),
        )
        self.model.fit(texts, labels)
        self.classes = list(self.model.classes_)
        self.n_examples = len(examples)
        self.train_seconds = time.perf_counter() - started

    @classmethod
    def for_catalog(cls, catalog: Catalog | None = None) -> "EmbeddedNLU":
        catalog = catalog or Catalog.load()
        nlu = cls._cache.get(catalog.fingerprint)
        if nlu is None:
            nlu = cls._cache[catalog.fingerprint] = cls(catalog)
        return nlu

    # ------------------------------------------------------------------ parse
    def parse(self, text: str, *, prompt: PromptId | None = None) -> NLUResult:
        if not isinstance(text, str):
            text = str(text)
        clean = _CONTROL.sub(" ", text[:MAX_CHARS]).strip()
        if not clean or not re.search(r"[A-Za-z0-9]", clean):
            return NLUResult((), 0.0, 0.0, None, (), clean)
        lowered = clean.lower()
        tokens = tokenize(lowered)
        matches = self.lexicon.match(tokens)
        spans = _char_spans(lowered, tokens)
        delex = _delex(lowered, [(spans[m.start][0], spans[m.stop - 1][1], m.slot.value) for m in matches])
        probs = self.model.predict_proba([delex])[0] * self._prior(prompt)
        probs = probs / probs.sum()
        best = int(np.argmax(probs))
        intent, p = self.classes[best], float(probs[best])
        acts: list[DialogueAct] = []
        entities = []
        for m in matches:
            negated = any(tokens[j] in _NEGATIONS and not re.search(r"[,.;!?]", lowered[spans[j][1] : spans[m.start][0]])
                          for j in range(max(0, m.start - 2), m.start))  # "not jazz", but "not this, jazz" is jazz
            kind = Act.DENY if negated and m.slot in (Slot.GENRE, Slot.ARTIST) else Act.INFORM
            acts.append(DialogueAct(kind, m.slot, m.value))
            entities.append({"slot": str(m.slot), "value": m.value, "text": " ".join(tokens[m.start : m.stop]), "score": m.score})
        vader = _vader().polarity_scores(clean)["compound"]
        negated_text = bool(_NEGATIONS & set(tokens))
        if intent in ("reject", "deny") and vader >= 0.45 and not negated_text:  # "love this song"
            intent = "accept" if intent == "reject" else "affirm"
            p *= 0.8
        elif intent in ("accept", "affirm") and vader <= -0.35:  # "I hate this"
            intent = "reject" if intent == "accept" else "deny"
            p *= 0.8
        head = self._intent_act(intent, tokens, prompt)
        if head is not None and not (head.act is Act.DENY and any(a.act is Act.DENY for a in acts)):
            acts.insert(0, head)
        confidence = p * min((m.score for m in matches), default=1.0)
        if intent == "inform" and not matches:
            confidence *= 0.3
        sentiment = self._sentiment(clean, intent, vader)
        return NLUResult(tuple(dict.fromkeys(acts)), sentiment, float(round(confidence, 4)), intent, tuple(entities), clean)

    def _prior(self, prompt: PromptId | None) -> np.ndarray:
        """What the prompt makes plausible: a track is liked, disliked or left, not "don't mind"-ed;
        a question is answered, not "loved". A soft weight, so any intent can still win."""
        weights = np.ones(len(self.classes))
        if prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):
            unlikely = {"dont_care", "help", "greet"}
        elif prompt is not None:
            unlikely = {"accept", "reject", "greet"}
        else:
            unlikely = set()
        for i, name in enumerate(self.classes):
            if name in unlikely:
                weights[i] = 0.35
        return weights

    def _intent_act(self, intent: str, tokens: list[str], prompt: PromptId | None) -> DialogueAct | None:
        if intent == "dont_care" or (intent == "inform" and tokens[:1] == ["any"]):  # "any mood"
            slot = next((s for s, words in _SLOT_WORDS.items() if words & set(tokens)), None)
            if intent == "inform" and slot is None:
                return None
            return DialogueAct(Act.DONT_CARE, slot)
        if intent == "inform":
            return None
        act = Act(intent)
        if prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION):  # "yes"/"no" to a track
            act = {Act.AFFIRM: Act.ACCEPT, Act.DENY: Act.REJECT}.get(act, act)
        elif prompt is not None:  # to a question, liking or not liking is yes or no
            act = {Act.ACCEPT: Act.AFFIRM, Act.REJECT: Act.DENY}.get(act, act)
        return DialogueAct(act)

    @staticmethod
    def _sentiment(text: str, intent: str, vader: float | None = None) -> float:
        """``vader``: VADER's compound score of ``text`` when the caller has it already."""
        if vader is None:
            vader = _vader().polarity_scores(text)["compound"]
        value = 0.65 * vader + 0.35 * _INTENT_PRIOR.get(intent, 0.0)
        return float(np.clip(round(value, 4), -1.0, 1.0))


_SLOT_WORDS = {
    Slot.GENRE: frozenset({"genre", "genres", "style", "styles"}),
    Slot.DECADE: frozenset({"decade", "era", "decades", "year", "years"}),
    Slot.ENERGY: frozenset({"tempo", "energy", "pace", "speed"}),
    Slot.MOOD: frozenset({"mood", "moods", "vibe"}),
    Slot.ARTIST: frozenset({"artist", "artists", "band", "singer"}),
}


def _char_spans(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Character span of each token in ``text`` (tokens were found left to right)."""
    spans, pos = [], 0
    for tok in tokens:
        start = text.find(tok, pos)
        if start < 0:  # cannot happen for tokens taken from this text; be safe
            start = pos
        spans.append((start, start + len(tok)))
        pos = start + len(tok)
    return spans
