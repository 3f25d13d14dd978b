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
from .lexicon import Lexicon, Match, tokenize
from .normalize import normalize
from .templates import generate

__all__ = ["EmbeddedNLU", "MAX_CHARS"]

MAX_CHARS = 2_000  # longer input is cut (a 100 KB line costs no more than this)
_NEGATIONS = frozenset({"not", "no", "don't", "dont", "without", "except", "hate", "neither", "nor", "never", "dislike", "can't",
                        "won't", "doesn't", "didn't", "isn't", "stop", "nothing"})
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
        normalize("warm up 👍")  # ftfy and emoji load now, not on the person's first turn
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
        lowered = normalize(clean) if clean else ""
        if not lowered or not re.search(r"[a-z0-9]", lowered):
            return NLUResult((), 0.0, 0.0, None, (), clean)
        tokens = tokenize(lowered)
        if not tokens:
            return NLUResult((), 0.0, 0.0, None, (), clean)
        matches = self.lexicon.match(tokens)
        spans = _char_spans(lowered, tokens)
        delex = _delex(lowered, [(spans[m.start][0], spans[m.stop - 1][1], m.slot.value) for m in matches])
        probs = self.model.predict_proba([delex])[0] * self._prior(prompt)
        probs = probs / probs.sum()
        best = int(np.argmax(probs))
        intent, p = self.classes[best], float(probs[best])
        clauses = _clauses(lowered, spans)
        negated_at = _negated(tokens, clauses)
        acts: list[DialogueAct] = []
        entities = []
        for m in matches:
            negated = negated_at[m.start]
            kind = Act.DENY if negated and m.slot in (Slot.GENRE, Slot.ARTIST, Slot.DECADE, Slot.MOOD) else Act.INFORM
            if negated and m.slot is Slot.ENERGY:  # "nothing too fast", "not in the mood for anything upbeat": in between
                if m.value != "medium":
                    acts.append(DialogueAct(Act.INFORM, Slot.ENERGY, "medium"))
            elif not (negated and kind is Act.INFORM):  # a negated activity or familiarity: no wish to act on
                acts.append(DialogueAct(kind, m.slot, m.value))
            entities.append({"slot": str(m.slot), "value": m.value, "text": " ".join(tokens[m.start : m.stop]), "score": m.score})
        mood = _mood_cue(lowered)
        if mood is not None and not any(m.slot is Slot.MOOD for m in matches):  # "a song that will make me smile"
            acts.append(DialogueAct(Act.INFORM, Slot.MOOD, mood))
            matches = [*matches, Match(Slot.MOOD, mood, len(tokens) - 1, len(tokens), 0.9)]
        vader = _vader().polarity_scores(clean)["compound"]
        negated_text = any(negated_at) or bool(_NEGATIONS & set(tokens))
        if intent in ("reject", "deny") and vader >= 0.45 and not negated_text:  # "love this song"
            intent = "accept" if intent == "reject" else "affirm"
            p *= 0.8
        elif intent in ("accept", "affirm") and vader <= -0.35:  # "I hate this"
            intent = "reject" if intent == "accept" else "deny"
            p *= 0.8
        intent, p = _rules(intent, p, lowered, tokens, matches, negated_at, clauses, prompt)
        unavailable = self.lexicon.unavailable(tokens, matches)
        for name, start, stop in unavailable:  # named, not in this catalog: said, never acted on; "negated" marks a
            entities.append({"slot": str(Slot.GENRE), "value": name, "text": " ".join(tokens[start:stop]), "score": 1.0,
                             "in_catalog": False, "negated": bool(negated_at[start])})  # refusal ("anything but blues")
        wanted = [u for u in unavailable if not negated_at[u[1]]]
        if wanted and intent in ("affirm", "accept") and not matches:  # "blues please" is a request, not a yes
            intent = "inform"
        head = self._intent_act(intent, tokens, prompt)
        excluded = any(a.act is Act.DENY for a in acts)
        if head is not None and not (excluded and head.act in (Act.DENY, Act.REJECT) and (
                head.act is Act.DENY or prompt not in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION))):
            acts.insert(0, head)  # "i hate country": deny(genre=country) says it all, unless said to a track
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


