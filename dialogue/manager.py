"""The dialogue manager: NLU -> state -> policy -> scorer -> phrasing, one turn at a time.

It drives the same :class:`Conversation` as the simulator, so the policy
sees the features it was trained on. The person can follow the prompts or
lead: "play some jazz" (play a sample now), "something by <artist>",
"start over", "stop". Each finished conversation goes to the sink the
application gives it (``dialogue.records.ConversationSink``), with the serving
policy's distribution and propensity at every prompt, so that real chats can
feed the next round of training; the manager itself writes no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from recommender.catalog import Catalog
from recommender.history import HistoryProfile
from recommender.scorer import Scorer

from .acts import Act, DialogueAct, Slot
from .choices import resolve_choice, resolve_other_artist, resolve_relative
from .context import Conversation
from .features import FeatureVariant, Featurizer
from .nlu import NLU, NLUResult
from .nlu.lexicon import tokenize
from .phrasing import HIGH_TONE, Phraser, candidate_match, goal_closeness
from .policy import Decision, Policy, sample_prompt
from .prompts import ASK_PROMPTS, PromptId, SystemPrompt, prompt_index
from .records import ConversationRecord, ConversationSink, TurnRecord
from .state import CONFIDENT
from .usefulness import label_usefulness

__all__ = ["DialogueManager", "SystemTurn", "MAX_TURNS", "CONFIRM_BELOW"]

MAX_TURNS = 40
#: A stop, restart or accept understood with less confidence than this (the NLU's, times the recognizer's for
#: speech) is confirmed with a yes/no question before it is carried out.
CONFIRM_BELOW = 0.5
_PLAY_WORDS = frozenset({"play", "put", "hear", "listen"})
#: prompts that offer something a "no" turns down (the others ask)
_OFFERS = frozenset({PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION, PromptId.SUGGEST_GENRES, PromptId.SUGGEST_ARTIST})
GREETING = "Hi, I'm Segue. What would you like to listen to?"


@dataclass
class SystemTurn:
    text: str
    prompt: SystemPrompt | None = None   # None for greetings, help, goodbyes
    play_track: int | None = None        # a snippet to play now
    finished: bool = False
    nlu: NLUResult | None = None
    closeness: float = 0.5


@dataclass
class _Draft:
    """The conversation so far: turn records whose answers arrive one utterance later."""

    turns: list[TurnRecord] = field(default_factory=list)
    closed: bool = False
    opening: tuple = ((), 0.0, 0.0)  # acts, sentiment, confidence of what was understood before the first prompt


class DialogueManager:
    """One person's conversations, turn by turn (see the module docstring).

    ``policy`` reads the features of ``variant``; ``sink`` receives every finished conversation
    (None: they are dropped). ``seed`` seeds the prompt draws and the phrasing.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        nlu: NLU,
        policy: Policy,
        variant: FeatureVariant | str,
        scorer: Scorer,
        profile: HistoryProfile | None = None,
        seed: int = 0,
        sink: ConversationSink | None = None,
    ) -> None:
        self.catalog, self.nlu, self.policy, self.scorer = catalog, nlu, policy, scorer
        self.variant = FeatureVariant.parse(variant, option="feature variant")
        self.profile = profile
        self.sink = sink
        self.featurizer = Featurizer(catalog.genre_names, FeatureVariant.HISTORY, scorer.version)
        self.n_base = self.featurizer.layout.n_base
        self.rng = np.random.default_rng(seed)
        self.phraser = Phraser(catalog, seed=seed)
        self._new_conversation()

    # ------------------------------------------------------------------ state
    def _new_conversation(self) -> None:
        self.conversation = Conversation(self.catalog, self.scorer, self.profile)
        self.prompt: SystemPrompt | None = None
        self.pending: NLUResult | None = None  # a doubtful stop, restart or accept waiting for "yes" or "no"
        self.draft = _Draft()
        self._set_aside: tuple = ()  # the wishes last said to be set aside (each said once)
        self._reasked: SystemPrompt | None = None  # the question a bare "yes" had asked again

    @property
    def finished(self) -> bool:
        return self.conversation.state.finished

    def greet(self) -> SystemTurn:
        return SystemTurn(GREETING)

    # ------------------------------------------------------------------ one turn
    def respond(self, text: str, *, speech_confidence: float | None = None) -> SystemTurn:
        """The system's answer to one user utterance (never raises on odd text).

        ``speech_confidence``: the speech recognizer's confidence in ``text`` (voice); the NLU's confidence is
        scaled by it, so the state's NLU-confidence features see doubtful hearing too.
        """
        if self.finished:
            self._new_conversation()
        prompt_id = self.prompt.prompt if self.prompt is not None else None
        pending, self.pending = self.pending, None
        if pending is not None:  # the answer to "Did you want to stop?"
            reply = self.nlu.parse(text, prompt=prompt_id)  # "love it but calmer" to a track is no yes
            if speech_confidence is not None:
                reply = reply.heard_with(speech_confidence)
            said = {a.act for a in reply.acts}
            content = any(a.act in (Act.INFORM, Act.DONT_CARE, Act.STOP, Act.RESTART) for a in reply.acts)
            if not said or (said & {Act.AFFIRM, Act.ACCEPT} and not content):
                if not said or reply.confidence < CONFIRM_BELOW:  # "hmm", or a doubtful yes, confirms nothing
                    self.pending = pending
                    kinds = {a.act for a in pending.acts}
                    return SystemTurn(f"Sorry, I'm still not sure. {_confirmation(kinds, prompt_id)}", nlu=reply)
                return self._understood(replace(pending, confidence=max(pending.confidence, reply.confidence)), prompt_id)
            if said & {Act.DENY, Act.REJECT} and not content:
                if Act.ACCEPT in {a.act for a in pending.acts}:  # "shall I play the whole track?" "no": turned down
                    return self._understood(replace(reply, acts=(DialogueAct(Act.REJECT),)), prompt_id)
                again = self.phraser.say(self.prompt, closeness=0.5) if self.prompt is not None else GREETING
                track = self.prompt.track if self.prompt is not None and self.prompt.prompt is PromptId.PLAY_SAMPLE else None
                return SystemTurn(f"OK, let's carry on. {again}", prompt=self.prompt, play_track=track, nlu=reply)
        result = resolve_choice(self.nlu.parse(text, prompt=prompt_id), self.prompt)
        result = resolve_relative(result, self.prompt, self._reference_decade(), self.catalog.decade_names)
        offered = self.prompt.track if self.prompt is not None else None
        result = resolve_other_artist(result, self.prompt, self.catalog.track(offered).artist if offered is not None else None)
        if speech_confidence is not None:
            result = result.heard_with(speech_confidence)
        kinds = {a.act for a in result.acts}
        ends = kinds & {Act.STOP, Act.RESTART} or (Act.ACCEPT in kinds and prompt_id in (PromptId.PLAY_SAMPLE,
                                                                                         PromptId.OFFER_STATION))
        if ends and result.confidence < CONFIRM_BELOW:  # never act blindly on a doubtful stop, restart or accept
            self.pending = result
            return SystemTurn(_confirmation(kinds, prompt_id), nlu=result)
        bare = all(a.slot is None for a in result.acts)  # a plain yes or no, naming nothing
        doubted = self._doubted(prompt_id)
        if doubted is not None and kinds in ({Act.AFFIRM}, {Act.DENY}) and bare:
            # "Did you say jazz?" "yes" (confirmed) / "no" (jazz is not it)
            slot, value = doubted
            act = DialogueAct(Act.INFORM if kinds == {Act.AFFIRM} else Act.DENY, slot, value)
            return self._understood(replace(result, acts=(act,), intent=act.act.value), prompt_id)  # as sure as the yes
        if prompt_id in ASK_PROMPTS and kinds == {Act.DENY} and bare:
            # "Any genre you fancy?" "no": nothing in particular, not a setback ("No worries, let's try another way")
            result = replace(result, acts=(DialogueAct(Act.DONT_CARE, ASK_PROMPTS[prompt_id]),), intent="dont_care",
                             sentiment=max(result.sentiment, 0.0))  # a "no" that turns nothing down is not negative
        elif prompt_id is not None and prompt_id not in _OFFERS and kinds == {Act.AFFIRM} and bare:
            # "yes" to "Calm and slow, or lively?" answers nothing: asked again once (not a new prompt), and a second
            # "yes" is taken as not minding which
            if self._reasked is not self.prompt:
                self._reasked = self.prompt
                return SystemTurn(f"Which would you like? {self.phraser.words(self.prompt)}", nlu=result)
            slot = ASK_PROMPTS.get(prompt_id)
            if slot is not None:
                result = replace(result, acts=(DialogueAct(Act.DONT_CARE, slot),), intent="dont_care")
        return self._understood(result, prompt_id)

    def _understood(self, result: NLUResult, prompt_id: PromptId | None) -> SystemTurn:
        """Carry out what was understood of one utterance (``respond`` after the confirmation check)."""
        kinds = {a.act for a in result.acts}
        if self.draft.turns:  # the answer to the last prompt
            self.draft.turns[-1] = replace(self.draft.turns[-1], acts=tuple(result.acts), sentiment=float(result.sentiment),
                                           confidence=float(result.confidence))
        if Act.STOP in kinds:
            self.conversation.observe(self.prompt, result.to_turn())
            self._close(success=False, abandoned=True)
            return SystemTurn("OK, stopping here. Thanks for listening with me!", finished=True, nlu=result)
        if Act.RESTART in kinds:
            self._close(success=False, abandoned=True)
            self._new_conversation()
            return SystemTurn("Let's start over. " + GREETING, nlu=result)
        if Act.HELP in kinds and len(result.acts) == 1:
            return SystemTurn('You can tell me a genre, an artist, a mood or what you are doing ("upbeat jazz for a '
                              'workout"), answer my questions, say "start over" or "stop".', nlu=result)
        if self.prompt is None:  # what the person said before the first prompt: the replay's starting point
            self.draft.opening = (tuple(result.acts), float(result.sentiment), float(result.confidence))
        self.conversation.observe(self.prompt, result.to_turn())
        state = self.conversation.state
        if state.accepted_track is not None:
            track = state.accepted_track
            self._close(success=True, played=track)
            what = "station" if state.station_accepted else "track"
            described = self.phraser.describe(track, state.known(Slot.GENRE))
            return SystemTurn(f"Enjoy! Playing the whole {what}: {described}.", finished=True, nlu=result)
        if state.turn >= MAX_TURNS:
            self._close(success=False, abandoned=False)
            return SystemTurn("We've been at this a while; let's take a break. Say anything to start again.",
                              finished=True, nlu=result)
        lead = bool(_PLAY_WORDS & set(tokenize(result.text))) and any(a.act is Act.INFORM for a in result.acts)
        missing = _missing_values(result, self.catalog)
        set_aside = self._set_aside_note(skip={Slot.DECADE} if missing else set())
        absent, unwanted = _absent_genres(result), _absent_genres(result, negated=True)
        # after "I have nothing that is ...", no "Great!" or "Good choice.": a wish could not be met
        turn = self._ask(result, force_play=lead, let_down=bool(missing or set_aside or absent))
        if missing:  # "the 1970s": understood, not in the catalog, relaxed
            turn.text = f"I have no music from the {' or '.join(missing)}, so I'll look across decades. {turn.text}"
        if set_aside:  # "jazz from the 80s": no such track, so a wish was let go of; said, never silently
            turn.text = f"{set_aside} {turn.text}"
        relative = [e for e in result.entities if e.get("relative_to")]
        if relative:  # "something older": say which decade that was taken to mean
            decade, reference = relative[0]["value"], relative[0]["relative_to"]
            turn.text = f"The {decade} then, {'older' if decade < reference else 'newer'} than the {reference}. {turn.text}"
        if absent:  # "blues please": a genre this catalog lacks, said so (the NLU acted on none of it)
            genres = self.catalog.genre_names
            turn.text = (f"I have no {' or '.join(absent)} here; my genres are {', '.join(genres[:-1])} and {genres[-1]}. "
                         f"{turn.text}")
        elif unwanted:  # "anything but blues": granted, as there is none here
            turn.text = f"No {' or '.join(unwanted)} then (there is none here anyway). {turn.text}"
        return turn

    def _doubted(self, prompt_id: PromptId | None) -> tuple[Slot, str] | None:
        """(slot, value) when ``prompt_id`` asks for a slot whose value was heard with too little confidence to
        settle it: the question is then asked as "Did you say jazz?" (``_ask``)."""
        slot = ASK_PROMPTS.get(prompt_id) if prompt_id is not None else None
        belief = self.conversation.state.beliefs.get(slot) if slot is not None else None
        if belief is None or belief.dont_care or belief.value is None or belief.confidence >= CONFIDENT:
            return None
        return slot, belief.value

    def _set_aside_note(self, *, skip: set) -> str | None:
        """What the candidates leave out of what the person asked for when no track matches it all (the view's
        relaxed slots that hold a wish), in words, each wish once: "I have nothing that is rock and from the 1980s,
        so I'll look across decades." None when nothing new was set aside. ``skip``: slots already told of."""
        state, view = self.conversation.state, self.conversation.view()
        dropped = tuple((slot, state.known(slot)) for slot in view.relaxed if state.known(slot) is not None)
        said, self._set_aside = self._set_aside, dropped
        new = [(slot, value) for slot, value in dropped if (slot, value) not in said and slot not in skip]
        if not new:
            return None
        every = _and([_wish(slot, value) for slot in Slot if (value := state.known(slot)) is not None])
        return f"I have nothing that is {every}, so I'll {_and([_RELAXED[slot].format(value) for slot, value in new])}."

    def _reference_decade(self) -> str | None:
        """What "something older" is older than: the decade of the track just offered, else the decade asked for."""
        prompt = self.prompt
        if prompt is not None and prompt.track is not None and prompt.prompt in _OFFERS:
            code = int(self.catalog.decade[prompt.track])
            if code >= 0:
                return self.catalog.decade_names[code]
        return self.conversation.state.known(Slot.DECADE)

    def _ask(self, result: NLUResult, *, force_play: bool = False, let_down: bool = False) -> SystemTurn:
        """The next prompt, chosen by the policy (or a sample when the person led), in words. ``let_down``: the reply
        first says a wish could not be met, so its opener is never an upbeat one."""
        conv = self.conversation
        features = self.featurizer(conv)
        mask = conv.valid_mask()
        policy_features = features if self.variant is FeatureVariant.HISTORY else features[: self.n_base]
        probs = np.asarray(self.policy.probabilities(policy_features, mask), dtype=np.float64)
        play = prompt_index(PromptId.PLAY_SAMPLE)
        forced = bool(force_play and mask[play])
        if forced:  # the person led ("play some jazz"): not the policy's choice, so served with certainty
            decision = Decision(play, 1.0)
            probs = np.zeros_like(probs)
            probs[play] = 1.0
        else:
            decision = sample_prompt(probs, self.rng)
        prompt, previous = conv.realize(decision.prompt), self.prompt
        self.draft.turns.append(TurnRecord(prompt, probs.astype(np.float32), mask.copy(), decision.probability, features.copy(),
                                           forced=forced))
        self.prompt = prompt
        view = conv.view()
        affinity = None
        if conv.profile is not None and view.n_candidates:
            affinity = float(self.scorer.affinity(conv.profile, view.ranking.indices[:1])[0])
        closeness = goal_closeness(conv.state.sentiments, conv.state.confidences,
                                   candidate_match(view.n_candidates, self.catalog.n, affinity))
        doubted = self._doubted(prompt.prompt)
        if doubted is not None:  # "jazz then" heard at 0.69: ask about it, not as if nothing was said
            question = self.phraser.words(prompt)
            text = f"Did you say {_wish(*doubted)}? If not, {question[0].lower()}{question[1:]}"
        else:
            text = self.phraser.say(prompt, closeness=min(closeness, HIGH_TONE) if let_down else closeness,
                                    last_acts=result.acts, offered=previous is not None and previous.prompt in _OFFERS,
                                    genre=view.constraints.genre)
        play_track = prompt.track if prompt.prompt is PromptId.PLAY_SAMPLE else None
        return SystemTurn(text, prompt=prompt, play_track=play_track, nlu=result, closeness=closeness)

    def _close(self, *, success: bool, abandoned: bool = False, played: int | None = None) -> None:
        """End the conversation: label its prompts and hand it to the sink (once)."""
        draft = self.draft
        if draft.closed:
            return
        draft.closed = True
        if not draft.turns or self.sink is None:
            return
        turns = tuple(draft.turns)
        labels = label_usefulness([(r.prompt, r.acts) for r in turns], played, self.catalog, self.profile)
        acts, sentiment, confidence = draft.opening
        self.sink.add(ConversationRecord(turns=turns, labels=tuple(float(x) for x in labels), success=success,
                                         abandoned=abandoned, truncated=not (success or abandoned), played_track=played,
                                         opening=acts, opening_sentiment=sentiment, opening_confidence=confidence))

    def end(self) -> None:
        """The person left (EOF): an unfinished conversation counts as abandoned."""
        if not self.finished and not self.draft.closed:
            self._close(success=False, abandoned=True)


