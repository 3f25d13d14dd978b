import numpy as np
import pytest

from dialogue.acts import Act, DialogueAct, Slot, UserTurn
from dialogue.context import Conversation
from dialogue.prompts import N_PROMPTS, PROMPTS, PromptId, SystemPrompt, prompt_index
from dialogue.state import CONFIDENT
from recommender.history import HistoryProfile


def turn(*acts, confidence=0.9, sentiment=0.3):
    return UserTurn(tuple(acts), sentiment=sentiment, confidence=confidence)


def inform(slot, value):
    return DialogueAct(Act.INFORM, Slot(slot), value)


@pytest.fixture
def conv(catalog):
    rng = np.random.default_rng(0)
    profile = HistoryProfile(catalog, rng.choice(np.flatnonzero(catalog.mask("genre", "rock")), 50))
    return Conversation(catalog, profile=profile)


def test_tracker_table(conv):
    state = conv.state
    conv.observe(None, turn(DialogueAct(Act.GREET), inform("genre", "jazz")))
    assert state.known(Slot.GENRE) == "jazz" and state.turn == 0
    conv.observe(SystemPrompt(PromptId.ASK_ENERGY), turn(DialogueAct(Act.DONT_CARE, Slot.ENERGY)))
    assert state.settled(Slot.ENERGY) and state.known(Slot.ENERGY) is None
    conv.observe(SystemPrompt(PromptId.SUGGEST_GENRES, genres=("rock", "pop")), turn(DialogueAct(Act.DENY)))
    assert state.denied_genres == {"rock", "pop"} and state.known(Slot.GENRE) == "jazz"
    conv.observe(SystemPrompt(PromptId.SUGGEST_GENRES, genres=("folk", "world")), turn(DialogueAct(Act.AFFIRM)))
    assert state.known(Slot.GENRE) == "folk"  # a bare yes takes the first suggestion
    conv.observe(SystemPrompt(PromptId.PLAY_SAMPLE, track=12), turn(DialogueAct(Act.REJECT), inform("energy", "upbeat")))
    assert state.rejected_tracks == {12} and state.n_rejected == 1 and state.known(Slot.ENERGY) == "upbeat"
    assert state.user_led == 1  # volunteered energy in answer to a sample
    conv.observe(SystemPrompt(PromptId.PLAY_SAMPLE, track=40), turn(DialogueAct(Act.ACCEPT)))
    assert state.accepted_track == 40 and state.finished
    assert state.turn == 5 and state.asked[prompt_index("play_sample")] == 2


def test_restart_and_stop(conv):
    conv.observe(None, turn(inform("genre", "rock")))
    conv.observe(SystemPrompt(PromptId.ASK_MOOD), turn(DialogueAct(Act.RESTART)))
    assert not conv.state.beliefs
    conv.observe(SystemPrompt(PromptId.ASK_MOOD), turn(DialogueAct(Act.STOP)))
    assert conv.state.stopped and conv.state.finished and conv.state.accepted_track is None


def test_masks(conv):
    mask = conv.valid_mask()
    assert mask.dtype == bool and mask.shape == (N_PROMPTS,)
    assert mask[prompt_index("open")] and mask[prompt_index("play_sample")]
    assert not mask[prompt_index("offer_station")]  # nothing known yet
    conv.observe(SystemPrompt(PromptId.OPEN), turn(inform("energy", "upbeat"), confidence=0.4))
    mask = conv.valid_mask()
    assert not mask[prompt_index("open")]
    assert mask[prompt_index("ask_energy")]  # known, but not confidently: may be confirmed
    assert mask[prompt_index("offer_station")]
    conv.observe(SystemPrompt(PromptId.ASK_ENERGY), turn(inform("energy", "upbeat"), confidence=CONFIDENT + 0.1))
    mask = conv.valid_mask()
    assert not mask[prompt_index("ask_energy")]
    for _ in range(3):
        conv.observe(SystemPrompt(PromptId.SUGGEST_GENRES, genres=("rock", "pop")), turn(DialogueAct(Act.DENY)))
    assert not conv.valid_mask()[prompt_index("suggest_genres")]  # asked its maximum


def test_contradictory_constraints_are_relaxed(conv):
    conv.observe(None, turn(inform("genre", "classical"), inform("energy", "upbeat"), inform("mood", "intense"), inform("decade", "1920s")))
    view = conv.view()
    assert view.n_candidates > 0 and view.relaxed
    for index in view.ranking.indices:
        assert view.constraints.satisfied_by(conv.catalog, int(index), conv.profile)
    assert conv.valid_mask()[prompt_index("play_sample")]


def test_realize_fills_arguments(conv, catalog):
    genres = conv.realize(prompt_index("suggest_genres"))
    assert len(genres.genres) == 2 and all(g in catalog.genre_values for g in genres.genres)
    sample = conv.realize(PromptId.PLAY_SAMPLE)
    assert sample.track == int(conv.view().ranking.indices[0])
    artist = conv.realize(PromptId.SUGGEST_ARTIST)
    assert artist.artist is not None and catalog.artist_code(artist.artist) >= 0
    assert conv.realize(PromptId.ASK_MOOD) == SystemPrompt(PromptId.ASK_MOOD)
    assert [p.id for p in PROMPTS][genres.index] is PromptId.SUGGEST_GENRES


def test_a_sample_not_taken_is_not_offered_again(conv):
    """"play some pop", then "whatever" three times offered the same track again and again (a helper's finding): a
    track answered with anything but acceptance leaves the candidates; only a "no" counts as a rejection."""
    conv.observe(None, UserTurn((DialogueAct(Act.INFORM, Slot.GENRE, "pop"),), confidence=0.9))
    first = conv.realize(PromptId.PLAY_SAMPLE)
    conv.observe(first, UserTurn((DialogueAct(Act.DONT_CARE),), confidence=0.9))
    second = conv.realize(PromptId.PLAY_SAMPLE)
    assert second.track != first.track and first.track in conv.state.constraints().excluded_tracks
    assert conv.state.n_rejected == 0 and conv.state.accepted_track is None
    conv.observe(second, UserTurn((DialogueAct(Act.REJECT),), confidence=0.9))
    assert conv.state.n_rejected == 1
    third = conv.realize(PromptId.PLAY_SAMPLE)
    conv.observe(third, UserTurn((DialogueAct(Act.ACCEPT),), confidence=0.9))
    assert conv.state.accepted_track == third.track and third.track not in conv.state.rejected_tracks
