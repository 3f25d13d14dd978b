"""Speech recognition for the voice demo: pocketsphinx, Whisper tiny.en and the per-utterance choice, side by side.

Three reported sets, each spoken by espeak-ng in six US voices and speeds:

- ``template``: 60 requests generated from the NLU's templates with fresh
  slot values (seed 7), half naming slot values, half answers; pocketsphinx's
  language model is sampled from the same templates (seed 0).
- ``handwritten``: 60 requests and answers written by hand for this benchmark
  (``benchmarks/data/voice_handwritten.tsv``), phrased as people talk, not as
  the templates; pocketsphinx's model is the default one.
- ``unseen``: 60 requests from the *held-out* templates, pocketsphinx's (and
  the choice's) language model built from the training templates only.

Recognizers: ``pocketsphinx`` (domain language model, Segue's first
recognizer), ``whisper`` (tiny.en, CTranslate2 int8, one thread, beam 5,
10 s window, domain prompt) and ``combined`` (both decoded, one hypothesis
chosen per utterance: ``dialogue/speech/choose.py``); the combined figures come
from the same two decodes, so the three are measured on the same audio. For
each: word accuracy (1 - word error rate) after the usual normalization
(Whisper's, ``dialogue/speech/wer.py``: lower case, no punctuation,
hesitations "um"/"uh"/"hmm" dropped, British spellings as American, decades and
small numbers in one form, "laid back" = "laidback"), ``word_accuracy_strict``
with only the last and "okay" = "ok" (what earlier runs of this benchmark
reported), exact sentences, and through the
embedded NLU on the recognized text: intent accuracy, slot (slot, value) F1 and
``understood`` (every expected act found), with the NLU on the true text as
the ceiling; real-time factor (decoding seconds / audio seconds, one thread,
the combined one counting both decodes and the choice). Also each recognizer's
load time and resident memory, and a smoke test on five real recordings
(``tests/dialogue/data/real_speech``, their licences in its README).

``--context N``: N answers to each of five prompts (a sample, a genre
suggestion, the energy, genre and decade questions), decoded without context,
with the prompt (pocketsphinx's model for it, the NLU's reading of it) and with
the prompt and its words as Whisper's previous text.

``--design`` decodes the development set instead (60 other hand-written
requests, ``benchmarks/data/voice_handwritten_dev.tsv``, and 60 template
requests of seed 3), grid-searches the choice's weights on it and fits the
Platt scaling of pocketsphinx's posterior and of the combined confidence; what
it prints is how ``choose.WEIGHTS``, ``asr.CALIBRATION`` and
``choose.MEANING_CALIBRATION`` were set. Each recognizer's ``calibration``
(expected calibration error and Brier score of its confidence against an
exactly heard sentence) is reported per set, and the combined one's
``calibration_meaning`` against what its confidence predicts: the NLU reading
the same acts in the hypothesis as in what was said. Prints one JSON object.

    .venv/bin/python benchmarks/voice.py [--requests 60] [--voices en-us:140,...] [--sets template,handwritten,unseen]
    .venv/bin/python benchmarks/voice.py --design [--context 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialogue.speech.asr import POSTERIOR_FLOOR, raw_posterior  # noqa: E402
from dialogue.speech.wer import normalized_words, strict_words, word_errors  # noqa: E402

VOICES = "en-us:140,en-us:180,en-us+f2:140,en-us+f2:180,en-us+m3:160,en-us+klatt4:160"
DATA = ROOT / "benchmarks" / "data"
CLIPS = ROOT / "tests" / "dialogue" / "data" / "real_speech"
ENGINES = ("pocketsphinx", "whisper", "combined")
_SAME = {"accept": ("accept", "affirm"), "reject": ("reject", "deny"), "affirm": ("affirm", "accept"),
         "deny": ("deny", "reject")}  # without a prompt, "yes" and "I like it" mean the same


@dataclass(frozen=True)
class Item:
    """One request: its text and the acts the NLU should find (``dialogue.nlu.scoring.RealRow.expected``)."""

    text: str
    expected: tuple


def template_items(catalog, n: int, seed: int, part: str) -> list[Item]:
    """``n`` template requests: half that name slot values (genre, energy, mood, decade, activity), half answers."""
    from dialogue.nlu.templates import generate

    examples = [e for e in generate(catalog, part=part, per_template=3, seed=seed)
                if not any(slot == "artist" for _, _, slot, _ in e.entities)]
    rng = np.random.default_rng(seed)
    with_slots = [e for e in examples if e.entities]
    answers = [e for e in examples if not e.entities]
    half = n // 2
    picked = ([with_slots[i] for i in rng.choice(len(with_slots), size=min(half, len(with_slots)), replace=False)]
              + [answers[i] for i in rng.choice(len(answers), size=min(n - half, len(answers)), replace=False)])
    out = []
    for e in picked:
        need = [(_SAME.get(e.intent, (e.intent,)), None, ())] if not e.entities else []
        need += [(("inform",), slot, (value.lower(),)) for _, _, slot, value in e.entities]
        out.append(Item(e.text, tuple(need)))
    return out


def file_items(path: Path) -> list[Item]:
    from dialogue.nlu.scoring import read_rows

    return [Item(r.text, r.expected) for r in read_rows(path)]


# ---------------------------------------------------------------------------------------------- understanding
def nlu_scores(nlu, texts: list[str], items: list[Item]) -> dict:
    """Intent accuracy (every expected act head found), slot (slot, value) F1 and ``understood`` (all acts found)."""
    from dialogue.nlu.scoring import RealRow, passes

    intents = understood = tp = fp = fn = 0
    for text, item in zip(texts, items):
        r = nlu.parse(text)
        heads = {str(a.act) for a in r.acts}
        intents += all(heads & set(acts) for acts, _, _ in item.expected)
        understood += passes(r, RealRow(item.text, item.expected, 0))
        got = {(str(a.slot), (a.value or "").lower()) for a in r.acts if str(a.act) == "inform" and a.slot is not None}
        gold = [(slot, values) for _, slot, values in item.expected if slot is not None]
        hit = [any((slot, v) in got for v in values) for slot, values in gold]
        tp, fn = tp + sum(hit), fn + len(hit) - sum(hit)
        fp += sum(1 for s, v in got if not any(s == slot and v in values for slot, values in gold))
    p, rc = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    n = max(len(texts), 1)
    return {"intent_accuracy": round(intents / n, 4), "slot_f1": round(2 * p * rc / max(p + rc, 1e-9), 4),
            "understood": round(understood / n, 4), "slots_gold": tp + fn}


# ---------------------------------------------------------------------------------------------- decoding
def rss_mb() -> tuple[float, float]:
    """(resident, peak resident) memory of this process in MiB, from /proc/self/status (0 where unreadable)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0, 0.0
    get = lambda key: float(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024  # noqa: E731
    return round(get("VmRSS"), 1), round(get("VmHWM"), 1)


def decode(combined, items: list[Item], voices, *, label: str, verbose: bool = False) -> list[dict]:
    """Every item in every voice through the combined recognizer: one row per utterance with the three texts."""
    from dialogue.speech.asr import speakable
    from dialogue.speech.tts import synthesize

    rows = []
    started = time.perf_counter()
    for voice, speed in voices:
        for item in items:
            said = " ".join(speakable(item.text))
            samples, rate = synthesize(said, voice=voice, speed=speed)
            chosen = combined.recognize(samples, rate)
            ps, wh = combined.last["pocketsphinx"], combined.last["whisper"]
            rows.append({"voice": f"{voice}:{speed}", "item": item, "said": said, "audio": chosen.audio_seconds,
                         "pocketsphinx": (ps.text, ps.decode_seconds), "whisper": (wh.text, wh.decode_seconds),
                         "combined": (chosen.text, chosen.decode_seconds), "recognitions": (ps, wh),
                         "confidence_inputs": combined.last_confidence_inputs,
                         "confidence": {"pocketsphinx": ps.confidence, "whisper": wh.confidence,
                                        "combined": chosen.confidence, "pocketsphinx_raw": raw_posterior(ps)}})
            if verbose and chosen.text != said:
                print(f"  {label} {voice}:{speed} {said!r}: ps {ps.text!r} wh {wh.text!r} -> {chosen.text!r}",
                      file=sys.stderr)
        print(f"{label} {voice}:{speed} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return rows


def calibration(confidences, exact, bins: int = 10) -> dict:
    """How well a confidence predicts an exactly heard sentence: expected calibration error (equal-width bins,
    Naeini et al. 2015), Brier score, mean confidence and the exact rate."""
    c, y = np.asarray(confidences, float), np.asarray(exact, float)
    which = np.minimum((c * bins).astype(int), bins - 1)
    ece = sum(abs(c[which == b].mean() - y[which == b].mean()) * np.mean(which == b) for b in range(bins) if np.any(which == b))
    return {"ece": round(float(ece), 4), "brier": round(float(np.mean((c - y) ** 2)), 4),
            "mean_confidence": round(float(c.mean()), 4), "exact": round(float(y.mean()), 4)}


def _logistic(X: np.ndarray, y, steps: int = 60, ridge: float = 1e-9) -> tuple[float, ...]:
    """Weights of ``1 / (1 + exp(-X w))`` maximizing the likelihood of the 0/1 outcomes ``y`` (Newton's method;
    ``X`` (n, k) with its last column the constant 1), rounded to 4 places."""
    y = np.asarray(y, float)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X @ w))
        w = w + np.linalg.solve((X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(X.shape[1]), X.T @ (y - p))
    return tuple(round(float(v), 4) for v in w)


def fit_platt(posteriors, lm_per_word, exact, floor: float = POSTERIOR_FLOOR, steps: int = 60) -> tuple[float, float, float]:
    """Platt scaling on two inputs: (a, c, b) of ``1 / (1 + exp(-(a log p + c lm + b)))`` maximizing the likelihood
    of ``exact`` (Newton's method); ``lm``: the hypothesis's log probability per word under the domain model."""
    X = np.stack([np.log(np.maximum(np.asarray(posteriors, float), floor)), np.asarray(lm_per_word, float),
                  np.ones(len(posteriors))], 1)
    return _logistic(X, exact, steps)  # type: ignore[return-value]


def fit_meaning(inputs, same_meaning) -> tuple[float, float, float]:
    """(a, d, b) of ``choose.meaning_confidence`` from (noisy_or, meaning_agreement) pairs and whether the NLU read
    the chosen hypothesis as it reads what was said (Platt scaling, Newton's method)."""
    from dialogue.speech.choose import LOGIT_FLOOR

    noisy = np.clip(np.asarray([x for x, _ in inputs], float), LOGIT_FLOOR, 1 - LOGIT_FLOOR)
    X = np.stack([np.log(noisy / (1 - noisy)), np.asarray([a for _, a in inputs], float), np.ones(len(noisy))], 1)
    return _logistic(X, same_meaning, ridge=1e-6)  # type: ignore[return-value]


def same_meaning(nlu, heard: str, said: str) -> bool:
    """Whether the NLU reads the same acts in ``heard`` as in ``said`` (what the combined confidence predicts)."""
    return {str(a) for a in nlu.parse(heard).acts} == {str(a) for a in nlu.parse(said).acts}


def design_meaning_calibration(rows: list[dict], nlu) -> dict:
    """``choose.MEANING_CALIBRATION`` fitted on the development rows the combined recognizer heard words in, and
    each half (hand-written, template) fitted on the other: calibration against the same meaning, of the fit, of
    logit(noisy_or) alone and of the raw noisy_or."""
    from dialogue.speech.choose import meaning_confidence

    heard = [r for r in rows if r["confidence_inputs"] is not None]
    inputs = [r["confidence_inputs"] for r in heard]
    right = [same_meaning(nlu, r["combined"][0], r["said"]) for r in heard]
    out: dict = {"coefficients": fit_meaning(inputs, right), "same_meaning": round(float(np.mean(right)), 4),
                 "transfer": {}}
    for fit_on in ("handwritten_dev", "template_dev"):
        i = [k for k, r in enumerate(heard) if r["set"] == fit_on]
        j = [k for k, r in enumerate(heard) if r["set"] != fit_on]
        coef = fit_meaning([inputs[k] for k in i], [right[k] for k in i])
        alone = fit_meaning([(inputs[k][0], 0.0) for k in i], [right[k] for k in i])
        out["transfer"][f"fit on {fit_on}"] = {
            "calibrated": calibration([meaning_confidence(*inputs[k], coef) for k in j], [right[k] for k in j]),
            "noisy_or_alone": calibration([meaning_confidence(inputs[k][0], 0.0, alone) for k in j], [right[k] for k in j]),
            "raw": calibration([inputs[k][0] for k in j], [right[k] for k in j])}
    return out


def design_calibration(rows: list[dict], lm) -> dict:
    """``asr.CALIBRATION`` fitted on the development rows where pocketsphinx heard words, and each half of them
    (hand-written, template) fitted on the other to see that it carries over: calibration of raw and calibrated."""
    from dialogue.speech.asr import calibrate

    heard = [r for r in rows if r["pocketsphinx"][0]]
    post = [r["confidence"]["pocketsphinx_raw"] for r in heard]
    per_word = [lm.per_word(r["pocketsphinx"][0].split()) for r in heard]
    exact = [normalized_words(r["said"]) == normalized_words(r["pocketsphinx"][0]) for r in heard]
    out: dict = {"coefficients": fit_platt(post, per_word, exact), "transfer": {}}
    for fit_on in ("handwritten_dev", "template_dev"):
        i = [k for k, r in enumerate(heard) if r["set"] == fit_on]
        j = [k for k, r in enumerate(heard) if r["set"] != fit_on]
        coef = fit_platt([post[k] for k in i], [per_word[k] for k in i], [exact[k] for k in i])
        out["transfer"][f"fit on {fit_on}"] = {
            "calibrated": calibration([calibrate(post[k], per_word[k], coef) for k in j], [exact[k] for k in j]),
            "raw": calibration([post[k] for k in j], [exact[k] for k in j])}
    return out


def summarize(rows: list[dict], nlu, engine: str) -> dict:
    def block(sub: list[dict]) -> dict:
        errors = strict = words = strict_n = exact = 0
        seconds = audio = 0.0
        for r in sub:
            text, dec = r[engine]
            ref, hyp = normalized_words(r["said"]), normalized_words(text)
            errors += word_errors(ref, hyp)
            words += len(ref)
            exact += ref == hyp
            sref = strict_words(r["said"])
            strict += word_errors(sref, strict_words(text))
            strict_n += len(sref)
            seconds += dec
            audio += r["audio"]
        return {"word_accuracy": round(1 - errors / max(words, 1), 4),
                "word_accuracy_strict": round(1 - strict / max(strict_n, 1), 4),
                "exact_sentences": round(exact / max(len(sub), 1), 4), "rtf": round(seconds / max(audio, 1e-9), 4),
                **nlu_scores(nlu, [r[engine][0] for r in sub], [r["item"] for r in sub]),
                "_errors": errors, "_words": words}

    out = block(rows)
    exact = [normalized_words(r["said"]) == normalized_words(r[engine][0]) for r in rows]
    out["calibration"] = calibration([r["confidence"][engine] for r in rows], exact)
    if engine == "pocketsphinx":
        out["calibration_raw_posterior"] = calibration([r["confidence"]["pocketsphinx_raw"] for r in rows], exact)
    if engine == "combined":  # what its confidence predicts: the NLU reads what was meant
        meant = [same_meaning(nlu, r[engine][0], r["said"]) for r in rows]
        out["calibration_meaning"] = calibration([r["confidence"][engine] for r in rows], meant)
        # its uncalibrated input, the noisy-or (the combined confidence before MEANING_CALIBRATION), against the same
        out["calibration_meaning_noisy_or"] = calibration(
            [r["confidence_inputs"][0] if r["confidence_inputs"] is not None else 0.0 for r in rows], meant)
    out["per_voice"] = {v: {k: x for k, x in block([r for r in rows if r["voice"] == v]).items() if not k.startswith("_")}
                        for v in dict.fromkeys(r["voice"] for r in rows)}
    return out


def smoke(recognizers: dict) -> dict:
    """The five real recordings in tests/dialogue/data/real_speech, through each recognizer: texts and word accuracy."""
    from dialogue.speech.audio import read_wav

    clips = [ln.split("\t") for ln in (CLIPS / "transcripts.tsv").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    out: dict = {}
    for name, rec in recognizers.items():
        errors = words = 0
        heard = {}
        for file, said in clips:
            samples, rate = read_wav(CLIPS / file)
            text = rec.recognize(samples, rate).text
            heard[file] = text
            errors += word_errors(normalized_words(said), normalized_words(text))
            words += len(normalized_words(said))
        out[name] = {"word_accuracy": round(1 - errors / max(words, 1), 4), "heard": heard}
    out["clips"] = {file: said for file, said in clips}
    return out


# ---------------------------------------------------------------------------------------------- in context
CONTEXT = {"sample": ("play_sample", "How about this? Did you like it?"),
           "suggestion": ("suggest_genres", "May I suggest some jazz? Or perhaps techno?"),
           "energy": ("ask_energy", "Something laid back? Or more upbeat?"),
           "genre": ("ask_genre", "What kind of music would you like?"),
           "decade": ("ask_decade", "Any particular decade?")}
MODES = ("none", "prompt", "prompt_and_question")


def in_context(combined, catalog, voices, seed: int, per_prompt: int) -> dict:
    """Answers to five prompts decoded three ways: without context, with the prompt (pocketsphinx's model for it and
    the NLU's reading), and with the prompt and its words as Whisper's previous text. Word accuracy per mode."""
    from dialogue.nlu.templates import generate
    from dialogue.speech.asr import PROMPT_GROUPS, speakable
    from dialogue.speech.tts import synthesize

    examples = generate(catalog, part="all", per_template=2, seed=seed + 1)
    rng = np.random.default_rng(seed)
    totals = {(e, m): [0, 0] for e in ENGINES for m in MODES}
    out: dict = {}
    for group, (prompt, question) in CONTEXT.items():
        intents, slot = PROMPT_GROUPS[group]
        fits = [e for e in examples if intents.get(e.intent, 0) >= 0.1 and not any(s == "artist" for _, _, s, _ in e.entities)
                and (slot is None or e.intent != "inform" or any(s == slot for _, _, s, _ in e.entities))]
        picked = [fits[i] for i in rng.choice(len(fits), size=min(per_prompt, len(fits)), replace=False)]
        row: dict = {}
        for voice, speed in voices:
            for e in picked:
                said = " ".join(speakable(e.text))
                samples, rate = synthesize(said, voice=voice, speed=speed)
                for mode in MODES:
                    chosen = combined.recognize(samples, rate, prompt=None if mode == "none" else prompt,
                                                question=question if mode == "prompt_and_question" else None)
                    texts = {"combined": chosen.text, "pocketsphinx": combined.last["pocketsphinx"].text,
                             "whisper": combined.last["whisper"].text}
                    ref = normalized_words(said)
                    for engine, text in texts.items():
                        totals[engine, mode][0] += word_errors(ref, normalized_words(text))
                        totals[engine, mode][1] += len(ref)
                        row.setdefault(engine, {}).setdefault(mode, [0, 0])
                        row[engine][mode][0] += word_errors(ref, normalized_words(text))
                        row[engine][mode][1] += len(ref)
        out[prompt] = {e: {m: round(1 - a / max(b, 1), 4) for m, (a, b) in modes.items()} for e, modes in row.items()}
        print(f"context {prompt} {out[prompt]['combined']}", file=sys.stderr, flush=True)
    out["all"] = {e: {m: round(1 - totals[e, m][0] / max(totals[e, m][1], 1), 4) for m in MODES} for e in ENGINES}
    out["answers"] = sum(1 for _ in voices) * per_prompt * len(CONTEXT)
    return out


# ---------------------------------------------------------------------------------------------- design
def design(rows: list[dict], lm_for, nlu) -> dict:
    """Grid search of ``choose.WEIGHTS`` on development rows: the weights with the best pooled word accuracy."""
    from dialogue.speech.choose import WEIGHTS, score_candidates

    parsed: dict[str, bool] = {}

    def parses(text: str) -> bool:
        if text not in parsed:
            parsed[text] = bool(nlu.parse(text).acts)
        return parsed[text]

    table = []  # per utterance: (features matrix, errors per candidate, words)
    keys = list(WEIGHTS)
    for r in rows:
        ps, wh = r["recognitions"]
        cands = score_candidates(ps, wh, lm=lm_for(r), parses=parses)
        ref = normalized_words(r["said"])
        feats = np.array([[c.features[k] for k in keys] for c in cands]) if cands else np.zeros((1, len(keys)))
        errs = np.array([word_errors(ref, normalized_words(c.text)) for c in cands] if cands else [len(ref)])
        table.append((feats, errs, len(ref), r["set"]))

    def accuracy(w: np.ndarray, which: str | None = None) -> float:
        e = n = 0
        for feats, errs, words, s in table:
            if which is None or s == which:
                e += errs[int(np.argmax(feats @ w))]
                n += words
        return 1 - e / max(n, 1)

    grid = {"whisper": [1.0], "in_whisper": [0.0, 0.5, 1.0], "pocketsphinx": [0.0, 1.0, 2.0, 4.0],
            "agreement": [0.0, 0.5, 1.0, 2.0], "domain_lm": [0.0, 0.1, 0.2, 0.3, 0.5], "parses": [0.0, 0.25, 0.5, 1.0]}
    best = None
    for values in itertools.product(*(grid[k] for k in keys)):
        w = np.array(values)
        acc = accuracy(w)
        if best is None or acc > best[0] + 1e-12:
            best = (acc, dict(zip(keys, values)))
    current = np.array([WEIGHTS[k] for k in keys])
    sets = sorted({t[3] for t in table})
    whisper_only = np.array([1.0 if k == "whisper" else (10.0 if k == "in_whisper" else 0.0) for k in keys])
    return {"best_weights": best[1], "best_word_accuracy": round(best[0], 4),
            "best_per_set": {s: round(float(accuracy(np.array(list(best[1].values())), s)), 4) for s in sets},
            "current_weights": dict(WEIGHTS), "current_word_accuracy": round(accuracy(current), 4),
            "current_per_set": {s: round(accuracy(current, s), 4) for s in sets},
            "whisper_best_per_set": {s: round(accuracy(whisper_only, s), 4) for s in sets},
            "oracle_per_set": {s: round(1 - sum(t[1].min() for t in table if t[3] == s)
                                        / max(sum(t[2] for t in table if t[3] == s), 1), 4) for s in sets}}


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60, help="template and unseen requests per set")
    ap.add_argument("--voices", default=VOICES, help="comma-separated espeak-ng voice:words-per-minute")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sets", default="template,handwritten,unseen")
    ap.add_argument("--design", action="store_true", help="decode the development set and grid-search the weights")
    ap.add_argument("--no-smoke", action="store_true", help="skip the five real recordings")
    ap.add_argument("--context", type=int, default=0, metavar="N",
                    help="also decode N answers to each of five prompts with and without the prompt (0: skip)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    from dialogue.nlu import make_nlu
    from dialogue.speech.asr import Recognizer
    from dialogue.speech.choose import CombinedRecognizer
    from dialogue.speech.whisper import WhisperRecognizer
    from recommender.catalog import Catalog

    catalog = Catalog.load()
    nlu = make_nlu("embedded", catalog=catalog)
    voices = [(v.split(":")[0], int(v.split(":")[1])) for v in args.voices.split(",")]
    result: dict = {"benchmark": "voice", "voices": [f"{v}:{s}" for v, s in voices],
                    "machine": f"{platform.machine()} {os.cpu_count()} cores", "python": platform.python_version()}
    base = rss_mb()[0]
    ps_all = Recognizer(catalog, biased=True)
    after_ps = rss_mb()[0]
    whisper = WhisperRecognizer(threads=1)
    after_wh = rss_mb()[0]
    result["load"] = {"pocketsphinx_seconds": round(ps_all.load_seconds, 2), "whisper_seconds": round(whisper.load_seconds, 2),
                      "pocketsphinx_rss_mib": round(after_ps - base, 1), "whisper_rss_mib": round(after_wh - after_ps, 1),
                      "lm_vocabulary": ps_all.vocabulary}

    def combined_for(part: str) -> CombinedRecognizer:
        ps = ps_all if part == "all" else Recognizer(catalog, biased=True, part=part)
        return CombinedRecognizer(catalog, nlu=nlu, pocketsphinx=ps, whisper=whisper)

    if args.design:
        rows = []
        for name, items in (("handwritten_dev", file_items(DATA / "voice_handwritten_dev.tsv")),
                            ("template_dev", template_items(catalog, args.requests, 3, "all"))):
            for r in decode(combined_for("all"), items, voices, label=name, verbose=args.verbose):
                rows.append({**r, "set": name})
        result["design"] = design(rows, lambda r: ps_all.language_model, nlu)
        result["design"]["pocketsphinx_calibration"] = design_calibration(rows, ps_all.language_model)
        result["design"]["combined_meaning_calibration"] = design_meaning_calibration(rows, nlu)
        for engine in ENGINES:
            result[engine] = {s: summarize([r for r in rows if r["set"] == s], nlu, engine)["word_accuracy"]
                              for s in ("handwritten_dev", "template_dev")}
        if args.context:  # answers of the development seed
            result["answers_in_context"] = in_context(combined_for("all"), catalog, voices, 3, args.context)
        print(json.dumps(result, indent=2))
        return

    sets = {"template": lambda: (template_items(catalog, args.requests, args.seed, "all"), "all"),
            "handwritten": lambda: (file_items(DATA / "voice_handwritten.tsv"), "all"),
            "unseen": lambda: (template_items(catalog, args.requests, args.seed, "test"), "train")}
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in sets]
    if unknown:
        raise SystemExit(f"--sets: unknown set(s) {', '.join(unknown)}; choose from {', '.join(sets)}")
    pooled: dict[str, list[int]] = {e: [0, 0] for e in ENGINES}
    for name in wanted:
        items, part = sets[name]()
        rows = decode(combined_for(part), items, voices, label=name, verbose=args.verbose)
        block = {"requests": len(items), "utterances": len(rows), "audio_seconds": round(sum(r["audio"] for r in rows), 1),
                 "text_ceiling": nlu_scores(nlu, [i.text for i in items], items)}
        for engine in ENGINES:
            s = summarize(rows, nlu, engine)
            if name in ("handwritten", "unseen"):
                pooled[engine][0] += s["_errors"]
                pooled[engine][1] += s["_words"]
            block[engine] = {k: v for k, v in s.items() if not k.startswith("_")}
        block["chosen_from_whisper"] = round(float(np.mean([r["combined"][0] == r["whisper"][0] for r in rows])), 4)
        result[name] = block
        print(f"{name}: " + ", ".join(f"{e} {block[e]['word_accuracy']}" for e in ENGINES), file=sys.stderr, flush=True)
    if "handwritten" in wanted and "unseen" in wanted:
        result["handwritten_and_unseen"] = {e: round(1 - err / max(n, 1), 4) for e, (err, n) in pooled.items()}
    if args.context:
        result["answers_in_context"] = in_context(combined_for("all"), catalog, voices, args.seed, args.context)
    if not args.no_smoke:
        result["real_clips"] = smoke({"pocketsphinx": ps_all, "whisper": whisper, "combined": combined_for("all")})
    result["peak_rss_mib"] = rss_mb()[1]
    combined_rtf = max((result[s]["combined"]["rtf"] for s in wanted), default=0.0)
    met = {"rtf": combined_rtf <= 0.5}
    if "handwritten_and_unseen" in result:
        met["handwritten_and_unseen"] = result["handwritten_and_unseen"]["combined"] >= 0.90
    if "template" in result:
        met["template"] = result["template"]["combined"]["word_accuracy"] >= result["template"]["pocketsphinx"]["word_accuracy"]
    result["targets"] = {"handwritten_and_unseen_word_accuracy": 0.90, "template_no_worse_than_pocketsphinx": True,
                         "rtf": 0.5, "met": met}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
