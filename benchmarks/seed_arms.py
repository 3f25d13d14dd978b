"""Benchmark: the seed article's second experiment, with its arms as the seed ran them.

The seed's first policy chose prompts while the music samples it played were
not personalized; the second "also considered each customer's listening
history when deciding which music samples to offer" (``../shared/seeds/003_*``:
+4% success, -13% prompts). Arms here:

- **A**: a policy trained on base features from logs whose samples were ranked
  the same for everyone (``--scorer popularity``), served with that scorer;
- **B**: a policy trained on history features from logs with the personalized
  scorer (``baseline``: rating prior plus history affinity), served with it.

Both learn from randomized rule-policy logs of the same size and seed (only
the scorer differs), then meet the same simulated users in a paired A/B
(``evaluation.ab``, ``REF@SCORER`` arms); the rule policy with each scorer is
shown for reference. The simulator is not tuned toward either arm. Prints one
JSON object: each arm's success and prompts with 95% intervals, B against A
(relative, paired delta-method interval), and the prompt each arm asks most.

    .venv/bin/python benchmarks/seed_arms.py --log-conversations 50000 --conversations 20000 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.ab import ABSettings, run_ab  # noqa: E402
from logs.collect import collect  # noqa: E402
from logs.manifest import CollectionSettings  # noqa: E402
from logs.store import read_logs  # noqa: E402
from segue.progress import Reporter  # noqa: E402
from segue.workflows.pipeline import Candidate, _train_config  # noqa: E402
from segue.workflows.train import TrainJob, train_policy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-conversations", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=20_000, help="A/B users per seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--algo", default="regressor", help="learner of both arms (regressor, cql, ...)")
    parser.add_argument("--log-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-arms"))
    args = parser.parse_args()
    reporter = Reporter()
    started = time.perf_counter()
    arms = {}
    for label, scorer, features in (("A", "popularity", "base"), ("B", "baseline", "history")):
        logs = args.out / f"logs-{scorer}"
        with reporter.stage(f"arm {label}: {args.log_conversations:,} randomized rule-policy conversations, {scorer} scorer"):
            collect(logs, CollectionSettings(conversations=args.log_conversations, seed=args.log_seed, scorer=scorer))
        name = f"{args.algo}-{features}-{scorer}"
        folder = args.out / "policies" / name
        if not (folder / "policy.json").is_file():
            with reporter.stage(f"arm {label}: train {name}"):
                turns = read_logs(logs).num_rows  # the automatic number of steps reads the logged prompts
                train_policy(TrainJob((logs,), folder, _train_config(Candidate(args.algo, features), None, turns), 0), reporter)
        arms[label] = f"{folder}@{scorer}"
    policies = (arms["A"], arms["B"], "rule@popularity", "rule@baseline")
    with reporter.bar("A/B", args.conversations * args.seeds) as update:
        report = run_ab(ABSettings(policies=policies, conversations=args.conversations, seeds=args.seeds), progress=update)
    a, b = report.policies[arms["A"]], report.policies[arms["B"]]
    assert report.reference == arms["A"]  # the first arm: every relative figure is against A, paired on the same users
    per_seed_success = [sb["success_rate"] / sa["success_rate"] - 1 for sa, sb in zip(a.per_seed, b.per_seed)]
    per_seed_prompts = [sb["mean_prompts"] / sa["mean_prompts"] - 1 for sa, sb in zip(a.per_seed, b.per_seed)]
    out = {
        "arms": {"A": {"policy": arms["A"], "what": "base features, non-personalized samples (popularity)"},
                 "B": {"policy": arms["B"], "what": "history features, personalized samples (baseline scorer)"}},
        "figures": {label: {"success_rate": r.success_rate, "success_rate_ci": r.success_rate_ci, "mean_prompts": r.mean_prompts,
                            "mean_prompts_ci": r.mean_prompts_ci, "most_asked": r.most_asked,
                            "most_asked_share": r.prompt_share[r.most_asked],
                            "top3": sorted(r.prompt_share, key=r.prompt_share.get, reverse=True)[:3]}
                    for label, r in (("A", a), ("B", b), ("rule@popularity", report.policies["rule@popularity"]),
                                     ("rule@baseline", report.policies["rule@baseline"]))},
        "B_vs_A": {"success": b.vs_reference["success_rate"].to_dict(), "prompts": b.vs_reference["mean_prompts"].to_dict(),
                   "success_relative_per_seed": per_seed_success, "prompts_relative_per_seed": per_seed_prompts,
                   "success_relative_seed_mean": float(np.mean(per_seed_success)),
                   "prompts_relative_seed_mean": float(np.mean(per_seed_prompts))},
        "seed_article": {"success_relative": 0.04, "prompts_relative": -0.13},
        "conversations_per_seed": args.conversations, "seeds": args.seeds, "log_conversations": args.log_conversations,
        "algo": args.algo, "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
