"""Off-policy evaluation against the simulator's truth, over independent log sets.

For each seed: simulate ``--conversations`` logged conversations with the
randomized logging policy (``segue simulate --seed S``), estimate each
policy with every estimator (1,000 bootstrap resamples), and compare with
the truth: each policy run on-policy in the simulator (``--truth-conversations``
users, drawn as the logs' users are). Prints one JSON object: per policy,
estimator and metric, the mean and median relative error, the share of seeds
whose interval covers the truth, and the mean interval width; plus timings.

    .venv/bin/python benchmarks/ope.py --seeds 20 --conversations 50000 \
        --policy cql-base --policy regressor-base --registry runs/policies

Per-seed results are appended to ``<work>/results.jsonl`` as they finish, so
an interrupted run resumes where it stopped. Seed 1's logs are ``runs/logs``
(the default pipeline's) when they exist with the same settings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--policy", action="append", dest="policies")
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--truth-conversations", type=int, default=50_000)
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--q-model", action="append", dest="q_models")
    parser.add_argument("--work", default="runs/ope-bench")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    policies = args.policies or ["cql-base", "regressor-base"]

    from evaluation.evaluate import attach_truth, evaluate_logs, simulate_truth
    from evaluation.ope import OPESettings
    from evaluation.results import Truth
    from logs.collect import collect
    from logs.manifest import CollectionSettings

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    truth_path = work / "truth.json"
    key = {"policies": policies, "truth_conversations": args.truth_conversations}
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    if not truth or truth.get("key") != key:
        started = time.perf_counter()
        simulated_truth = simulate_truth(policies, conversations=args.truth_conversations, registry=Path(args.registry), seed=7)
        truth = {"key": key, "truth": {name: t.to_dict() for name, t in simulated_truth.items()},
                 "seconds": time.perf_counter() - started}
        truth_path.write_text(json.dumps(truth))
        print(f"truth: {truth['seconds']:.0f} s", file=sys.stderr)
    results_path = work / "results.jsonl"
    done = {json.loads(line)["seed"] for line in results_path.read_text().splitlines()} if results_path.exists() else set()
    settings = OPESettings(bootstrap=args.bootstrap, q_models=tuple(args.q_models or ("fqe",)))
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in done:
            continue
        started = time.perf_counter()
        default = ROOT / "runs" / "logs"
        manifest = default / "manifest.json"
        use_default = seed == 1 and manifest.exists() and json.loads(manifest.read_text()).get("settings", {}).get("conversations") == args.conversations
        folder = default if use_default else work / f"logs-{seed}"
        collect(folder, CollectionSettings(conversations=args.conversations, seed=seed))
        simulated = time.perf_counter() - started
        evaluation = evaluate_logs(folder, policies, registry=Path(args.registry), settings=settings)
        attach_truth(evaluation.report, {name: Truth.from_dict(t) for name, t in truth["truth"].items()})
        record = {"seed": seed, "simulate_seconds": simulated, "evaluate_seconds": time.perf_counter() - started - simulated,
                  "policies": {name: {k: e.get(k) for k in ("estimators", "errors", "diagnostics", "supported")}
                               for name, e in evaluation.report.to_dict()["policies"].items()}}
        with open(results_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if not use_default and not args.keep_logs:
            shutil.rmtree(folder)
        print(f"seed {seed}: simulate {simulated:.0f} s, evaluate {record['evaluate_seconds']:.0f} s", file=sys.stderr)
    print(json.dumps(summarize(results_path, truth["truth"]), indent=2))


def summarize(results_path: Path, truth: dict) -> dict:
    records = [json.loads(line) for line in results_path.read_text().splitlines()]
    out: dict = {"seeds": len(records), "truth": {p: t["metrics"] for p, t in truth.items()}, "policies": {},
                 "evaluate_seconds_mean": float(np.mean([r["evaluate_seconds"] for r in records])) if records else None}
    for policy in truth:
        per = {}
        runs = [r["policies"][policy] for r in records if policy in r["policies"] and r["policies"][policy]["supported"]]
        if not runs:
            continue
        for estimator in runs[0]["estimators"]:
            per[estimator] = {}
            for metric in runs[0]["estimators"][estimator]:
                errors = [r["errors"][estimator][metric]["relative_error"] for r in runs]
                covered = [r["errors"][estimator][metric]["covered"] for r in runs]
                widths = [(r["estimators"][estimator][metric]["ci"] or [np.nan, np.nan]) for r in runs]
                true = truth[policy]["metrics"][metric]
                errors = [e for e in errors if e is not None]
                per[estimator][metric] = {
                    "mean_relative_error": float(np.mean(errors)) if errors else None,
                    "median_abs_relative_error": float(np.median(np.abs(errors))) if errors else None,
                    "max_abs_relative_error": float(np.max(np.abs(errors))) if errors else None,
                    "coverage": float(np.mean([c for c in covered if c is not None])) if any(c is not None for c in covered) else None,
                    "mean_ci_width_relative": float(np.nanmean([(w[1] - w[0]) / true for w in widths])),
                }
        out["policies"][policy] = {"estimators": per,
                                   "ess_mean": float(np.mean([r["diagnostics"]["ess"] for r in runs]))}
    return out


if __name__ == "__main__":
    main()
