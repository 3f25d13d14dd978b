"""Speech recognition: pronunciations, the domain language model, and espeak-ng requests recognized as acts."""

import math
import shutil

import numpy as np
import pytest

from dialogue.speech.asr import CALIBRATION, Recognizer, TrigramLM, calibrate, domain_corpus, speakable, write_arpa

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make test installs it as root)")


def test_speakable_reads_text_aloud():
    assert speakable("Play some R&B, please!") == ["play", "some", "r", "and", "b", "please"]
    assert speakable("music from the 80s") == ["music", "from", "the", "nineteen", "eighties"]
    assert speakable("the '90s and 2000s") == ["the", "nineteen", "nineties", "and", "two", "thousands"]
    assert speakable("lo-fi / synth-pop") == ["lo", "fi", "synth", "pop"]
    assert speakable("I'd like it") == ["i'd", "like", "it"]
    assert speakable("?!") == []


def _arpa(path):
    sections, current = {}, None
    for line in path.read_text().splitlines():
        if line.endswith("-grams:"):
            current = int(line[1])
            sections[current] = {}
        elif current and line.strip() and not line.startswith("\\"):
            parts = line.split()
            n = current
            sections[n][tuple(parts[1 : 1 + n])] = (float(parts[0]), float(parts[1 + n]) if len(parts) > 1 + n else 0.0)
    return sections


def test_arpa_model_is_a_distribution(tmp_path):
    sentences = [s.split() for s in ["play some jazz", "play some rock", "play jazz", "some jazz please", "yes please",
                                     "yes", "no thanks", "play some jazz please"]]
    vocab = write_arpa(sentences, tmp_path / "m.arpa")
    grams = _arpa(tmp_path / "m.arpa")
    assert vocab == len(grams[1]) == 10  # 8 words + <s> + </s>
    words = [w for (w,) in grams[1] if w != "<s>"]

    def p(history, w):  # P(w | history) with back-off, as a decoder reads the file
        if len(history) == 2 and history + (w,) in grams[3]:
            return 10 ** grams[3][history + (w,)][0]
        if len(history) == 2:
            bo = 10 ** grams[2].get(history, (0, 0.0))[1]
            return bo * p(history[1:], w)
        if history and history + (w,) in grams[2]:
            return 10 ** grams[2][history + (w,)][0]
        bo = 10 ** grams[1].get(history, (0, 0.0))[1] if history else 1.0
        return bo * 10 ** grams[1][(w,)][0]

    assert sum(10 ** grams[1][(w,)][0] for w in words) == pytest.approx(1.0, abs=1e-3)
    for history in [("play",), ("<s>",), ("<s>", "play"), ("play", "some"), ("yes",), ("some", "jazz")]:
        assert sum(p(history, w) for w in words) == pytest.approx(1.0, abs=2e-3), history
    assert p(("play", "some"), "jazz") > p(("play", "some"), "please") > 0  # seen beats unseen, unseen still possible
    # the in-memory model scores a sentence as a decoder reading the file would (rescoring other recognizers' text)
    model = TrigramLM.estimate(sentences)
    t = ["<s>", "play", "jazz", "please", "</s>"]
    by_file = sum(math.log(p(tuple(t[max(i - 2, 0) : i]), t[i])) for i in range(1, len(t)))
    assert model.logprob(["play", "jazz", "please"]) == pytest.approx(by_file, abs=1e-3)
    assert model.logprob(["play", "polka"], unknown=-12.0) < model.logprob(["play", "jazz"]) - 10


def test_domain_corpus_covers_the_catalog(catalog):
    say = lambda text: " ".join(speakable(text)) or None  # noqa: E731  (every word pronounceable)
    corpus = domain_corpus(catalog, say, sentences=2_000, seed=0)
    words = {w for s in corpus for w in s}
    assert {"jazz", "upbeat", "eighties", "workout", "please", "yes", "stop", "skip"} <= words
    assert all(s for s in corpus) and len(corpus) > 2_000  # plus each slot value on its own
    assert corpus[:50] == domain_corpus(catalog, say, sentences=2_000, seed=0)[:50]  # seeded


@pytest.fixture(scope="module")
def recognizer(catalog):
    return Recognizer(catalog)


def test_recognizer_pronounces_the_domain(recognizer):
    # how fast it builds (lm_build_seconds) and decodes (rtf) is measured in benchmarks/voice.py, not asserted here
    assert recognizer.vocabulary > 400
    missing = set(recognizer.unpronounceable)
    assert not missing & {"lofi", "synth", "uptempo", "idm", "breakcore", "dubstep", "chiptune", "shoegaze"}
    silent = recognizer.recognize(np.zeros(16_000, np.float32), 16_000)
    assert silent.confidence == 0.0 or silent.text == ""


REQUESTS = [  # (text, intent, slot pairs) -- short requests a person makes, across the prompts
    ("play some jazz", "inform", {("genre", "jazz")}),
    ("something upbeat please", "inform", {("energy", "upbeat")}),
    ("music from the nineteen eighties", "inform", {("decade", "1980s")}),
    ("something for working out", "inform", {("activity", "workout")}),
    ("yes please", "affirm", set()),
    ("I love it", "accept", set()),
    ("skip this one", "reject", set()),
    ("stop", "stop", set()),
]
VOICES = [("en-us+f2", 140), ("en-us+f2", 190), ("en-us+klatt4", 160), ("en-us", 150)]


