"""Whisper tiny.en beside pocketsphinx: the pinned model, its transcripts, and the per-utterance choice."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from dialogue.prompts import PromptId
from dialogue.speech.asr import Recognition
from dialogue.speech.audio import VoiceError, read_wav
from dialogue.speech.choose import (
    MEANING_CALIBRATION,
    WEIGHTS,
    CombinedRecognizer,
    confidence_inputs,
    make_recognizer,
    meaning_confidence,
    score_candidates,
    word_agreement,
)
from dialogue.speech.wer import normalized_words, strict_words, word_accuracy
from dialogue.speech.whisper import MODEL_SHA256, WhisperRecognizer, _verify, clean_text, model_dir

CLIPS = Path(__file__).resolve().parent / "data" / "real_speech"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make test installs it as root)")


def test_clean_text_writes_whisper_as_segue_does():
    assert clean_text(" Give me Drum & Bass, please!") == "give me drum & bass please"
    assert clean_text("I\u2019m done. Thanks...") == "i'm done thanks"
    assert clean_text("Lo-fi from the '80s?") == "lo-fi from the 80s"
    assert clean_text(" ... ") == ""


def test_normalization_for_word_accuracy():
    assert normalized_words("Um, play my favourite 80s songs") == ["play", "my", "favorite", "1980s", "songs"]
    assert normalized_words("music from the nineteen eighties") == normalized_words("music from the 80s")
    assert normalized_words("go forward 10 meters") == ["go", "forward", "ten", "meters"]
    assert normalized_words("something laid back") == ["something", "laidback"]
    assert strict_words("um okay laid back") == ["um", "ok", "laidback"]
    assert word_accuracy([("play some jazz", "play some jazz")]) == 1.0
    assert word_accuracy([("play some jazz", "play jazz please"), ("yes", "yes")]) == pytest.approx(1 - 2 / 4)


def test_the_model_files_are_pinned(tmp_path):
    folder = model_dir()
    assert set(MODEL_SHA256) <= {p.name for p in folder.iterdir()}
    _verify(folder)  # the installed package matches the pinned hashes
    for name in MODEL_SHA256:
        (tmp_path / name).write_bytes(b"not the model")
    with pytest.raises(VoiceError, match=r"has sha256 .* expected"):
        _verify(tmp_path)
    (tmp_path / "model.bin").unlink()
    with pytest.raises(VoiceError, match="missing"):
        _verify(tmp_path)


@pytest.fixture(scope="module")
def whisper():
    return WhisperRecognizer()


@pytest.fixture(scope="module")
def pocketsphinx(catalog):
    from dialogue.speech.asr import Recognizer

    return Recognizer(catalog)


def test_real_recordings_are_heard(whisper):
    """Five real recordings (tests/dialogue/data/real_speech, BSD-2 / public domain): Whisper hears real speech."""
    pairs = []
    for line in (CLIPS / "transcripts.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            file, said = line.split("\t")
            samples, rate = read_wav(CLIPS / file)
            heard = whisper.recognize(samples, rate)
            assert 0.0 <= heard.confidence <= 1.0 and heard.engine == "whisper"
            assert [t for t, _ in heard.alternatives][0] == heard.text
            scores = [s for _, s in heard.alternatives]
            assert scores == sorted(scores, reverse=True)  # n-best, best first
            pairs.append((said, heard.text))
    assert word_accuracy(pairs) >= 0.9, pairs  # 1.0 when measured


def test_silence_is_not_a_request(whisper):
    heard = whisper.recognize(np.zeros(16_000, np.float32), 16_000)
    assert heard.text == "" or heard.no_speech > 0.5 or heard.confidence < 0.5


@needs_espeak
def test_synthesized_requests_are_transcribed(whisper):
    from dialogue.speech.tts import synthesize

    said = ["could you put on some jazz while i cook", "i need music to help me focus on my homework", "no thanks",
            "give me energetic drum and bass for the gym"]
    pairs = [(t, whisper.recognize(*synthesize(t, voice="en-us+f2", speed=160)).text) for t in said]
    assert word_accuracy(pairs) >= 0.8, pairs


@needs_espeak
def test_narrow_band_speech_is_heard(whisper):
    """../shared/cases/voice/voice_8k_upbeat.wav: 8 kHz speech was nonsense to pocketsphinx; Whisper hears it."""
    from dialogue.speech.audio import resample
    from dialogue.speech.tts import synthesize

    x, rate = synthesize("something upbeat please", voice="en-us+f2", speed=150)
    heard = whisper.recognize(resample(x, rate, 8_000), 8_000)
    assert heard.text == "something upbeat please", heard.alternatives


def _rec(text, confidence, alternatives=(), engine="pocketsphinx"):
    return Recognition(text, confidence, 0.1, 1.0, engine=engine, alternatives=tuple(alternatives))


def test_candidates_are_scored_by_the_documented_features(pocketsphinx):
    lm = pocketsphinx.language_model
    ps = _rec("something calm for a rainy afternoon", 0.05)
    wh = _rec("something come for a rainy afternoon", 0.6, [("something come for a rainy afternoon", -0.5),
                                                           ("something calm for a rainy afternoon", -0.7)], "whisper")
    cands = score_candidates(ps, wh, lm=lm, parses=lambda t: "calm" in t)
    assert [c.text for c in cands] == ["something calm for a rainy afternoon", "something come for a rainy afternoon"]
    best = cands[0].features
    assert best == pytest.approx({"whisper": -0.7, "in_whisper": 1.0, "pocketsphinx": 0.05,
                                  "agreement": 1.0, "domain_lm": lm.logprob("something calm for a rainy afternoon".split()) / 7,
                                  "parses": 1.0})
    assert cands[1].features["agreement"] == pytest.approx(1 - 1 / 6)  # one word of six differs from pocketsphinx's
    assert cands[0].score == pytest.approx(sum(WEIGHTS[k] * v for k, v in best.items()))
    # a pocketsphinx hypothesis Whisper did not propose: scored below Whisper's last by the margin
    only = score_candidates(_rec("play some jazz", 0.3), _rec("please some chairs", 0.4, [("please some chairs", -0.9)], "whisper"),
                            lm=None, parses=lambda t: True)
    ps_only = next(c for c in only if c.text == "play some jazz")
    assert ps_only.features["in_whisper"] == 0.0 and ps_only.features["whisper"] == pytest.approx(-1.1)
    assert word_agreement("play some jazz", "please some chairs") == pytest.approx(1 / 3)
    assert score_candidates(_rec("", 0.0), _rec("", 0.0, (), "whisper"), lm=None, parses=bool) == []


def test_the_choice_keeps_real_speech_whisper_heard(catalog, whisper, pocketsphinx):
    """Out of the domain, pocketsphinx's language model forces domain words; the choice keeps Whisper's."""
    combined = CombinedRecognizer(catalog, whisper=whisper, pocketsphinx=pocketsphinx)
    samples, rate = read_wav(CLIPS / "goforward_ten_meters.wav")
    heard = combined.recognize(samples, rate)
    assert normalized_words(heard.text) == ["go", "forward", "ten", "meters"]
    assert heard.engine == "combined:whisper" and set(combined.last) == {"pocketsphinx", "whisper"}
    best = combined.last_candidates[0].features
    noisy_or, agree = combined.last_confidence_inputs
    assert noisy_or == pytest.approx(1 - (1 - math.exp(best["whisper"])) * (1 - best["pocketsphinx"]))
    assert agree == 0.0  # no NLU given: the meaning-agreement input is 0
    assert heard.confidence == pytest.approx(meaning_confidence(noisy_or, 0.0), abs=1e-4)


def test_the_combined_confidence_is_the_chance_the_meaning_was_heard(catalog):
    """Platt scaling of the noisy-or and of whether both recognizers' best hypotheses read as the same acts."""
    from dialogue.nlu.embedded import EmbeddedNLU
    from dialogue.state import CONFIDENT

    a, d, b = MEANING_CALIBRATION
    assert meaning_confidence(0.49, 1.0) == pytest.approx(1 / (1 + math.exp(-(a * math.log(0.49 / 0.51) + d + b))))
    assert meaning_confidence(0.0, 0.0) == pytest.approx(1 / (1 + math.exp(-(a * math.log(1e-4 / (1 - 1e-4)) + b))))
    grid = [meaning_confidence(p, g) for g in (0.0, 1.0) for p in (0.0, 0.1, 0.49, 0.9, 1.0)]
    assert grid[:5] == sorted(grid[:5]) and grid[5:] == sorted(grid[5:])  # rises with the noisy-or
    assert all(x < y for x, y in zip(grid[:5], grid[5:]))  # and with agreement
    nlu = EmbeddedNLU.for_catalog(catalog)

    def read(text):
        return frozenset(map(str, nlu.parse(text).acts))

    def choose(ps_text, ps_post, wh_text, wh_logp):
        ps = _rec(ps_text, ps_post, [(ps_text, math.log(ps_post))])
        wh = _rec(wh_text, math.exp(wh_logp), [(wh_text, wh_logp)], "whisper")
        cands = score_candidates(ps, wh, lm=None, parses=lambda t: bool(read(t)))
        return cands[0], confidence_inputs(ps, wh, cands[0], read)

    # the newcomer's case: a correct "i want jazz" both recognizers heard read 0.49 before, under the state's CONFIDENT
    best, (noisy_or, agree) = choose("i want jazz", 0.2, "i want some jazz", math.log(0.36))
    assert agree == 1.0 and noisy_or == pytest.approx(0.36 if best.text == "i want some jazz" else 0.2)
    heard = nlu.parse(best.text).heard_with(meaning_confidence(noisy_or, agree))
    assert heard.confidence >= CONFIDENT, heard
    # the recognizers read different meanings: no agreement, the same noisy-or gives less
    _, (noisy_or2, agree2) = choose("i want jazz", 0.2, "i want chess", math.log(0.36))
    assert agree2 == 0.0
    assert meaning_confidence(noisy_or2, agree2) < meaning_confidence(noisy_or2, 1.0)
    # nothing understood in either: no agreement either (an empty reading is no evidence)
    assert choose("um", 0.3, "hmm", math.log(0.5))[1][1] == 0.0


