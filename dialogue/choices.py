"""Answers that refer to what the conversation offered: "the first one", "the latter", "number two"; "something older".

After "Electronic? Or maybe pop?" the NLU sees only words; which genre "the second one" means is in the prompt's
arguments, so the dialogue manager resolves it here, before the state tracker sees the answer. Likewise which decade
"something older" means depends on the track just played (or the decade asked for before): ``resolve_relative``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .acts import Act, DialogueAct, Slot
from .nlu import NLUResult
from .nlu.normalize import normalize
from .prompts import PromptId, SystemPrompt

__all__ = ["resolve_choice", "resolve_relative", "resolve_other_artist"]

_FIRST = re.compile(r"\b(?:first|former|1st|number one|option one|option 1|no\.? ?1|the one before|earlier one|left one)\b")
_SECOND = re.compile(r"\b(?:second|latter|2nd|last one|the last|number two|option two|option 2|no\.? ?2|other one|"
                     r"the other|right one|later one)\b")
_NEITHER = re.compile(r"\b(?:neither|none|not (?:the )?(?:first|second|either))\b")


def resolve_choice(result: NLUResult, prompt: SystemPrompt | None) -> NLUResult:
    """``result`` with an ordinal reference to the prompt's offered genres made an ``inform`` of that genre.

    Only after ``suggest_genres`` with at least two genres, when the answer names no genre itself and is not a
    refusal ("neither"). Otherwise ``result`` unchanged.
    """
    if prompt is None or prompt.prompt is not PromptId.SUGGEST_GENRES or len(prompt.genres) < 2:
        return result
    if any(a.slot is Slot.GENRE and a.act is Act.INFORM for a in result.acts):
        return result
    text = normalize(result.text)
    if _NEITHER.search(text):
        return result
    first, second = _FIRST.search(text), _SECOND.search(text)
    if bool(first) == bool(second):
        return result
    genre = prompt.genres[0] if first else prompt.genres[1]
    kept = tuple(a for a in result.acts if a.act not in (Act.AFFIRM, Act.DENY, Act.ACCEPT, Act.REJECT, Act.DONT_CARE))
    return replace(result, acts=(DialogueAct(Act.INFORM, Slot.GENRE, genre), *kept), intent="inform",
                   confidence=max(result.confidence, 0.8))


#: prompts that offer a track: an answer to them about something else turns the track down
_TRACK_PROMPTS = (PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION)


def _content(acts) -> tuple:
    """The acts of an answer that say what the person wants, without its yes, no or "another one"."""
    return tuple(a for a in acts if a.act not in (Act.AFFIRM, Act.DENY, Act.ACCEPT, Act.REJECT, Act.DONT_CARE,
                                                  Act.REQUEST_ALTERNATIVE))


_OLDER = re.compile(r"\b(?:older|more vintage|more retro|less recent|less modern)\b")
_NEWER = re.compile(r"\b(?:newer|more recent|more modern|more current|less old|more contemporary)\b")


def resolve_relative(result: NLUResult, prompt: SystemPrompt | None, reference: str | None,
                     decades: tuple[str, ...]) -> NLUResult:
    """``result`` with "something older" / "newer" made an ``inform`` of the catalog's nearest decade before / after
    ``reference``.

    The decade is also added to ``entities`` with ``relative_to``: the reference (the chat says what it took).
    ``reference``: the decade of the track just offered, else the decade asked for so far (None: nothing to compare
    with, ``result`` unchanged). ``decades``: the catalog's decades ("1990s", ...). Said to a track ("yes but
    older") the track is turned down. Unchanged when the answer names a decade itself, says both or neither word, or
    there is no decade on that side of ``reference`` in the catalog.
    """
    if reference is None or any(a.slot is Slot.DECADE and a.act is Act.INFORM for a in result.acts):
        return result
    text = normalize(result.text)
    older, newer = bool(_OLDER.search(text)), bool(_NEWER.search(text))
    if older == newer or reference not in decades:
        return result
    ordered = sorted(decades)
    at = ordered.index(reference)
    if (older and at == 0) or (newer and at == len(ordered) - 1):
        return result
    decade = ordered[at - 1] if older else ordered[at + 1]
    to_track = prompt is not None and prompt.prompt in _TRACK_PROMPTS
    head = (DialogueAct(Act.REJECT),) if to_track else ()
    said = (_OLDER if older else _NEWER).search(text).group(0)
    entity = {"slot": str(Slot.DECADE), "value": decade, "text": said, "score": 1.0, "relative_to": reference}
    acts = (*head, DialogueAct(Act.INFORM, Slot.DECADE, decade), *_content(result.acts))
    return replace(result, acts=acts, intent="inform", confidence=max(result.confidence, 0.8),
                   entities=(*result.entities, entity))


_OTHER_ARTIST = re.compile(r"\b(?:another|a different|other|different|some other|a new) (?:artist|band|singer|musician|group)s?\b|"
                           r"\b(?:someone|somebody) else\b|\bnot (?:this|that|the same) (?:artist|band|singer|group)\b")


def resolve_other_artist(result: NLUResult, prompt: SystemPrompt | None, artist: str | None) -> NLUResult:
    """``result`` with "something by another artist" / "someone else", said to a track by ``artist``, made a turn-down
    of the track and of its artist (``deny(artist=...)``: the artist leaves the candidates). Unchanged for any other
    prompt, when ``artist`` is None, or when the answer names an artist itself."""
    if prompt is None or prompt.prompt not in _TRACK_PROMPTS or artist is None:
        return result
    if any(a.slot is Slot.ARTIST for a in result.acts) or not _OTHER_ARTIST.search(normalize(result.text)):
        return result
    acts = (DialogueAct(Act.REJECT), DialogueAct(Act.DENY, Slot.ARTIST, artist), *_content(result.acts))
    return replace(result, acts=acts, intent="reject", confidence=max(result.confidence, 0.8))
