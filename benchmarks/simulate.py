"""Benchmark: simulate and log conversations (target: 50,000 in <= 30 s on 2 cores, <= 2 GB).

Runs ``segue simulate`` as a subprocess into a fresh folder, samples the
resident memory of the whole process tree (the CLI and its workers) every
50 ms from /proc, and prints one JSON object: wall time, throughput, peak
memory, the calibration figures of the summary, and the targets.

    .venv/bin/python benchmarks/simulate.py --conversations 50000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            kids = [int(x) for x in handle.read().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    segue = Path(sys.executable).with_name("segue")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logs"
        command = [str(segue), "simulate", "--conversations", str(args.conversations), "--seed", str(args.seed),
                   "--out", str(out), "--json"]
        if args.workers:
            command += ["--workers", str(args.workers)]
        peak = 0
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, sum(_rss_bytes(p) for p in [process.pid, *_children(process.pid)]))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, _ = process.communicate()
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
        if process.returncode != 0:
            sys.exit(f"segue simulate failed with exit code {process.returncode}")
        summary = json.loads(stdout)
        size = sum(p.stat().st_size for p in out.glob("part-*.parquet"))
    result = {
        "benchmark": "simulate",
        "command": " ".join(["segue", *command[1:4], *command[4:6], "--out", "DIR", "--json"]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "conversations": summary["conversations"],
        "turns": summary["turns"],
        "seconds": round(elapsed, 2),
        "conversations_per_second": round(summary["conversations"] / elapsed, 1),
        "peak_rss_mb_process_tree": round(peak / 2**20, 1),
        "logs_mb": round(size / 2**20, 1),
        "calibration": {k: summary[k] for k in ("success_rate", "mean_prompts", "usefulness_rate", "abandon_rate",
                                                "prompts_percentiles", "max_prompts", "conversations_over_30_prompts")},
        "targets": {"seconds_at_50k_on_2_cores": 30, "peak_rss_mb": 2048},
        "met": {"seconds": elapsed <= 30 * summary["conversations"] / 50_000, "memory": peak <= 2 * 2**30},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