@needs_espeak
def test_synthesized_requests_are_understood(recognizer, catalog):
    """Four voices and speeds x eight requests: at least 6 of 8 per voice and 27 of 32 in all understood."""
    from dialogue.nlu import make_nlu
    from dialogue.speech.session import understand
    from dialogue.speech.tts import synthesize

    nlu = make_nlu("embedded", catalog=catalog)
    same = {"accept": "affirm", "reject": "deny"}
    right, wrong = {}, []
    for voice, speed in VOICES:
        right[voice, speed] = 0
        for text, intent, slots in REQUESTS:
            samples, rate = synthesize(text, voice=voice, speed=speed)
            heard = recognizer.recognize(samples, rate)
            result = understand(nlu, heard)
            pairs = {(str(a.slot), a.value) for a in result.acts if a.slot is not None}
            ok = same.get(result.intent, result.intent) == same.get(intent, intent) and slots <= pairs
            right[voice, speed] += ok
            if not ok:
                wrong.append(f"{voice}:{speed} {text!r} -> {heard.text!r} {result.intent}")
            assert result.confidence <= heard.confidence + 1e-9
    assert min(right.values()) >= 6 and sum(right.values()) >= 27, (right, wrong)


@needs_espeak
def test_confidence_is_lower_for_speech_outside_the_domain(recognizer):
    from dialogue.speech.tts import synthesize

    inside = [recognizer.recognize(*synthesize(t, voice="en-us+f2")).confidence
              for t in ("play some jazz", "yes please", "something upbeat")]
    outside = [recognizer.recognize(*synthesize(t, voice="en-us+f2")).confidence
               for t in ("the weather in paris is lovely", "my neighbour bought a bicycle yesterday")]
    assert min(inside) > max(outside)


def test_calibration_is_platt_scaling_of_the_posterior_and_the_domain_model():
    a, c, b = CALIBRATION
    assert a > 0 and c > 0  # a higher posterior, or a likelier sentence, is never less likely to be right
    for p, lm in ((1e-6, -3.0), (0.01, -1.0), (0.06, -2.5), (0.3, -0.5), (1.0, -8.0)):
        assert calibrate(p, lm) == pytest.approx(1 / (1 + math.exp(-(a * math.log(max(p, 1e-4)) + c * lm + b))))
    values = [calibrate(p, -2.0) for p in np.linspace(0, 1, 101)]
    assert all(x <= y for x, y in zip(values, values[1:])) and 0 < values[0] < values[-1] < 1
    assert calibrate(0.3, -1.0) > calibrate(0.3, -4.0)


@needs_espeak
def test_confidence_is_the_calibrated_posterior(recognizer):
    from dialogue.speech.tts import synthesize

    heard = recognizer.recognize(*synthesize("play some jazz", voice="en-us+f2"))
    assert heard.text and len(heard.alternatives) == 1 and heard.alternatives[0][0] == heard.text
    words = heard.text.split()
    per_word = recognizer.language_model.logprob(words) / (len(words) + 1)
    assert heard.confidence == pytest.approx(calibrate(math.exp(heard.alternatives[0][1]), per_word), abs=2e-4)
    assert heard.confidence > math.exp(heard.alternatives[0][1])  # the raw posterior understates it in the domain


def test_prompt_corpora_hold_what_the_prompt_invites(catalog):
    say = lambda text: " ".join(speakable(text)) or None  # noqa: E731
    sample = [" ".join(s) for s in domain_corpus(catalog, say, sentences=500, focus="sample")]
    assert any("love" in s for s in sample) and any(s.startswith("skip") for s in sample)
    assert not any("nineteen" in s or s.startswith("music from") for s in sample)  # no decade requests
    energy = domain_corpus(catalog, say, sentences=500, focus="energy")
    energy_words = {w for ws in __import__("dialogue.nlu.lexicon", fromlist=["ENERGY_WORDS"]).ENERGY_WORDS.values()
                    for p in ws for w in speakable(p)}
    informs = [s for s in energy if set(s) & energy_words]
    assert len(informs) > 0.5 * len(energy) and ["upbeat"] in energy  # every energy word also on its own
    assert not any(s == ["jazz"] for s in energy)


@needs_espeak
def test_the_prompt_picks_its_language_model_once(recognizer):
    from dialogue.speech.tts import synthesize

    samples, rate = synthesize("skip this one", voice="en-us+f2")
    heard = recognizer.recognize(samples, rate, prompt="play_sample")
    assert heard.text == "skip this one"
    assert recognizer.decoder.current_search() == "segue-sample"
    built = dict(recognizer._searches)
    recognizer.recognize(samples, rate, prompt="offer_station")  # same group: no new model
    assert recognizer._searches == built
    recognizer.recognize(samples, rate)  # no prompt: the general domain model again
    assert recognizer.decoder.current_search() == "segue"
    assert recognizer.recognize(samples, rate, prompt="not_a_prompt").text  # unknown prompt: general model


def test_every_prompt_has_a_language_model_group():
    from dialogue.prompts import PromptId
    from dialogue.speech.asr import _PROMPT_GROUP, PROMPT_GROUPS

    assert set(_PROMPT_GROUP) == {p.value for p in PromptId}
    assert set(_PROMPT_GROUP.values()) == set(PROMPT_GROUPS)
