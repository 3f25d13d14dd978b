import numpy as np
import pytest

from dialogue.acts import Act, DialogueAct, Slot
from dialogue.prompts import PromptId, SystemPrompt
from dialogue.usefulness import label_usefulness
from recommender.history import HistoryProfile
from recommender.vocab import ENERGIES, MOODS

A = DialogueAct


def inform(slot, value):
    return A(Act.INFORM, Slot(slot), value)


@pytest.fixture(scope="module")
def played(catalog):
    # an upbeat electronic track with a known mood and style
    candidates = np.flatnonzero(catalog.mask("genre", "electronic") & catalog.mask("energy", "upbeat") & (catalog.mood >= 0)
                                & (np.diff(catalog.style_indptr) > 0))
    return int(candidates[0])


def test_labeller_table(catalog, played):
    track = catalog.track(played)
    style = track.styles[0]
    other_track = int(np.flatnonzero(~catalog.mask("genre", "electronic"))[0])
    mood = track.mood
    wrong_mood = next(m for m in MOODS if m != mood)
    history = HistoryProfile(catalog, np.array([played, played]))  # the played artist is familiar
    P = SystemPrompt
    cases = [
        # (prompt, understood answer, expected label)
        (P(PromptId.OPEN), [A(Act.GREET), inform("genre", "electronic")], 1),
        (P(PromptId.OPEN), [A(Act.DONT_CARE)], 0),
        (P(PromptId.ASK_ENERGY), [inform("energy", "upbeat")], 1),
        (P(PromptId.ASK_ENERGY), [inform("energy", "laid_back")], 0),
        (P(PromptId.ASK_ENERGY), [A(Act.DONT_CARE, Slot.ENERGY)], 0),
        (P(PromptId.ASK_GENRE), [inform("genre", style)], 1),
        (P(PromptId.ASK_GENRE), [inform("genre", "jazz")], 0),
        (P(PromptId.ASK_MOOD), [inform("mood", mood)], 1),
        (P(PromptId.ASK_MOOD), [inform("mood", wrong_mood)], 0),
        (P(PromptId.ASK_DECADE), [inform("decade", track.decade)], 1),
        (P(PromptId.ASK_ACTIVITY), [inform("activity", "workout")], 1),
        (P(PromptId.ASK_ACTIVITY), [inform("activity", "sleep")], 0),
        (P(PromptId.ASK_FAMILIARITY), [inform("familiarity", "familiar")], 1),
        (P(PromptId.ASK_FAMILIARITY), [inform("familiarity", "new")], 0),
        (P(PromptId.SUGGEST_GENRES, genres=("rock", "electronic")), [A(Act.AFFIRM), inform("genre", "electronic")], 1),
        (P(PromptId.SUGGEST_GENRES, genres=("rock", "electronic")), [A(Act.AFFIRM)], 1),
        (P(PromptId.SUGGEST_GENRES, genres=("rock", "jazz")), [A(Act.DENY)], 0),
        (P(PromptId.SUGGEST_ARTIST, artist=track.artist), [A(Act.AFFIRM)], 1),
        (P(PromptId.SUGGEST_ARTIST, artist="Nobody"), [A(Act.AFFIRM)], 0),
        (P(PromptId.PLAY_SAMPLE, track=other_track), [A(Act.REJECT), inform("energy", "upbeat")], 1),
        (P(PromptId.PLAY_SAMPLE, track=other_track), [A(Act.REJECT)], 0),
        (P(PromptId.PLAY_SAMPLE, track=played), [A(Act.ACCEPT)], 1),
    ]
    labels = label_usefulness([(p, acts) for p, acts, _ in cases], played, catalog, history)
    assert labels == [expected for _, _, expected in cases]
    assert ENERGIES[catalog.energy[played]] == "upbeat"


def test_everything_is_zero_when_nothing_was_played(catalog, played):
    turns = [(SystemPrompt(PromptId.ASK_ENERGY), [inform("energy", "upbeat")]),
             (SystemPrompt(PromptId.PLAY_SAMPLE, track=played), [A(Act.REJECT)])]
    assert label_usefulness(turns, None, catalog) == [0, 0]
    assert label_usefulness([], None, catalog) == []


def test_familiarity_needs_a_history(catalog, played):
    turns = [(SystemPrompt(PromptId.ASK_FAMILIARITY), [inform("familiarity", "familiar")])]
    assert label_usefulness(turns, played, catalog, None) == [0]