def test_make_recognizer_names_and_fallback(catalog, monkeypatch):
    import dialogue.speech.choose as choose
    import dialogue.speech.whisper as whisper_module

    with pytest.raises(VoiceError, match="--recognizer must be one of"):
        make_recognizer("kaldi", catalog)
    with pytest.raises(VoiceError, match="--no-bias"):
        make_recognizer("whisper", catalog, biased=False)

    class Pocketsphinx:  # stands in for asr.Recognizer (its language model takes seconds to build)
        name = "pocketsphinx"

        def __init__(self, catalog, **options):
            self.options = options

    monkeypatch.setattr(choose, "Recognizer", Pocketsphinx)
    monkeypatch.setattr(whisper_module, "whisper_available", lambda: False)
    notes = []
    fallback = make_recognizer("auto", catalog, notice=notes.append)
    assert isinstance(fallback, Pocketsphinx) and fallback.options["biased"] is True
    assert notes and "pocketsphinx alone" in notes[0]
    monkeypatch.setattr(whisper_module, "whisper_available", lambda: True)

    def broken(**_):
        raise VoiceError("the Whisper model file model.bin has sha256 0000, expected 1a5a")

    monkeypatch.setattr(whisper_module, "WhisperRecognizer", broken)
    notes.clear()
    assert isinstance(make_recognizer("auto", catalog, notice=notes.append), Pocketsphinx)  # said, and still listening
    assert "sha256" in notes[0] and "pocketsphinx alone" in notes[0]
    with pytest.raises(VoiceError, match="sha256"):  # asked for by name: the error itself
        make_recognizer("combined", catalog)
    assert make_recognizer("auto", catalog, biased=False).options["biased"] is False  # --no-bias: pocketsphinx's general model


