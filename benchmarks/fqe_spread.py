"""How much an FQE direct-method estimate moves with the fit: the same logs with other seeds, and bootstrap resamples.

For one policy on one log folder, fits the success-rate FQE model (the default settings) with seeds 0..S-1 on all
conversations, and with seed 1 on R bootstrap resamples of the conversations (what ``--q-ensemble`` members are),
and prints each fit's direct-method estimate (mean V at the first turns) as JSON, with the simulator's truth when
the benchmark's ``truth.json`` has it.

    .venv/bin/python benchmarks/fqe_spread.py --logs runs/ope-bench17/logs/learned-1 \
        --registry runs/ope-bench17/policies --policy rule-cql --truth runs/ope-bench17/truth.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", required=True)
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--resamples", type=int, default=3)
    parser.add_argument("--truth", help="a truth.json of benchmarks/ope.py")
    args = parser.parse_args()

    from evaluation.data import Metric, OPEData
    from evaluation.ope import compact_q, target_probabilities
    from evaluation.qmodel import FQESettings, fit_q
    from logs.store import read_manifest
    from policy.registry import load_policy
    from recommender.catalog import Catalog

    data = OPEData.from_logs(args.logs)
    catalog = Catalog.load(read_manifest(args.logs).catalog_path)
    policy, variant = load_policy(args.policy, catalog=catalog, registry=Path(args.registry))
    target = data.decided(target_probabilities(policy, variant, data))
    n = data.n_conversations

    def dm(seed: int, counts=None) -> float:
        fitted = fit_q("fqe", data, target, FQESettings(seed=seed), metrics=(Metric.SUCCESS_RATE,), conversation_counts=counts)
        _, v = compact_q(fitted[Metric.SUCCESS_RATE], data, target)
        return float(v[data.first].mean())

    seeds = [dm(s) for s in range(args.seeds)]
    resampled = [dm(1, np.random.default_rng([0, k, 17]).multinomial(n, np.full(n, 1 / n))) for k in range(args.resamples)]
    truth = None
    if args.truth:
        truth = json.loads(Path(args.truth).read_text())["truth"].get(args.policy, {}).get("metrics", {}).get("success_rate")
    print(json.dumps({"policy": args.policy, "logs": args.logs, "metric": "success_rate", "truth": truth,
                      "dm_by_seed": seeds, "dm_on_resamples": resampled,
                      "seed_spread_sd": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else None,
                      "resample_mean_minus_seed_mean": float(np.mean(resampled) - np.mean(seeds))}, indent=2))


if __name__ == "__main__":
    main()
