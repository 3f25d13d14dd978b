"""Embedding variants side by side on the same split: one or two embeddings per track, with and without TCM.

Each variant is trained on the simulator's 10,000 users over the vendored
catalog and evaluated on 2,000 other users of the same world (recall@10 and
NDCG@10 on held-out plays against popularity within the genre constraint;
cold-start tracks against random and artist popularity; OPIS across genres
and user segments). Prints one JSON object.

    .venv/bin/python benchmarks/embeddings.py [--steps 1500] [--seed 0]
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

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    catalog = Catalog.load()
    base = EmbeddingSettings(steps=args.steps, seed=args.seed)
    split = make_split(catalog, base)
    results = {}
    for name, tied, tcm in (("tied", True, False), ("tied+tcm", True, True), ("dual", False, False), ("dual+tcm", False, True)):
        start = time.perf_counter()
        settings = EmbeddingSettings(steps=args.steps, seed=args.seed, tied=tied, tcm=tcm)
        emb, report = train_embeddings(catalog, settings, split=split)
        results[name] = {**report, "seconds": round(time.perf_counter() - start, 1), "version": emb.version}
        print(f"{name}: recall@10 {report['heldout']['model']['recall@10']:.4f}, OPIS genre {report['opis_genre']:.4f}",
              file=sys.stderr, flush=True)
    print(json.dumps({"settings": {"steps": args.steps, "seed": args.seed, "users": base.n_users, "eval_users": base.eval_users},
                      "variants": results}, indent=2))


if __name__ == "__main__":
    main()