@needs_espeak
def test_a_spoken_request_both_recognizers_hear_is_acted_on(catalog, whisper, pocketsphinx):
    """The newcomer's session: a spoken "I want jazz" heard right used to read 0.49 and be asked about again; now
    the genre is settled at once, as when it is typed."""
    from dialogue.acts import Slot
    from dialogue.manager import DialogueManager
    from dialogue.nlu.embedded import EmbeddedNLU
    from dialogue.records import ConversationBuffer
    from dialogue.speech.tts import synthesize
    from policy.registry import load_policy
    from recommender.scorer import BaselineScorer

    nlu = EmbeddedNLU.for_catalog(catalog)
    combined = CombinedRecognizer(catalog, nlu=nlu, whisper=whisper, pocketsphinx=pocketsphinx)
    heard = combined.recognize(*synthesize("I want jazz", voice="en-us+f2", speed=160))
    assert normalized_words(heard.text) == ["i", "want", "jazz"] and combined.last_confidence_inputs[1] == 1.0, heard
    policy, variant = load_policy("rule", catalog=catalog)
    m = DialogueManager(catalog, nlu=nlu, policy=policy, variant=variant, scorer=BaselineScorer(catalog), seed=0,
                        sink=ConversationBuffer())
    turn = m.respond(heard.text, speech_confidence=heard.confidence)
    state = m.conversation.state
    assert state.known(Slot.GENRE) == "jazz" and state.settled(Slot.GENRE), (heard, turn.nlu)
    assert turn.prompt.prompt not in (PromptId.ASK_GENRE, PromptId.SUGGEST_GENRES)
