"""End to end in text, and the cost of one dialogue turn.

(1) The serving policy with simulated users, on the same users: at the
meaning level (the simulator's NLU noise model, as in training) and in text
(the embedded NLU understands what the user says), once with the user
speaking only held-out phrasings (none in the NLU's training data: the
harsh case) and once with every phrasing. The success gap is what real NLU
errors cost. (2) One turn of the dialogue
manager (NLU + state + policy + scorer + phrasing) on the 21,502-track
catalog, with the embedding scorer and a listening history, p50/p99 over
scripted conversations. Prints one JSON object.

    .venv/bin/python benchmarks/dialogue.py [--conversations 2000] [--policy cql-base]
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

SCRIPTS = [
    ["hi", "something upbeat", "jazz please", "yes", "no, something more laid back", "yes I love it"],
    ["play some rock from the 80s", "nope", "not this one", "any mood", "sure", "perfect!"],
    ["I don't know", "electronic", "whatever", "skip", "something by Kevin MacLeod", "great, keep playing"],
    ["music for my workout", "yeah", "hmm not quite", "YES!"],
]


def end_to_end(catalog, policy_ref: str, registry: Path, n: int) -> dict:
    from dialogue.nlu.channel import TextChannel
    from dialogue.nlu.embedded import EmbeddedNLU
    from evaluation.ab import simulate_policy
    from policy.registry import load_policy
    from simulator.env import MusicUserEnv

    policy, variant = load_policy(policy_ref, catalog=catalog, registry=registry)
    seeds = [int(np.random.SeedSequence([0xE2E, i]).generate_state(1)[0]) for i in range(n)]
    out = {}
    nlu = EmbeddedNLU.for_catalog(catalog)
    for name, channel in (("meaning", None), ("text", TextChannel(nlu, catalog, part="test")),
                          ("text_all_phrasings", TextChannel(nlu, catalog, part="all"))):
        env = MusicUserEnv(catalog=catalog, features="history", channel=channel)
        start = time.perf_counter()
        success, prompts, *_ = simulate_policy(env, policy, variant, seeds)
        half = 1.96 * float(np.sqrt(success.mean() * (1 - success.mean()) / n))
        out[name] = {"success_rate": round(float(success.mean()), 4), "success_ci": [round(float(success.mean()) - half, 4),
                     round(float(success.mean()) + half, 4)], "mean_prompts": round(float(prompts.mean()), 3),
                     "seconds": round(time.perf_counter() - start, 1)}
    out["gap_points"] = round(100 * (out["meaning"]["success_rate"] - out["text"]["success_rate"]), 2)
    out["gap_points_all_phrasings"] = round(100 * (out["meaning"]["success_rate"] - out["text_all_phrasings"]["success_rate"]), 2)
    out["policy"], out["conversations"] = policy_ref, n
    return out


def turn_latency(catalog, policy_ref: str, registry: Path, embeddings: Path) -> dict:
    from dialogue.manager import DialogueManager
    from dialogue.nlu.embedded import EmbeddedNLU
    from policy.registry import load_policy
    from recommender.embedding_scorer import make_scorer
    from recommender.history import HistoryProfile
    from simulator.config import SimulatorConfig
    from simulator.population import Population

    scorer = make_scorer(str(embeddings) if (embeddings / "embeddings.json").is_file() else "baseline", catalog, device="cpu")
    policy, variant = load_policy(policy_ref, catalog=catalog, registry=registry, scorer_version=scorer.version)
    nlu = EmbeddedNLU.for_catalog(catalog)
    pop = Population(catalog, SimulatorConfig(), cache_size=1)
    times = []
    for rep in range(30):
        for k, script in enumerate(SCRIPTS):
            profile = HistoryProfile(catalog, pop.user(rep * 10 + k).plays)
            manager = DialogueManager(catalog, nlu=nlu, policy=policy, variant=variant, scorer=scorer, profile=profile, seed=rep)
            for line in script:
                start = time.perf_counter()
                manager.respond(line)
                times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    return {"turns": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "max_ms": round(float(ms.max()), 3), "scorer": scorer.version, "policy": policy_ref, "tracks": catalog.n}


def main() -> None:
    import torch

    from recommender.catalog import Catalog

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--policy", default="cql-base")
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--embeddings", default="runs/embeddings")
    args = parser.parse_args()
    catalog = Catalog.load()
    result = {"turn_latency": turn_latency(catalog, args.policy, Path(args.registry), Path(args.embeddings))}
    print(json.dumps(result["turn_latency"]), file=sys.stderr, flush=True)
    result["end_to_end"] = end_to_end(catalog, args.policy, Path(args.registry), args.conversations)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
