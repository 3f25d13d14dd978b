"""User utterance templates: the NLU's training data and the simulated user's voice.

Each intent has templates with slot placeholders (``{genre}``, ``{energy}``,
``{mood}``, ``{decade}``, ``{artist}``, ``{activity}``, ``{familiarity}``).
Every fourth template is *held out*: it never reaches the training data
(``nlu.yml``) and is used only for the held-out test set and by the
simulated user speaking in text, so accuracy is measured on phrasings the
classifier has not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from recommender.catalog import Catalog

from ..acts import Act, DialogueAct, Slot
from .lexicon import ACTIVITY_WORDS, ENERGY_WORDS, FAMILIARITY_WORDS, MOOD_WORDS, decade_words

__all__ = ["INTENTS", "TEMPLATES", "Example", "generate", "verbalize", "surface"]

INTENTS: tuple[str, ...] = ("inform", "affirm", "deny", "accept", "reject", "dont_care", "request_alternative",
                            "restart", "stop", "greet", "help")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "inform": (
        "{genre}", "some {genre} please", "play some {genre}", "I'm in the mood for {genre}", "how about {genre}",
        "I'd like to hear {genre}", "I feel like {genre} today", "let's go with {genre}", "something {genre}",
        "put on some {genre} music", "{genre} would be great", "maybe some {genre}?", "I love {genre}",
        "{energy}", "something {energy}", "I want something {energy}", "make it {energy}", "{energy} please",
        "more {energy} I think", "I'd prefer {energy} music", "keep it {energy}", "something a bit more {energy}",
        "{mood}", "something {mood}", "I'm feeling {mood}", "a {mood} kind of mood", "play me something {mood}",
        "{mood} music please", "I want {mood} songs", "something that sounds {mood}",
        "{decade}", "music from the {decade}", "something from the {decade}", "{decade} stuff", "I like the {decade}",
        "{decade} please", "anything from the {decade}", "songs from the {decade} would be nice",
        "something by {artist}", "play {artist}", "I like {artist}", "{artist} please", "how about {artist}",
        "some {artist}", "anything from {artist}", "I'd love some {artist}",
        "music for {activity}", "I'm {activity}", "something for {activity}", "I need a playlist for {activity}",
        "songs for {activity}", "it's for {activity}", "we're {activity}", "background music for {activity}",
        "{familiarity}", "I want {familiarity}", "play {familiarity}", "{familiarity} please",
        "{energy} {genre}", "something {energy} and {genre}", "{mood} {genre} please", "{genre} from the {decade}",
        "some {energy} {genre} for {activity}", "{genre} by {artist}", "I want {mood} {genre} for {activity}",
        "{genre} music, something {energy}",
    ),
    "affirm": (
        "yes", "yeah", "sure", "ok", "okay", "yep", "yes please", "sounds good", "that works", "why not", "absolutely",
        "of course", "definitely", "yes, {genre}", "yeah {genre} sounds good", "sure, {genre}", "yes the first one",
        "correct", "right", "alright", "yup", "go for it", "that one", "yes, {artist}", "hmm, ok", "ok I guess",
        "hmm, okay then", "fine",
    ),
    "deny": (
        "no", "nope", "nah", "no thanks", "not really", "neither", "none of those", "no, {genre}", "not that",
        "no, something else", "I don't think so", "neither of them", "no way", "no, I'd rather have {genre}",
        "not {genre}", "not a fan", "not really my thing", "none of them",
    ),
    "accept": (
        "I love it", "perfect", "that's it", "great, keep playing", "this is great", "brilliant, I love it",
        "yes, play it", "that's exactly what I wanted", "awesome", "nice, I like this one", "play the whole thing",
        "love this song", "this is perfect!", "keep it", "amazing", "wonderful, thank you", "this is the one",
        "great choice", "that's lovely", "YES!", "sounds perfect", "I like it", "fantastic", "good one",
        "love it", "I really like this song", "this song is great", "that's the one", "yes, I like this",
        "beautiful", "oh I love this one", "great song", "that's good, play it", "excellent", "nice one",
        "this works", "I like this song", "that's great", "superb", "cool, I like it", "lovely song",
    ),
    "reject": (
        "I don't like it", "no, not this one", "skip", "next", "not this", "I don't like this", "that's not it",
        "not for me", "hmm, not quite", "that's not what I want", "no, something more {energy}", "skip this one",
        "nope, next one", "this isn't it", "I hate this", "not quite, more {genre}", "not this song",
        "no, too slow", "try another", "no, something {mood}", "that's awful", "not my style",
        "I don't like this song", "nah, next", "not really", "no", "nope", "boring", "next song please",
        "that one's not for me", "don't like it", "I'm not into this", "meh", "no thanks", "change it",
    ),
    "dont_care": (
        "I don't mind", "whatever", "anything", "doesn't matter", "I don't care", "any is fine", "you choose",
        "up to you", "no preference", "anything is fine", "surprise me with anything", "any genre is fine",
        "I'm not picky", "either is fine", "doesn't matter to me", "whatever you think", "dunno",
        "I have no idea", "any decade", "no idea, you pick", "you decide", "I'm easy", "anything goes",
        "doesn't matter, you pick", "your choice", "whatever is fine", "not sure", "I don't know",
    ),
    "request_alternative": (
        "something else", "anything else?", "what else do you have", "other options", "show me something different",
        "got anything else", "different please", "another one", "any other suggestions", "what other genres",
        "something different", "other ideas?",
    ),
    "restart": (
        "start over", "let's start again", "restart", "reset", "from the beginning", "forget that", "start from scratch",
        "let's begin again", "scrap that, start over", "new search",
    ),
    "stop": (
        "stop", "bye", "quit", "goodbye", "I'm done", "that's enough", "exit", "never mind", "forget it, bye",
        "I give up", "stop please", "end", "see you", "enough for today", "bye bye", "I'm leaving",
        "goodbye for now", "let's stop", "I have to go", "stop the conversation", "that's all", "quit please",
        "see you later", "I'm out", "no more, bye", "bye for now",
    ),
    "greet": (
        "hi", "hello", "hey", "hi there", "good morning", "hey there", "hello!", "good evening", "hiya", "howdy",
    ),
    "help": (
        "help", "what can you do", "how does this work", "what can I say", "I don't understand", "what?", "huh?",
        "can you help me", "what do you mean", "options?",
    ),
}

_PLACEHOLDER = re.compile(r"\{(genre|energy|mood|decade|artist|activity|familiarity)\}")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[tuple[int, int, str, str], ...]  # (start, end, slot, canonical value)


_PREFIXES = ("", "", "oh ", "well, ", "hmm ", "ok ", "um, ", "")
_SUFFIXES = ("", "!", ".", " please", " thanks", "", "!!", " then")


def _split(templates: tuple[str, ...], part: str) -> list[str]:
    """Every fourth template is held out; ``part`` is "train", "test" or "all"."""
    if part == "all":
        return list(templates)
    return [t for i, t in enumerate(templates) if (i % 4 == 3) == (part == "test")]


def surface(slot: Slot, value: str, rng: np.random.Generator) -> str:
    """One way a person says a slot value."""
    words = {Slot.ENERGY: ENERGY_WORDS, Slot.MOOD: MOOD_WORDS, Slot.ACTIVITY: ACTIVITY_WORDS,
             Slot.FAMILIARITY: FAMILIARITY_WORDS}.get(slot)
    if words is not None:
        options = words[value]
    elif slot is Slot.DECADE:
        options = decade_words(value)
    else:
        options = (value,)
    return str(options[int(rng.integers(len(options)))])


def _values(catalog: Catalog, rng: np.random.Generator, slot: str) -> tuple[str, str]:
    """(canonical value, surface form) of a random value of ``slot``."""
    if slot == "genre":
        names = [g.lower() for g in catalog.genre_names + catalog.style_names]
        value = names[int(rng.integers(len(names)))]
        return value, value
    if slot == "artist":
        for _ in range(50):
            name = str(catalog.artist_names[int(rng.integers(len(catalog.artist_names)))])
            if len(name) >= 4 and name.replace(" ", "").isalpha():
                return name, name
        return name, name
    table = {"energy": ENERGY_WORDS, "mood": MOOD_WORDS, "activity": ACTIVITY_WORDS, "familiarity": FAMILIARITY_WORDS}
    if slot == "decade":
        value = catalog.decade_names[int(rng.integers(len(catalog.decade_names)))]
        return value, surface(Slot.DECADE, value, rng)
    values = list(table[slot])
    value = values[int(rng.integers(len(values)))]
    return value, surface(Slot(slot), value, rng)


def fill(template: str, catalog: Catalog, rng: np.random.Generator,
         given: dict[str, tuple[str, str]] | None = None) -> tuple[str, tuple[tuple[int, int, str, str], ...]]:
    """Fill a template's placeholders with (random or given) values; the entity spans are kept."""
    text, entities, pos = "", [], 0
    for m in _PLACEHOLDER.finditer(template):
        slot = m.group(1)
        value, said = (given or {}).get(slot) or _values(catalog, rng, slot)
        text += template[pos : m.start()]
        entities.append((len(text), len(text) + len(said), slot, value))
        text += said
        pos = m.end()
    text += template[pos:]
    return text, tuple(entities)