# ------------------------------------------------------------------ rules over the classifier
# Real requests the templates never taught: each rule is a kind of fault found on people's words
# (benchmarks/data/real_nlu_dev.tsv, ../shared/cases), checked on the normalized text.
#: a stop or restart negated ("don't stop the music", "never stop playing jazz", "no don't start over"): go on
_KEEP_GOING = re.compile(r"\b(?:don't|dont|do not|never|not|no need to|shouldn't|won't)\s+(?:ever\s+)?(?:want to\s+|wanna\s+)?"
                         r"(?:stop|quit|end|leave|start (?:over|again)|restart|reset|give up)\b")
#: faint praise is praise ("not bad": it was reject 0.81); a filler alone is no answer ("hmm": it was accept)
_NOT_BAD = re.compile(r"^(?:(?:it's|its|that's|thats|this is|that is)\s+)?not (?:too |that |half |so )?bad\b")
#: either of the options offered will do ("both": it was a yes to the first, "any of them" a no)
_EITHER = re.compile(r"^(?:both|either|either one|any of (?:them|those|these|the two)|whichever|both (?:sound|are|would be) "
                     r"(?:good|fine|great|ok|okay)|(?:i'd|i would) (?:take|like) (?:both|either))[.!]*$")
#: a hedged yes ("that's it I guess", "maybe") is a doubtful one: below the confirmation threshold
_HEDGE = re.compile(r"\b(?:i guess|i suppose|i think so|maybe|kind of|kinda|sort of|sorta|probably|perhaps)\b")
_HEDGED_YES_BELOW = 0.45
_HESITATION = re.compile(r"^(?:h+m+|u+h*m+|e+r+m*|u+h+|e+h+|h+m+ h+m+)[.!?]*$")
_CONTRAST_WORD = re.compile(r"\b(?:but|though|however|instead|rather|although)\b")
_CONTRAST = re.compile(_CONTRAST_WORD.pattern + r"|[,.;!?]")
#: words after a contrast that add no wish ("I love it, but yeah"): the acceptance stands (the contrast words too)
_CONTRAST_FILLER = frozenset({"yeah", "yes", "please", "pls", "still", "anyway", "really", "ok", "okay", "well", "so",
                              "thanks", "thank", "you"})
_NOT_NEGATION = re.compile(r"\b(?:don't|do not|doesn't) (?:mind|care)\b|\bno matter\b|\bnot sure\b|\bnot bad\b|"
                           r"\bnothing but\b|\bno idea\b|" + _KEEP_GOING.pattern)
_DISLIKE = re.compile(
    r"\b(?:(?:don't|do not|doesn't|didn't|can't|never|not)\s+(?:really\s+|ever\s+|even\s+)?"
    r"(?:like|love|enjoy|want|wanna|dig|care for|stand|need)|hate|dislike|can't stand|sick of|tired of|bored of|"
    r"thumbs-down|not a fan|not for me|not into|no more|not (?:anymore|any more)|awful|terrible|horrible|"
    r"get rid of|take (?:it|this|that) off|(?:never|don't|do not) (?:play|put on)|not (?:this|that) (?:one|song|track))\b")
_LIKE = re.compile(r"\b(?:thumbs-up|love it|love this|love that|(?:love|like|enjoy) (?:all )?(?:of )?(?:these|those|them)|"
                   r"like it|like this|like that|i like this|save (?:this|it|that)|remember (?:that )?i like|"
                   r"(?:i )?dig (?:it|this|that)|favou?rite (?:this|it)|keep (?:it|this) (?:on|playing)|this slaps|banger)\b")
_STOP = re.compile(r"\b(?:(?:turn|switch|shut)\s+(?:the\s+)?(?:music\s+|it\s+|this\s+)?off|shut up|stop (?:the )?music|"
                   r"stop playing(?! this)|(?:turn|switch) off (?:the )?(?:music|radio|speaker|player)|silence|be quiet|"
                   r"stop (?:everything|talking|it all|now)|i'm done|leave me alone|go away|quit|goodbye|bye)\b")
_STOP_CUE = re.compile(r"\b(?:stop|bye|quit|exit|end|done|enough|leav(?:e|ing)|go|gotta|give up|never ?mind|that's all|"
                       r"see (?:you|ya)|out|off|finish(?:ed)?|later|cya|night|over)\b")
