"""Benchmark: labels that change later (a share of accepted sessions later counts as skipped).

Three rounds of randomized rule-policy logs; the two older rounds have their
final labels (``simulator.delayed``), the newest only provisional ones. The
same learner is trained four ways and each policy is run on the same simulated
users, where success is the *final* label (the person kept listening):

- ``final_only``: the older rounds only (the newest is left out until final);
- ``provisional_as_final``: the older rounds plus the newest as logged;
- ``weighted``: the older rounds plus the newest with each provisional success's
  labels weighted by 1 - P(skipped later | last state), that probability learnt
  from the older rounds (``simulator.delayed.skip_model``);
- ``oracle``: all three rounds with final labels (not available in practice).

Prints one JSON object: the skip share, the skip model's calibration on the
newest round, and per training set the final success, provisional success and
prompts with 95% intervals (normal approximation).

    .venv/bin/python benchmarks/delayed_labels.py --conversations 20000 --truth 5000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialogue.features import FeatureVariant, Featurizer  # noqa: E402
from dialogue.prompts import PROMPT_CATALOGUE_VERSION  # noqa: E402
from logs.collect import collect  # noqa: E402
from logs.dataset import to_transitions  # noqa: E402
from logs.manifest import CollectionSettings  # noqa: E402
from logs.store import read_logs  # noqa: E402
from policy.registry import PolicyRecord, load_policy, save_policy  # noqa: E402
from policy.train import TrainConfig, train  # noqa: E402
from recommender.catalog import Catalog  # noqa: E402
from simulator.config import SimulatorConfig  # noqa: E402
from simulator.delayed import DelaySettings, expected_final, final_labels, skip_model, skipped_later  # noqa: E402
from simulator.env import MusicUserEnv  # noqa: E402
from simulator.rollout import run_conversation  # noqa: E402


def _interval(x: np.ndarray) -> list[float]:
    h = 1.96 * float(x.std(ddof=1)) / math.sqrt(len(x))
    return [float(x.mean()) - h, float(x.mean()) + h]


def _truth(folder: Path, catalog: Catalog, n: int, delay: DelaySettings) -> dict:
    """The policy on ``n`` simulated users (the same users for every policy); success provisional and final."""
    env = MusicUserEnv(catalog=catalog, config=SimulatorConfig(), features="history")
    policy, variant = load_policy(str(folder), catalog=catalog)
    rows = {"turn": [], "success": [], "played_track": [], "user_id": [], "conversation_id": []}
    prompts = np.zeros(n)
    for i in range(n):
        seed = int(np.random.SeedSequence([0xDE1A, i]).generate_state(1, dtype=np.uint64)[0] >> 1)
        record = run_conversation(env, policy, variant, seed=seed, rng=np.random.default_rng([0xDE1A, i, 1]))
        prompts[i] = record.n_prompts
        for key, value in (("turn", 0), ("success", record.success), ("played_track", record.played_track),
                           ("user_id", record.user_id), ("conversation_id", 10**9 + i)):
            rows[key].append(value)
    table = pa.table({"turn": pa.array(rows["turn"], pa.int16()), "success": rows["success"],
                      "played_track": pa.array(rows["played_track"], pa.int32()), "user_id": pa.array(rows["user_id"], pa.int32()),
                      "conversation_id": pa.array(rows["conversation_id"], pa.int64())})
    provisional = np.asarray(rows["success"], dtype=float)
    final = provisional * ~skipped_later(table, catalog, SimulatorConfig(), delay)
    return {"final_success": float(final.mean()), "final_success_ci": _interval(final),
            "provisional_success": float(provisional.mean()), "mean_prompts": float(prompts.mean()),
            "mean_prompts_ci": _interval(prompts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20_000, help="per round")
    parser.add_argument("--truth", type=int, default=5_000)
    parser.add_argument("--algo", default="regressor")
    parser.add_argument("--features", default="history")
    parser.add_argument("--steps", type=int, default=15_000, help="gradient steps of a d3rlpy learner")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    catalog = Catalog.load()
    delay = DelaySettings()
    out = args.out or Path(tempfile.mkdtemp(prefix="segue-delayed-"))
    rounds, skips = [], []
    for r in range(3):
        folder = out / f"round-{r}"
        collect(folder, CollectionSettings(conversations=args.conversations, seed=100 + r))
        table = read_logs(folder)
        rounds.append(table)
        skips.append(skipped_later(table, catalog, SimulatorConfig(), delay))
    success = [t["success"].to_numpy(zero_copy_only=False)[t["turn"].to_numpy() == 0] for t in rounds]
    predict = skip_model([(rounds[0], skips[0]), (rounds[1], skips[1])])
    p_new = predict(rounds[2])
    older = [final_labels(rounds[0], skips[0]), final_labels(rounds[1], skips[1])]
    sets = {
        "final_only": older,
        "provisional_as_final": older + [rounds[2]],
        "weighted": older + [expected_final(rounds[2], p_new)],
        "oracle": older + [final_labels(rounds[2], skips[2])],
    }
    results = {}
    features = FeatureVariant.parse(args.features)
    for name, tables in sets.items():
        table = pa.concat_tables(tables)
        data = to_transitions(table, features=features)
        config = TrainConfig.make(args.algo, features=features, steps=args.steps, seed=0)
        folder = out / "policies" / name
        if not (folder / "policy.json").is_file():
            staging = folder.with_name(f".{name}.staging")
            staging.mkdir(parents=True, exist_ok=True)
            result = train(data, config, staging, name=name)
            layout = Featurizer(catalog.genre_names, features).layout
            record = PolicyRecord(name=name, algo=args.algo, features=features, feature_version=layout.version,
                                  prompt_catalogue_version=PROMPT_CATALOGUE_VERSION, config=config.to_dict(),
                                  logs={"path": str(out), "conversations": data.n_conversations}, model_file=result.model_file,
                                  train_seconds=result.seconds, feature_names=list(layout.names))
            save_policy(folder, record, result.model, staging=staging)
        results[name] = {"conversations": int(data.n_conversations), **_truth(folder, catalog, args.truth, delay)}
        print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
    provisional_successes = success[2]
    print(json.dumps({
        "skip_share_of_accepted": [float(s[ok].mean()) for s, ok in zip(skips, success)],
        "skip_model_on_newest_round": {"predicted_mean": float(p_new[provisional_successes].mean()),
                                       "actual": float(skips[2][provisional_successes].mean())},
        "results": results, "delay": {"base": delay.base, "slope": delay.slope}, "algo": args.algo, "features": args.features,
        "conversations_per_round": args.conversations, "truth_users": args.truth, "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }, indent=2))


if __name__ == "__main__":
    main()
