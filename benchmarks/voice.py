"""Speech recognition for the voice demo: word accuracy, act/slot accuracy and real-time factor.

Test set: 60 requests generated from the NLU's templates with fresh slot
values, half naming slot values ("play some trip hop", "something for
studying"), half answers ("yes please", "skip this one", "I don't mind") (seed 7; the recognizer's language model is sampled from the same templates
with seed 0; artists left out: most of the CC catalog's names are not in the
pronunciation dictionary), spoken by espeak-ng with several voices and
speeds (espeak-ng reads the words as a person would say them: "80s" is given
to it as "nineteen eighties", so the reference is what was said). Each utterance is decoded by pocketsphinx with the domain language
model (biased) and with its general language model (unbiased). A third run,
``unseen_phrasings``, decodes requests from the *held-out* templates with a
language model built from the training templates only: phrasings neither the
recognizer nor the NLU has seen (and words such as "reset" it cannot know).
``answers_in_context``: answers to five prompts (a sample, a genre suggestion,
the energy, genre and decade questions), word accuracy decoded with the
general domain model and with the model for that prompt. For
each: word accuracy (1 - word error rate against the words read aloud), exact
sentences, intent accuracy and slot (slot, value) F1 of the NLU on the
recognized text against the generated labels, with the NLU on the true text
as the ceiling, and the real-time factor (decoding seconds / audio seconds,
one core). Prints one JSON object.

    .venv/bin/python benchmarks/voice.py [--requests 60] [--voices en-us+f2:150,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOICES = "en-us:140,en-us:180,en-us+f2:140,en-us+f2:180,en-us+m3:160,en-us+klatt4:160"
_SAME = {"accept": "affirm", "reject": "deny"}  # without a prompt, "yes" and "I like it" mean the same


def requests(catalog, n: int, seed: int, part: str):
    """``n`` requests: half that name slot values (genre, energy, mood, decade, activity), half answers."""
    from dialogue.nlu.templates import generate

    examples = [e for e in generate(catalog, part=part, per_template=3, seed=seed)
                if not any(slot == "artist" for _, _, slot, _ in e.entities)]
    rng = np.random.default_rng(seed)
    with_slots = [e for e in examples if e.entities]
    answers = [e for e in examples if not e.entities]
    half = n // 2
    return ([with_slots[i] for i in rng.choice(len(with_slots), size=min(half, len(with_slots)), replace=False)]
            + [answers[i] for i in rng.choice(len(answers), size=min(n - half, len(answers)), replace=False)])


def nlu_scores(nlu, texts, examples) -> dict:
    intents = tp = fp = fn = 0
    for text, e in zip(texts, examples):
        r = nlu.parse(text)
        got = r.intent or "none"
        intents += _SAME.get(got, got) == _SAME.get(e.intent, e.intent)
        pairs = {(str(a.slot), (a.value or "").lower()) for a in r.acts if str(a.act) == "inform" and a.slot is not None}
        gold = {(slot, value.lower()) for _, _, slot, value in e.entities}
        tp, fp, fn = tp + len(pairs & gold), fp + len(pairs - gold), fn + len(gold - pairs)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"intent_accuracy": round(intents / max(len(texts), 1), 4),
            "slot_f1": round(2 * p * r / max(p + r, 1e-9), 4), "slots_gold": tp + fn}


# Spelling variants that sound the same are one word for scoring ("laid back" = "laidback"): both are in the
# language model and the NLU reads both, so which one the recognizer writes is not an error.
_SAME_WORD = {"okay": "ok"}
_JOINED = {("laid", "back"), ("work", "out"), ("easy", "going"), ("up", "beat"), ("up", "tempo"), ("mid", "tempo"),
           ("lo", "fi"), ("chill", "out"), ("hip", "hop"), ("synth", "pop"), ("post", "rock"), ("trip", "hop")}


def words_of(text: str) -> list[str]:
    words = [_SAME_WORD.get(w, w) for w in text.split()]
    out: list[str] = []
    for w in words:
        if out and (out[-1], w) in _JOINED:
            out[-1] += w
        else:
            out.append(w)
    return out


def measure(name, rec, nlu, examples, voices, verbose) -> dict:
    from rapidfuzz.distance import Levenshtein

    from dialogue.speech.asr import speakable
    from dialogue.speech.tts import synthesize

    refs = [words_of(" ".join(speakable(e.text))) for e in examples]
    per_voice, all_texts, all_examples = {}, [], []
    errors = words = exact = 0
    decode = audio = 0.0
    for voice, speed in voices:
        texts, v_err, v_words, v_dec, v_aud = [], 0, 0, 0.0, 0.0
        for e, ref in zip(examples, refs):
            samples, rate = synthesize(" ".join(ref), voice=voice, speed=speed)
            r = rec.recognize(samples, rate)
            hyp = words_of(r.text)
            v_err += Levenshtein.distance(ref, hyp)
            v_words += len(ref)
            exact += hyp == ref
            v_dec += r.decode_seconds
            v_aud += r.audio_seconds
            texts.append(r.text)
            if verbose and hyp != ref:
                print(f"  {name} {voice}:{speed} {' '.join(ref)!r} -> {r.text!r} ({r.confidence:.2f})", file=sys.stderr)
        key = f"{voice}:{speed}"
        per_voice[key] = {"word_accuracy": round(1 - v_err / max(v_words, 1), 4), "rtf": round(v_dec / max(v_aud, 1e-9), 4),
                          **nlu_scores(nlu, texts, examples)}
        errors, words, decode, audio = errors + v_err, words + v_words, decode + v_dec, audio + v_aud
        all_texts += texts
        all_examples += examples
        print(f"{name} {key} {per_voice[key]}", file=sys.stderr, flush=True)
    return {"word_accuracy": round(1 - errors / max(words, 1), 4), "exact_sentences": round(exact / max(len(all_texts), 1), 4),
            "rtf": round(decode / max(audio, 1e-9), 4), "audio_seconds": round(audio, 1),
            **nlu_scores(nlu, all_texts, all_examples), "per_voice": per_voice}


CONTEXT = {"sample": "play_sample", "suggestion": "suggest_genres", "energy": "ask_energy", "genre": "ask_genre",
           "decade": "ask_decade"}


def in_context(rec, catalog, voices, seed: int, per_prompt: int = 15) -> dict:
    """Word accuracy of answers to five prompts, decoded with the general domain model and with the prompt's."""
    from rapidfuzz.distance import Levenshtein

    from dialogue.nlu.templates import generate
    from dialogue.speech.asr import PROMPT_GROUPS, speakable
    from dialogue.speech.tts import synthesize

    examples = generate(catalog, part="all", per_template=2, seed=seed + 1)
    rng = np.random.default_rng(seed)
    out: dict = {}
    totals = {"any": [0, 0], "prompt": [0, 0]}
    for group, prompt in CONTEXT.items():
        intents, slot = PROMPT_GROUPS[group]
        fits = [e for e in examples if e.intent in intents and intents[e.intent] >= 0.1 and not any(s == "artist" for _, _, s, _ in e.entities)
                and (slot is None or e.intent != "inform" or any(s == slot for _, _, s, _ in e.entities))]
        picked = [fits[i] for i in rng.choice(len(fits), size=min(per_prompt, len(fits)), replace=False)]
        row = {}
        for mode, context in (("any", None), ("prompt", prompt)):
            errors = words = 0
            for voice, speed in voices:
                for e in picked:
                    ref = words_of(" ".join(speakable(e.text)))
                    heard = rec.recognize(*synthesize(" ".join(ref), voice=voice, speed=speed), prompt=context)
                    errors += Levenshtein.distance(ref, words_of(heard.text))
                    words += len(ref)
            row[mode] = round(1 - errors / max(words, 1), 4)
            totals[mode][0] += errors
            totals[mode][1] += words
        out[prompt] = row
        print(f"context {prompt} {row}", file=sys.stderr, flush=True)
    out["all"] = {mode: round(1 - e / max(w, 1), 4) for mode, (e, w) in totals.items()}
    out["answers"] = per_prompt * len(CONTEXT) * len(voices)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--voices", default=VOICES, help="comma-separated espeak-ng voice:words-per-minute")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-unseen", action="store_true", help="skip the unseen-phrasings measurement")
    ap.add_argument("--no-context", action="store_true", help="skip the answers-in-context measurement")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    from dialogue.nlu import make_nlu
    from dialogue.speech.asr import Recognizer
    from recommender.catalog import Catalog

    catalog = Catalog.load()
    nlu = make_nlu("embedded", catalog=catalog)
    voices = [(v.split(":")[0], int(v.split(":")[1])) for v in args.voices.split(",")]
    examples = requests(catalog, args.requests, args.seed, "all")
    biased = Recognizer(catalog, biased=True)
    result = {"benchmark": "voice", "requests": len(examples), "voices": [f"{v}:{s}" for v, s in voices],
              "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "lm_vocabulary": biased.vocabulary, "lm_build_seconds": round(biased.load_seconds, 2),
              "unpronounceable": biased.unpronounceable,
              "text_ceiling": nlu_scores(nlu, [e.text for e in examples], examples)}
    result["biased"] = measure("biased", biased, nlu, examples, voices, args.verbose)
    result["unbiased"] = measure("unbiased", Recognizer(catalog, biased=False), nlu, examples, voices, args.verbose)
    if not args.no_unseen:  # phrasings neither the language model nor the NLU saw
        unseen = requests(catalog, args.requests, args.seed, "test")
        result["unseen_phrasings"] = {"text_ceiling": nlu_scores(nlu, [e.text for e in unseen], unseen),
                                      **measure("unseen", Recognizer(catalog, biased=True, part="train"), nlu, unseen,
                                                voices, args.verbose)}
    if not args.no_context:  # answers to a prompt, decoded with and without knowing the prompt
        result["answers_in_context"] = in_context(biased, catalog, voices, args.seed)
    result["targets"] = {"word_accuracy": 0.90, "rtf": 0.5,
                         "met": result["biased"]["word_accuracy"] >= 0.90 and result["biased"]["rtf"] <= 0.5}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
