"""Scorer speed, side by side in one run: top-10 over 1,000,000 synthetic tracks x 128 dims.

This scorer's CPU path (bf16 candidates with an exact fp32 re-rank where the
CPU has AVX512-BF16, else fp32), faiss-cpu ``IndexFlatIP`` on the same
vectors, and the CPU's roofline measured in the same run (copy bandwidth,
fp32 and bf16 GEMM rates; the batch bound is the minimum of the bandwidth and
the compute bound). With a GPU: the project's CUDA path beside plain torch
fp32 / tf32 / bf16 (one matmul + topk) and the GPU's roofline. Single query:
p50 and p99 ms, numpy in, ids out; batch: queries per second; recall: share of
the exact fp32 top-10 found. Random unit vectors: the speed of exact search
does not depend on the values. Prints one JSON object (the same as ``segue
bench scorer --json``).

    .venv/bin/python benchmarks/scorer.py [--tracks 1000000] [--dim 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from recommender.topk import bench_scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5, help="timed batches (single queries: 30)")
    parser.add_argument("--gpu-only", action="store_true", help="only the CUDA engines and the GPU roofline (no CPU, no faiss)")
    args = parser.parse_args()
    result = bench_scorer(args.tracks, args.dim, batch=args.batch, batch_repeats=args.repeats, cpu=not args.gpu_only)
    result["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": __import__("os").cpu_count()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
