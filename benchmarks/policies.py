"""Benchmark: learned policies. Training time per learner, serving latency per decision, and the A/B table.

    .venv/bin/python benchmarks/policies.py --registry runs/policies --logs runs/logs [--ab-conversations 20000 --ab-seeds 5]

Training times are the ones `segue train` measured around the training
itself (reading the logs and the quick evaluation excluded) and stored in
each policy's record; `--retrain` trains every learner again here and
times it. Serving latency is measured here: one decision (observation +
mask -> prompt) on 2,000 logged states, single-threaded, after a warm-up.
The A/B table runs `segue ab` on the same simulated users for every policy.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--logs", default="runs/logs")
    parser.add_argument("--ab-conversations", type=int, default=20_000)
    parser.add_argument("--ab-seeds", type=int, default=5)
    parser.add_argument("--retrain", action="store_true", help="train every learner again and time it")
    args = parser.parse_args()

    from evaluation.ab import ABSettings, run_ab
    from logs import read_logs, to_transitions
    from policy.registry import list_policies, load_policy
    from policy.train import TrainConfig, train
    from recommender.catalog import Catalog

    catalog = Catalog.load()
    records = list_policies(Path(args.registry))
    if not records:
        raise SystemExit(f"no policies in {args.registry}: run `segue train` first")
    table = read_logs(args.logs)
    result: dict = {
        "benchmark": "policies",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "platform": platform.platform()},
        "logs": {"path": args.logs, "conversations": int((table["turn"].to_numpy() == 0).sum()), "turns": table.num_rows},
        "training_seconds": {},
        "serving_ms": {},
    }
    data = {v: to_transitions(table, features=v) for v in ("base", "history")}
    for record in records:
        seconds = record.train_seconds
        if args.retrain:
            config = TrainConfig.from_dict(record.config)
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                train(data[record.features], config, Path(tmp), name=record.name)
                seconds = time.perf_counter() - start
        result["training_seconds"][record.name] = round(seconds, 1)

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(data["base"]), 2_000, replace=False)
    for record in records:
        policy, variant = load_policy(record.name, catalog=catalog, registry=Path(args.registry))
        d = data[variant]
        for i in rows[:50]:
            policy.probabilities(d.observations[i], d.masks[i])
        times = []
        for i in rows:
            start = time.perf_counter()
            policy.probabilities(d.observations[i], d.masks[i])
            times.append(time.perf_counter() - start)
        ms = np.array(times) * 1e3
        result["serving_ms"][record.name] = {"p50": round(float(np.percentile(ms, 50)), 4), "p99": round(float(np.percentile(ms, 99)), 4)}

    if args.ab_conversations > 0:
        names = ("rule", *(r.name for r in records))
        start = time.perf_counter()
        report = run_ab(ABSettings(policies=names, conversations=args.ab_conversations, seeds=args.ab_seeds,
                                   registry=args.registry)).to_dict()
        report["seconds"] = round(time.perf_counter() - start, 1)
        report["command"] = (f"segue ab {' '.join('--policy ' + n for n in names)} --conversations {args.ab_conversations} "
                             f"--seeds {args.ab_seeds} --registry {args.registry} --json")
        result["ab"] = report
    result["targets"] = {"default_training_seconds": 180, "serving_p99_ms": 1.0}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
