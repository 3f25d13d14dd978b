"""Answers that pick one of the options a prompt offered: "the first one", "the latter", "number two".

After "Electronic? Or maybe pop?" the NLU sees only words; which genre "the second one" means is in the prompt's
arguments, so the dialogue manager resolves it here, before the state tracker sees the answer.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .acts import Act, DialogueAct, Slot
from .nlu import NLUResult
from .nlu.normalize import normalize
from .prompts import PromptId, SystemPrompt

__all__ = ["resolve_choice"]

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