def generate(catalog: Catalog, *, part: str = "train", per_template: int = 6, seed: int = 0) -> list[Example]:
    """Training (or held-out test) examples: every template of ``part`` filled ``per_template`` times."""
    rng = np.random.default_rng([seed, 0 if part == "train" else 1])
    out: list[Example] = []
    for intent, templates in TEMPLATES.items():
        for template in _split(templates, part):
            times = per_template if _PLACEHOLDER.search(template) else 3
            for i in range(times):
                text, entities = fill(template, catalog, rng)
                if i and not entities:  # fixed phrasings: variants with the small words people add
                    pre = _PREFIXES[int(rng.integers(len(_PREFIXES)))]
                    post = _SUFFIXES[int(rng.integers(len(_SUFFIXES)))]
                    text = f"{pre}{text}{post}"
                if rng.random() < 0.3:
                    text = text.lower() if rng.random() < 0.7 else text.capitalize()
                out.append(Example(text, intent, entities))
    return out


# ------------------------------------------------------------------ the simulated user's voice
_COMBINED = {
    ("affirm", "genre"): ("yes, {genre}", "yeah {genre} sounds good", "sure, {genre}", "{genre}, yes", "ok, {genre} then"),
    ("affirm", "artist"): ("yes, {artist}", "sure, {artist}", "yeah, {artist} is good"),
    ("deny", "genre"): ("no, {genre}", "no, I'd rather have {genre}", "neither, {genre} please", "no. {genre}?"),
    ("deny", "artist"): ("no, {artist}", "no, more like {artist}", "not them, {artist}"),
    ("reject", "energy"): ("no, something more {energy}", "not this, {energy} please", "too much, something {energy}"),
    ("reject", "genre"): ("not quite, more {genre}", "no, {genre} please", "not this one, I want {genre}"),
    ("reject", "mood"): ("no, something {mood}", "not this, {mood} please"),
    ("reject", "decade"): ("no, something from the {decade}", "not this, {decade} please"),
    ("reject", "artist"): ("no, something by {artist}", "not this, {artist}"),
}
_DONT_CARE_SLOT = {Slot.GENRE: "any genre is fine", Slot.DECADE: "any decade", Slot.ENERGY: "any tempo is fine",
                   Slot.MOOD: "any mood", Slot.ARTIST: "any artist is fine", Slot.ACTIVITY: "nothing in particular",
                   Slot.FAMILIARITY: "either is fine"}


