"""Time one full off-policy evaluation of one policy: every estimator, three metrics, 1,000 bootstrap resamples.

Stages: read and check the logs, the policy's choices at every logged state,
the FQE Q models (one per metric), the estimators with the bootstrap. Each
policy is timed on its own (a fresh process per policy, so nothing is
shared). Prints one JSON object.

    .venv/bin/python benchmarks/ope_speed.py --logs runs/logs --registry runs/policies
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(logs: str, registry: str, policy: str, bootstrap: int) -> dict:
    from evaluation.data import OPEData
    from evaluation.ope import OPESettings, evaluate_targets, target_probabilities
    from logs.store import read_manifest
    from policy.registry import load_policy
    from recommender.catalog import Catalog

    stages: dict[str, float] = {}
    start = time.perf_counter()
    data = OPEData.from_logs(logs)
    catalog = Catalog.load(read_manifest(logs).catalog_path)
    stages["read_logs"] = time.perf_counter() - start
    t = time.perf_counter()
    loaded, variant = load_policy(policy, catalog=catalog, registry=Path(registry))
    target = target_probabilities(loaded, variant, data)
    stages["policy_choices"] = time.perf_counter() - t
    marks: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, [time.perf_counter(), 0.0])[1] = time.perf_counter()

    t = time.perf_counter()
    result = evaluate_targets(data, {policy: target}, OPESettings(bootstrap=bootstrap), progress=progress)
    evaluate = time.perf_counter() - t
    fqe = sum(end - begin for stage, (begin, end) in marks.items() if stage.startswith("fqe"))
    stages["fqe_q_models"] = fqe
    stages["estimators_and_bootstrap"] = evaluate - fqe
    total = time.perf_counter() - start
    dr = result.policies[policy].estimators["dr"]
    return {"policy": policy, "conversations": data.n_conversations, "turns": data.n_turns, "bootstrap": bootstrap,
            "seconds": total, "stages": stages, "target_seconds": 30.0, "met": total <= 30.0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "dr": {str(m): e.estimate for m, e in dr.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", default="runs/logs")
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--policy", action="append", dest="policies")
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.logs, args.registry, args.one, args.bootstrap)))
        return
    results = []
    for policy in args.policies or ["cql-base", "regressor-base"]:
        proc = subprocess.run([sys.executable, __file__, "--logs", args.logs, "--registry", args.registry, "--one", policy,
                               "--bootstrap", str(args.bootstrap)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            sys.exit(f"{policy}: {proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(json.dumps({"cores": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
