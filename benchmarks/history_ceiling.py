"""Diagnostic: how much can a policy gain from knowing where the session goal came from?

The history variant's promise is to know when the listening history predicts
the goal. This gives a policy that *cheats*, reading the simulator's hidden
goal: when the goal was drawn from the history it plays a sample at once,
otherwise it does what a base policy does. Its gain over that base policy is
a generous ceiling for what history features can bring on top of the
scorer's own use of the history (which every policy already gets).

    .venv/bin/python benchmarks/history_ceiling.py --base regressor-base --registry runs/policies --conversations 20000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dialogue.prompts import prompt_index
from evaluation.ab import _conversation_seed
from policy.registry import load_policy
from recommender.catalog import Catalog
from simulator import MusicUserEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="regressor-base")
    parser.add_argument("--registry", default="runs/policies")
    parser.add_argument("--conversations", type=int, default=20_000)
    args = parser.parse_args()
    catalog = Catalog.load()
    env = MusicUserEnv(catalog=catalog, features="history")
    base, variant = load_policy(args.base, catalog=catalog, registry=Path(args.registry))
    n_base = env.featurizer.layout.n_base
    play = prompt_index("play_sample")

    def run(cheat: bool) -> dict:
        success, prompts = [], []
        for i in range(args.conversations):
            obs, info = env.reset(seed=_conversation_seed(0, i))
            while True:
                mask = info["action_mask"]
                features = obs if variant == "history" else obs[:n_base]
                action = play if cheat and env.hidden_goal.from_history and mask[play] else base.best(features, mask)
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    success.append(info["success"])
                    prompts.append(info["n_prompts"])
                    break
        return {"success_rate": float(np.mean(success)), "mean_prompts": float(np.mean(prompts))}

    plain, cheat = run(False), run(True)
    print(json.dumps({
        "benchmark": "history_ceiling", "base": args.base, "conversations": args.conversations,
        "base_policy": plain, "goal_source_oracle": cheat,
        "relative": {"success_rate": cheat["success_rate"] / plain["success_rate"] - 1,
                     "mean_prompts": cheat["mean_prompts"] / plain["mean_prompts"] - 1},
    }, indent=2))


if __name__ == "__main__":
    main()