_STOP_TRACK = re.compile(r"\b(?:stop|skip|pause|end|change)\s+(?:this|that|the)\s+(?:song|track|one|tune)\b|"
                         r"\bnext (?:song|track|one)\b|\bskip\b")
_RESTART = re.compile(r"\b(?:start(?:ing)? (?:over|again|afresh|fresh|from scratch)|restart|reset|from the (?:beginning|top)|"
                      r"begin again|new search|forget (?:that|it|everything)|scrap that|clear (?:it|everything|that))\b")
_REQUEST = re.compile(r"\b(?:play|put on|turn on|start|shuffle|pull up|queue|spin|blast|listen to|hear|give me|find me|"
                      r"find|recommend|suggest|(?:some|any|more) (?:music|tunes|songs)|(?:music|tunes|songs) please)\b")
_MUSIC_OBJECT = re.compile(r"\b(?:music|songs?|tunes?|something|anything|playlist|tracks?|a song|stuff|hits|records?|radio|"
                           r"random|some(?:thing)? good|whatever)\b")
_PRAISE = re.compile(r"\b(?:great|lovely|love|nice|awesome|perfect|amazing|brilliant|excellent|good)\b")
_DEICTIC = re.compile(r"\b(?:this|that|it|the whole|this one|that one)\b")
_MOOD_CUES = ((re.compile(r"\bmake me (?:smile|happy|laugh|dance)\b|\bcheer me up\b|\bput me in a good mood\b"), "happy"),
              (re.compile(r"\bmake me (?:cry|sad)\b|\bi'm (?:feeling )?down\b|\bfeeling down\b"), "melancholic"),
              (re.compile(r"\bhelp me (?:relax|calm down|unwind)\b|\bcalm me down\b"), "calm"))


