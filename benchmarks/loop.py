"""Benchmark: the continuous-improvement loop over several loop seeds, with planted faults.

For each loop seed runs ``segue loop`` (the workflow function) and prints one
JSON line per seed: per round the serving policy and its simulator truth,
every rollout with its truth against the policy it replaced (false
promotions), missed promotions, every planted fault and what caught it, and
the final policy against round 1's serving policy in true success and prompts
(95% intervals, normal approximation over the truth's simulated users). A last
line aggregates the seeds.

    .venv/bin/python benchmarks/loop.py --rounds 5 --conversations 20000 --seeds 1 2 3 4 5 \\
        --fault 2=bad-canary@2 --fault 3=raise@1 --fault 4=corrupt@2 --fault 5=corrupt-unguarded@1

``--fault SEED=KIND@ROUND`` plants a fault in that seed's loop (repeat). Each
seed's loop folder is ``--out/seed-N`` and resumes when run again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segue.progress import Reporter  # noqa: E402
from segue.workflows.loop import LoopSettings, _summarize, read_ledger, run_loop  # noqa: E402


def _diff(a: dict, b: dict, key: str, ci_key: str) -> dict:
    """a - b with a 95% interval from the two truths' own intervals (independent normal approximation)."""
    half = lambda t: (t[ci_key][1] - t[ci_key][0]) / 2  # noqa: E731
    d = a[key] - b[key]
    h = math.sqrt(half(a) ** 2 + half(b) ** 2)
    return {"diff": d, "ci": [d - h, d + h]}


def _markdown(line: dict) -> None:
    """One row per round: who served (truth), the canary and what became of it; faults and rollouts by round."""
    rollouts = {r["round"]: r for r in line["rollouts"]}
    faults = {}
    for f in line["faults"]:
        faults.setdefault(f["round"], []).append(f"{f['kind']} (caught: {f['caught_by']})")
    print(f"\nseed {line['seed']}\n\n| round | serving (true success / prompts) | canary | rolled out | planted |", file=sys.stderr)
    print("| --- | --- | --- | --- | --- |", file=sys.stderr)
    for r in line["rounds"]:
        out = rollouts.get(r["round"])
        rolled = f"{out['policy']} ({out['truth_success_diff']:+.3f} true success)" if out else "-"
        truth = "-" if r["truth_success"] is None else f"{r['truth_success']:.3f} / {r['truth_prompts']:.2f}"
        print(f"| {r['round']} | {r['policy']} ({truth}) | {r['canary'] or '-'} | {rolled} | "
              f"{'; '.join(faults.get(r['round'], [])) or '-'} |", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--fault", action="append", default=[], help="SEED=KIND@ROUND")
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--fqe-steps", type=int, default=2_000)
    parser.add_argument("--truth-conversations", type=int, default=5_000)
    parser.add_argument("--candidate", action="append", default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-loop"))
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--from-ledgers", action="store_true", help="do not run: summarize the seeds' existing ledgers again")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table of the rounds (stderr)")
    args = parser.parse_args()
    faults: dict[int, list[str]] = {}
    for text in args.fault:
        seed, _, fault = text.partition("=")
        faults.setdefault(int(seed), []).append(fault)
    results = []
    for seed in args.seeds:
        extra = {"candidates": tuple(args.candidate)} if args.candidate else {}
        settings = LoopSettings(rounds=args.rounds, conversations=args.conversations, seed=seed, runs=args.out / f"seed-{seed}",
                                bootstrap=args.bootstrap, fqe_steps=args.fqe_steps,
                                truth_conversations=args.truth_conversations, faults=tuple(faults.get(seed, ())), **extra)
        started = time.perf_counter()
        if args.from_ledgers:
            entries = read_ledger(settings.runs)
            summary = _summarize(entries, next(e for e in reversed(entries) if e["step"] == "summary")["final_policy"])
            seconds = (time.mktime(time.strptime(entries[-1]["time"][:19], "%Y-%m-%dT%H:%M:%S"))
                       - time.mktime(time.strptime(entries[0]["time"][:19], "%Y-%m-%dT%H:%M:%S")))
            ran = entries[0]["settings"]  # what the loop ran with, not this command's defaults
            args.bootstrap, args.fqe_steps, args.truth_conversations = ran["bootstrap"], ran["fqe_steps"], ran["truth_conversations"]
        else:
            summary = run_loop(settings, Reporter.silent() if args.quiet else Reporter()).summary
            seconds = time.perf_counter() - started
        final, first = summary["final_truth"], summary["round1_truth"]
        line = {"seed": seed, "seconds": round(seconds, 1), "faults": summary["faults"],
                "rounds": summary["rounds"], "rollouts": summary["rollouts"], "false_promotions": summary["false_promotions"],
                "missed_promotions": summary["missed_promotions"], "missed": summary["missed"],
                "final_policy": summary["final_policy"], "round1_policy": summary["first_round_policy"],
                "final_vs_round1": {"success": _diff(final, first, "success_rate", "success_ci"),
                                    "prompts": _diff(final, first, "mean_prompts", "prompts_ci")} if final and first else None}
        results.append(line)
        print(json.dumps(line), flush=True)
        if args.markdown:
            _markdown(line)
    planted = [f for r in results for f in r["faults"]]
    print(json.dumps({
        "aggregate": True, "seeds": args.seeds, "rounds": args.rounds, "conversations": args.conversations,
        "rollouts": sum(len(r["rollouts"]) for r in results), "false_promotions": sum(r["false_promotions"] for r in results),
        "missed_promotions": sum(r["missed_promotions"] for r in results),
        "faults_planted": len(planted), "faults_caught": sum(1 for f in planted if f["caught_by"]),
        "mean_final_vs_round1_success": sum(r["final_vs_round1"]["success"]["diff"] for r in results if r["final_vs_round1"])
        / max(1, sum(1 for r in results if r["final_vs_round1"])),
        "seconds": round(sum(r["seconds"] for r in results), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "settings": {"bootstrap": args.bootstrap, "fqe_steps": args.fqe_steps, "truth_conversations": args.truth_conversations},
    }), flush=True)


if __name__ == "__main__":
    main()
