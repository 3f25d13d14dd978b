"""Time one full off-policy evaluation of one policy: every estimator, three metrics, FQE, 1,000 bootstrap resamples,
every interval, the hcope bounds and the risks.

Stages: read and check the logs, the policy's choices at every logged state, the FQE Q models (one per metric),
the estimators with the bootstrap. Each policy is timed in a fresh process twice: cold (an empty cache) and warm
(the same evaluation again, its choices and Q models read from ``evaluation.cache``, as ``segue report`` or
``segue policy promote`` after ``segue evaluate`` do). Prints one JSON object.

    .venv/bin/python benchmarks/ope_speed.py --logs runs/logs --registry runs/policies --policy cql-base ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(logs: str, registry: str, policy: str, bootstrap: int, cache: str) -> dict:
    from evaluation.evaluate import evaluate_logs
    from evaluation.ope import OPESettings

    marks: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(stage, [now, now])[1] = now

    start = time.perf_counter()
    evaluation = evaluate_logs(logs, [policy], registry=Path(registry), settings=OPESettings(bootstrap=bootstrap),
                               progress=progress, cache=Path(cache))
    total = time.perf_counter() - start
    stages = {"choices": sum(e - b for s, (b, e) in marks.items() if "choices" in s),
              "fqe": sum(e - b for s, (b, e) in marks.items() if "Q model" in s),
              "bootstrap": marks.get("bootstrap", [0, 0])[1] - marks.get("bootstrap", [0, 0])[0]}
    dr = evaluation.report.policies[policy].estimators["dr"]
    return {"policy": policy, "conversations": evaluation.data.n_conversations, "turns": evaluation.data.n_turns,
            "bootstrap": bootstrap, "seconds": total, "stages_seconds_from_progress": stages,
            "evaluate_targets_seconds": evaluation.result.seconds, "target_seconds": 30.0, "met": total <= 30.0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "dr": {str(m): e.estimate for m, e in dr.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", default="runs/logs")
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--policy", action="append", dest="policies")
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.logs, args.registry, args.one, args.bootstrap, args.cache)))
        return
    results = []
    for policy in args.policies or ["cql-base", "regressor-base"]:
        with tempfile.TemporaryDirectory() as cache:
            row = {}
            for run in ("cold", "warm"):
                proc = subprocess.run([sys.executable, __file__, "--logs", args.logs, "--registry", args.registry, "--one", policy,
                                       "--bootstrap", str(args.bootstrap), "--cache", cache], capture_output=True, text=True, cwd=ROOT)
                if proc.returncode:
                    sys.exit(f"{policy}: {proc.stderr[-2000:]}")
                row[run] = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(row)
            print(f"{policy}: cold {row['cold']['seconds']:.1f} s, warm {row['warm']['seconds']:.1f} s", file=sys.stderr)
    print(json.dumps({"cores": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