def _confirmation(kinds: set[Act], prompt: PromptId | None) -> str:
    if Act.STOP in kinds:
        return "Sorry, did you want to stop? (yes or no)"
    if Act.RESTART in kinds:
        return "Did you want to start over? (yes or no)"
    what = "station" if prompt is PromptId.OFFER_STATION else "track"
    return f"Just to be sure: shall I play the whole {what}? (yes or no)"


def _missing_values(result: NLUResult, catalog: Catalog) -> list[str]:
    """Decades the person asked for that the catalog has no track of."""
    have = set(catalog.decade_names)
    return [a.value for a in result.acts if a.act is Act.INFORM and a.slot is Slot.DECADE and a.value and a.value not in have]


#: what setting a wish aside means, per slot
_RELAXED = {Slot.DECADE: "look across decades", Slot.ARTIST: "look beyond {}", Slot.GENRE: "look across genres",
            Slot.ENERGY: "let the energy vary", Slot.MOOD: "let the mood vary", Slot.ACTIVITY: "look beyond music for {}",
            Slot.FAMILIARITY: "mix the familiar and the new"}


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _wish(slot: Slot, value: str) -> str:
    """A slot value as said in a sentence: "jazz", "laid back", "from the 1980s", "by Kevin MacLeod", "for workout"."""
    if slot is Slot.DECADE:
        return f"from the {value}"
    if slot is Slot.ARTIST:
        return f"by {value}"
    if slot is Slot.ACTIVITY:
        return f"for {value}"
    if slot is Slot.FAMILIARITY:
        return "familiar" if value == "familiar" else "new to you"
    return value.replace("_", " ")


def _absent_genres(result: NLUResult, *, negated: bool = False) -> list[str]:
    """Well-known genres the person named that the catalog does not hold (the NLU's entities marked
    ``in_catalog: False``), each once, in the order said: those asked for, or with ``negated`` those refused
    ("anything but blues")."""
    return list(dict.fromkeys(e["value"] for e in result.entities
                              if e.get("in_catalog") is False and bool(e.get("negated", False)) is negated))