def _clauses(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """The clause index of each token: a new clause after punctuation or a contrast ("but", "instead")."""
    ids, clause, pos = [], 0, 0
    for start, end in spans:
        if _CONTRAST.search(text[pos:end]):  # punctuation before the token, or the token is a contrast word
            clause += 1
        ids.append(clause)
        pos = end
    return ids


def _negated(tokens: list[str], clauses: list[int]) -> list[bool]:
    """Whether each token is inside a negation's scope: after a negator ("not", "never", "don't", "hate", "no more",
    "anything but", "except") in the same clause; "don't mind" and "not sure" are not negations. "not ... anymore"
    negates what came before it in the clause ("actually not jazz anymore")."""
    text = " ".join(tokens)
    skip = set()
    for m in _NOT_NEGATION.finditer(text):
        before = text[: m.start()].count(" ") + (0 if m.start() == 0 else 1)
        skip.update(range(before, before + m.group(0).count(" ") + 1))
    out, active = [], -1
    for i, tok in enumerate(tokens):
        out.append(active == clauses[i])
        starts = tok in _NEGATIONS and i not in skip and not (tok == "stop" and i + 1 < len(tokens) and tokens[i + 1] == "over")
        if tok == "but" and i > 0 and tokens[i - 1] in ("anything", "everything", "all", "something"):
            starts = True  # "anything but rap"
        if tok in ("more", "longer") and i > 0 and tokens[i - 1] in ("no", "not"):
            starts = True
        if (tok == "of" and i > 0 and tokens[i - 1] in ("sick", "tired", "bored")) or tok == "enough" or (
                tok == "over" and i > 0 and tokens[i - 1] in ("i'm", "im", "so", "totally")):
            starts = True  # "i'm sick of jazz", "enough jazz", "i'm over jazz"
        if starts:
            active = clauses[i]
    for i, tok in enumerate(tokens):  # "jazz anymore" / "jazz no more": the clause's earlier mentions
        if tok in ("anymore", "any") and (tok == "anymore" or tokens[i + 1 : i + 2] == ["more"]) and any(
                tokens[j] in ("not", "no", "don't", "never") for j in range(len(tokens)) if clauses[j] == clauses[i]):
            for j in range(i):
                if clauses[j] == clauses[i]:
                    out[j] = True
    return out


def _rules(intent: str, p: float, text: str, tokens: list[str], matches: list[Match], negated: list[bool],
           clauses: list[int], prompt: PromptId | None) -> tuple[str, float]:
    """The intent after the rules for what the templates never taught (see the block comment above)."""
    to_track = prompt in (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION)
    informs = [m for m in matches if not negated[m.start] or m.slot is Slot.ENERGY]  # "not too loud": in between
    last = max(clauses) if clauses else 0
    dislike, like, stop_track = _DISLIKE.search(text), _LIKE.search(text), _STOP_TRACK.search(text)
    if _HESITATION.match(text):
        return "inform", min(p, 0.3)  # no act: nothing said yet
    if _EITHER.match(text) and not to_track and not informs:
        return "dont_care", max(p, 0.7)
    if _NOT_BAD.search(text) and not informs and last == 0:
        return ("accept" if to_track or prompt is None else "affirm"), 0.6  # mild: a yes, never a certain one
    if intent in ("accept", "affirm") and _HEDGE.search(text) and not informs and not _LIKE.search(text):
        return intent, min(p, _HEDGED_YES_BELOW)  # "that's it I guess" (accept 0.75 played the track): confirmed first
    if _KEEP_GOING.search(text):  # "don't stop the music", "no don't start over": neither a stop nor a restart
        if intent in ("stop", "restart", "reject", "deny"):
            intent, p = ("accept" if to_track else "inform" if informs else "dont_care"), min(max(p, 0.6), 0.8)
        return intent, p
    if dislike and not informs and (_DEICTIC.search(text) or to_track):  # "don't like that song, turn it off"
        return ("reject" if to_track or prompt is None else "deny"), max(p, 0.85)
    if _STOP.search(text) and not stop_track and not _RESTART.search(text) and not any(negated[m.start] for m in matches):
        return "stop", max(p, 0.9)  # ("stop playing rock" is no stop: rock is over, not the chat)
    if stop_track and (to_track or prompt is None) and not informs:
        return "reject", max(p, 0.9)
    if intent == "stop" and (informs or _REQUEST.search(text)):  # "an album from 1972": a request, never a stop
        return "inform", max(p, 0.8) if informs else 0.5
    if intent == "restart" and not _RESTART.search(text):  # "start playlist": a request, not a restart
        intent, p = ("inform", 0.8) if informs else ("dont_care", 0.6)
    if dislike and not informs:
        return ("reject" if to_track or prompt is None else "deny"), max(p, 0.85)
    if last > 0 and _CONTRAST_WORD.search(text) and (intent in ("accept", "affirm") or like):
        # "I like it but can you play something jazzier": the request after the contrast wins
        late = [m for m in informs if clauses[m.start] == last]
        if late:
            return ("reject" if to_track else "inform"), max(p, 0.8)
        rest = [t for t, c in zip(tokens, clauses)
                if c == last and t not in _CONTRAST_FILLER and not _CONTRAST_WORD.fullmatch(t)]
        if to_track and rest and clauses[0] == 0:
            # "love it but a bit calmer", "yes but louder": a reservation about the track, with a wish not understood:
            # another one, never the whole track
            return "request_alternative", max(p, 0.6)
    if intent in ("dont_care", "stop") and any(negated[m.start] for m in matches):
        # "never ever play me any country", "enough jazz" (jazz is over, not the chat)
        return ("reject" if to_track else "deny"), max(p, 0.8)
    if intent == "stop" and not _STOP_CUE.search(text):  # "opera please": a stop needs a word that says stop
        intent, p = ("inform", p) if informs else ("dont_care" if _REQUEST.search(text) else "inform", min(p, 0.3))
    if like and not any(negated):
        if not informs or intent in ("accept", "affirm"):
            return ("accept" if to_track or prompt is None else "affirm"), max(p, 0.85)
    praised = intent in ("accept", "affirm") and _PRAISE.search(text)  # "great, can you add more songs"
    if (not matches and not to_track and not praised and _REQUEST.search(text) and _MUSIC_OBJECT.search(text)
            and not _DEICTIC.search(text)
            and intent in ("inform", "accept", "affirm", "restart", "greet", "help", "stop", "request_alternative")):
        return "dont_care", max(p, 0.7)  # "play songs", "will you put on the music": music, nothing known
    if intent in ("reject", "deny") and not to_track and informs and all(negated[m.start] for m in informs):
        return "inform", p  # "not too loud", "not too slow" to a question: a negated energy is a wish, not a no
    return intent, p


def _mood_cue(text: str) -> str | None:
    for pattern, value in _MOOD_CUES:
        if pattern.search(text):
            return value
    return None
