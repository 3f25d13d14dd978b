"""NLU accuracy and latency, both backends side by side.

Test sets: (1) generated from the held-out templates (phrasings never in
``nlu.yml``), seed 1; (2) 80 real user turns of CPCD labelled by hand
(``benchmarks/data/cpcd_labels.jsonl``); (3) the real development set: 88 music
requests written by people for SLURP, HWU64 and SNIPS
(``benchmarks/data/real_nlu_dev.tsv``; scoring rule in ``dialogue/nlu/scoring.py``),
with accuracy per kind of request (genre, artist, decade, dislike, plain, ...).
Measures: intent accuracy, slot-value precision / recall / F1 over (slot, value)
pairs, exact match of the whole act set (CPCD), the share of real requests that
get every expected act, and latency per utterance (p50 / p99). ``--rasa`` adds
the Rasa backend (DIET, trained on the same nlu.yml; started from .venv-rasa)
side by side. Prints one JSON object.

    .venv/bin/python benchmarks/nlu.py [--rasa] [--real FILE.tsv]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _gold_generated(example) -> tuple[str, set]:
    return example.intent, {(slot, value.lower()) for _, _, slot, value in example.entities}


def _gold_cpcd(row) -> tuple[str, set, set]:
    acts = row["acts"]
    main = next((a["act"] for a in acts if a["act"] not in ("greet",)), "greet")
    pairs = {(a["slot"], a["value"].lower()) for a in acts if a["act"] == "inform" and a["slot"]}
    full = {(a["act"], a["slot"], (a["value"] or "").lower()) for a in acts}
    return main, pairs, full


_SAME = {"accept": "affirm", "reject": "deny"}  # without a prompt, "yes" and "I like it" mean the same


def score(nlu, cases) -> dict:
    intents, tp, fp, fn, exact, times = 0, 0, 0, 0, 0, []
    for text, gold_intent, gold_pairs, gold_full in cases:
        start = time.perf_counter()
        r = nlu.parse(text)
        times.append(time.perf_counter() - start)
        got_intent = r.intent or "none"
        intents += _SAME.get(got_intent, got_intent) == _SAME.get(gold_intent, gold_intent)
        pairs = {(str(a.slot), (a.value or "").lower()) for a in r.acts if str(a.act) == "inform" and a.slot is not None}
        tp += len(pairs & gold_pairs)
        fp += len(pairs - gold_pairs)
        fn += len(gold_pairs - pairs)
        if gold_full is not None:
            full = {(str(a.act), None if a.slot is None else str(a.slot), (a.value or "").lower()) for a in r.acts}
            norm = lambda s: {(_SAME.get(a, a), sl, v) for a, sl, v in s}  # noqa: E731
            exact += norm(full) == norm({(a, s, v) for a, s, v in gold_full})
    p = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    ms = np.array(times) * 1e3
    out = {"n": len(cases), "intent_accuracy": round(intents / len(cases), 4), "slot_precision": round(p, 4),
           "slot_recall": round(rec, 4), "slot_f1": round(2 * p * rec / max(p + rec, 1e-9), 4),
           "latency_ms_p50": round(float(np.percentile(ms, 50)), 3), "latency_ms_p99": round(float(np.percentile(ms, 99)), 3)}
    if cases and cases[0][3] is not None:
        out["exact_acts"] = round(exact / len(cases), 4)
    return out


def main() -> None:
    from dialogue.nlu.embedded import EmbeddedNLU
    from dialogue.nlu.templates import generate
    from recommender.catalog import Catalog

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", action="store_true", help="also run the Rasa backend")
    parser.add_argument("--rasa-url", default=None)
    parser.add_argument("--real", type=Path, default=ROOT / "benchmarks" / "data" / "real_nlu_dev.tsv",
                        help="real requests, utterance<TAB>acts (default: the development set)")
    parser.add_argument("--failures", action="store_true", help="list the real requests each backend fails")
    args = parser.parse_args()
    from dialogue.nlu.scoring import read_rows, score_rows

    real = read_rows(args.real)
    catalog = Catalog.load()
    test = generate(catalog, part="test", per_template=4, seed=1)
    generated = [(e.text, *_gold_generated(e), None) for e in test]
    rows = [json.loads(line) for line in (ROOT / "benchmarks" / "data" / "cpcd_labels.jsonl").read_text().splitlines()]
    cpcd = [(r["text"], *_gold_cpcd(r)) for r in rows]
    backends = {"embedded": EmbeddedNLU(catalog)}
    result = {"backends": {}, "embedded_train_seconds": round(backends["embedded"].train_seconds, 2)}
    if args.rasa:
        from dialogue.nlu.rasa_client import RasaNLU

        start = time.perf_counter()
        backends["rasa"] = RasaNLU(catalog=catalog, url=args.rasa_url, start=True, timeout=30)
        result["rasa_ready_seconds"] = round(time.perf_counter() - start, 1)
    try:
        for name, nlu in backends.items():
            nlu.parse("warm up")
            real_score = score_rows(nlu, real)
            if not args.failures:
                real_score.pop("failures")
            result["backends"][name] = {"generated_heldout": score(nlu, generated), "cpcd": score(nlu, cpcd),
                                        "real_dev": real_score}
            print(name, json.dumps(result["backends"][name]), file=sys.stderr, flush=True)
    finally:
        if "rasa" in backends:
            backends["rasa"].close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