def verbalize(acts: list[DialogueAct] | tuple[DialogueAct, ...], catalog: Catalog, rng: np.random.Generator,
              *, sentiment: float = 0.0, part: str = "all") -> str:
    """Text a person could say for these acts (paraphrased templates; ``part="test"``: held-out phrasings only)."""
    acts = list(acts)
    if not acts:
        return "hmm"
    main = acts[0]
    informs = [a for a in acts if a.act is Act.INFORM and a.slot is not None and a.value is not None]

    def pick(options) -> str:
        return str(options[int(rng.integers(len(options)))])

    def given(items) -> dict[str, tuple[str, str]]:
        return {a.slot.value: (a.value, surface(a.slot, a.value, rng)) for a in items}

    if main.act is Act.INFORM:
        slots = {a.slot.value for a in informs}
        options = [t for t in _split(TEMPLATES["inform"], part) if set(_PLACEHOLDER.findall(t)) == slots]
        if not options:  # several slots with no template for the combination: one clause each
            return ", ".join(verbalize([a], catalog, rng, sentiment=sentiment, part=part) for a in informs)
        return fill(pick(options), catalog, rng, given(informs))[0]
    if main.act is Act.DONT_CARE:
        if main.slot is not None and rng.random() < 0.5:
            return _DONT_CARE_SLOT[main.slot]
        options = [t for t in _split(TEMPLATES["dont_care"], part) if not any(w in t for w in ("genre", "decade"))]
        return pick(options or TEMPLATES["dont_care"])
    key = str(main.act)
    if informs:
        combined = _COMBINED.get((key, informs[0].slot.value))
        if combined:
            return fill(pick(combined), catalog, rng, given(informs[:1]))[0]
    options = [t for t in _split(TEMPLATES.get(key, ("ok",)), part) if not _PLACEHOLDER.search(t)]
    if key == "accept":  # intensity follows the sentiment: "Hmm, OK" < "Yes" < "YES!" < "Brilliant, I love it"
        strong = [t for t in options if "!" in t or "love" in t.lower() or "perfect" in t.lower()]
        mild = [t for t in options if t not in strong]
        options = strong if sentiment > 0.75 and strong else mild or options
    text = pick(options or TEMPLATES.get(key, ("ok",)))
    return text
