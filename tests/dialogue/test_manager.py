import numpy as np
import pytest

from dialogue.manager import DialogueManager
from dialogue.nlu.channel import TextChannel
from dialogue.nlu.embedded import EmbeddedNLU
from dialogue.phrasing import Phraser, goal_closeness
from dialogue.prompts import PromptId, SystemPrompt
from dialogue.records import ConversationBuffer
from logs.schema import log_schema
from logs.writer import conversations_table
from policy.registry import load_policy
from recommender.scorer import BaselineScorer


@pytest.fixture(scope="module")
def parts(catalog):
    policy, variant = load_policy("rule", catalog=catalog)
    return EmbeddedNLU.for_catalog(catalog), policy, variant


def manager(catalog, parts, seed=0):
    nlu, policy, variant = parts
    return DialogueManager(catalog, nlu=nlu, policy=policy, variant=variant, scorer=BaselineScorer(catalog), seed=seed,
                           sink=ConversationBuffer())


def logged(m):
    """The manager's finished conversations as the log table (through the one writer in logs/)."""
    layout = m.featurizer.layout
    conversations = m.sink.conversations
    return conversations_table(conversations, n_base=layout.n_base, n_history=layout.n_history, ids=range(len(conversations))), len(conversations)


def test_a_scripted_conversation_reaches_a_played_sample_and_is_logged(catalog, parts, tmp_path):
    m = manager(catalog, parts)
    turn = m.respond("upbeat jazz please")
    for _ in range(12):
        if turn.prompt is not None and turn.prompt.prompt is PromptId.PLAY_SAMPLE:
            break
        turn = m.respond("yes")
    assert turn.play_track is not None and catalog.track(turn.play_track).energy == "upbeat"
    assert catalog.has_genre(turn.play_track, "jazz")
    done = m.respond("yes, I love it")
    assert done.finished and "Enjoy" in done.text and m.sink.conversations[-1].success
    table, n = logged(m)
    assert n == 1 and table.schema.equals(log_schema(m.n_base, m.featurizer.layout.size - m.n_base))
    rows = table.to_pylist()
    assert all(0 < r["propensity"] <= 1 for r in rows) and rows[-1]["prompt"] == "play_sample"
    assert rows[-1]["user_acts"] == [{"act": "accept", "slot": None, "value": None}]
    assert sum(r["reward"] for r in rows) >= 1 and all(r["success"] for r in rows)
    assert {"act": "inform", "slot": "genre", "value": "jazz"} in rows[0]["opening_acts"]  # what a replay starts from
    assert not any(r["forced"] for r in rows)
    from logs.manifest import LogManifest, LogSource, SessionSettings
    from logs.store import read_part
    from logs.writer import ConversationLog

    layout = m.featurizer.layout
    log = ConversationLog(tmp_path, LogManifest(LogSource.CHAT, layout.version, layout.names, layout.n_base,
                                                catalog.fingerprint, "rule", session=SessionSettings("embedded", "rule")))
    for conversation in m.sink.conversations:
        log.add(conversation)
    path, n_logged, turns = log.close()
    assert (n_logged, turns) == (1, len(rows))
    assert read_part(path).num_rows == len(rows)  # valid: schema, propensities, prompts, features, turn order


def test_the_person_can_lead_restart_and_stop(catalog, parts):
    m = manager(catalog, parts)
    turn = m.respond("play some rock")
    assert turn.prompt.prompt is PromptId.PLAY_SAMPLE and catalog.has_genre(turn.play_track, "rock")
    turn = m.respond("start over")
    assert "start over" in turn.text.lower() and m.conversation.state.beliefs == {}
    assert m.sink.conversations[0].abandoned
    turn = m.respond("stop")
    assert turn.finished and m.conversation.state.stopped


def test_help_and_nonsense_never_break_it(catalog, parts):
    m = manager(catalog, parts)
    assert "genre" in m.respond("help").text
    for text in ("", "???", "\x00" * 10, "x" * 100_000, "jazz " * 1000):
        assert m.respond(text).text


def test_phrasing_varies_and_follows_closeness(catalog):
    p = Phraser(catalog, seed=1)
    texts = [p.say(SystemPrompt(PromptId.ASK_ENERGY), closeness=0.5) for _ in range(4)]
    assert len(set(texts)) == 4
    assert goal_closeness([0.8, 0.9], [0.95], 0.9) > 0.68 > 0.4 > goal_closeness([-0.6, -0.5], [0.3], 0.1)
    low = p.say(SystemPrompt(PromptId.ASK_GENRE), closeness=0.1)
    assert any(w in low for w in ("Sorry", "No worries", "Hmm", "Fair enough", "OK, something else"))


def test_simulated_user_in_text_runs_the_whole_stack(catalog):
    from simulator.env import MusicUserEnv

    channel = TextChannel(EmbeddedNLU.for_catalog(catalog), catalog)
    env = MusicUserEnv(catalog=catalog, features="history", channel=channel)
    rng = np.random.default_rng(0)
    successes = 0
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        while True:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, _, done, trunc, info = env.step(action)
            assert channel.last_text
            if done or trunc:
                successes += info["success"]
                break
    assert successes > 0


def test_speech_confidence_scales_the_nlu_confidence_the_state_sees(catalog, parts):
    heard, typed = manager(catalog, parts), manager(catalog, parts)
    a = typed.respond("upbeat jazz please")
    b = heard.respond("upbeat jazz please", speech_confidence=0.25)
    assert b.nlu.acts == a.nlu.acts and b.nlu.confidence == pytest.approx(0.25 * a.nlu.confidence, abs=1e-4)
    assert heard.conversation.state.confidences[-1] == pytest.approx(b.nlu.confidence, abs=1e-4)
    assert heard.respond("yes", speech_confidence=7.0).nlu.confidence <= 1.0  # clipped to [0, 1]
    assert heard.respond("yes", speech_confidence=-1.0).nlu.confidence == 0.0


def test_voice_session_survives_a_microphone_that_vanishes(catalog, parts, tmp_path):
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from dialogue.speech.asr import Recognizer
    from dialogue.speech.audio import Speaker, VoiceError, read_wav
    from dialogue.speech.session import VoiceSession
    from dialogue.speech.tts import synthesize

    def utterances():
        yield synthesize("play some jazz", voice="en-us+f2")
        raise VoiceError("the microphone stopped (PortAudioError); the conversation so far is kept")

    m = manager(catalog, parts)
    shown = []
    speaker = Speaker(wav=tmp_path / "out.wav", device=False)
    session = VoiceSession(m, Recognizer(catalog), speaker, catalog=catalog, voice="en-us", show=lambda who, t: shown.append((who, t)))
    session.run(utterances())  # returns; does not raise
    speaker.close()
    assert shown[0][0] == "segue" and shown[-1] == ("note", "the microphone stopped (PortAudioError); the conversation so far is kept")
    assert session.heard[0].recognition.text == "play some jazz"
    assert m.prompt is not None and m.prompt.prompt is PromptId.PLAY_SAMPLE  # "play ..." leads to a sample
    assert 0 < session.heard[0].nlu.confidence <= session.heard[0].recognition.confidence
    x, rate = read_wav(tmp_path / "out.wav")
    assert len(x) / rate > 5.0  # greeting + "How about this?" + the 4 s snippet
    m.end()
    table, n = logged(m)
    assert n == 1 and table.num_rows == 1
