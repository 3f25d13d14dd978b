"""Embedding variants side by side on the same split: one or two embeddings per track, with and without TCM.

The histories are a history table (``recommender.histories``) of the
simulator population's 12,000 users (``simulator.histories.population_histories``,
population seed 2021) over the vendored catalog; ``make_split`` draws 2,000 of
them at random for evaluation and the other 10,000 train. Each variant is
evaluated on the same split (recall@10 and NDCG@10 on held-out plays against
popularity within the genre constraint; cold-start tracks against random and
artist popularity; OPIS across genres and user segments, persona x history
length). Prints one JSON object.

    .venv/bin/python benchmarks/embeddings.py [--steps 1500] [--seed 0] [--users 12000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from recommender.catalog import Catalog
    from recommender.embeddings import EmbeddingSettings, make_split, train_embeddings
    from recommender.histories import histories_from_table
    from simulator.config import SimulatorConfig
    from simulator.histories import population_histories

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--users", type=int, default=12_000, help="simulated users (training + evaluation)")
    args = parser.parse_args()
    catalog = Catalog.load()
    base = EmbeddingSettings(steps=args.steps, seed=args.seed)
    config = SimulatorConfig(n_users=args.users)
    table = population_histories(catalog, config, args.users)
    source = f"simulator population (population_seed {config.population_seed}, users 0..{args.users - 1})"
    split = make_split(catalog, base, histories_from_table(table, catalog, source=source))
    results = {}
    for name, tied, tcm in (("tied", True, False), ("tied+tcm", True, True), ("dual", False, False), ("dual+tcm", False, True)):
        start = time.perf_counter()
        settings = EmbeddingSettings(steps=args.steps, seed=args.seed, tied=tied, tcm=tcm)
        emb, report = train_embeddings(catalog, settings, split=split)
        results[name] = {**report, "seconds": round(time.perf_counter() - start, 1), "version": emb.version}
        print(f"{name}: recall@10 {report['heldout']['model']['recall@10']:.4f}, OPIS genre {report['opis_genre']:.4f}",
              file=sys.stderr, flush=True)
    print(json.dumps({"settings": {"steps": args.steps, "seed": args.seed, "histories": split.histories},
                      "variants": results}, indent=2))


if __name__ == "__main__":
    main()
