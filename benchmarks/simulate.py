"""Benchmark: simulate and log conversations (target: 50,000 in <= 10 s on 2 cores, <= 2 GB).

Runs ``segue simulate`` as a subprocess into a fresh folder, samples the
resident memory of the whole process tree (the CLI and its workers) every
50 ms from /proc, and prints one JSON object: wall time, throughput, peak
memory, the calibration figures of the summary, and the targets. Side by
side in the same run: the same command with one conversation at a time
(``--envs 1``), its speed ratio, and whether the two wrote the same bytes.
``--reference`` takes an earlier run's JSON for a before/after calibration table.

    .venv/bin/python benchmarks/simulate.py --conversations 50000 --seed 1 [--reference before.json]
"""

from __future__ import annotations

import argparse
import hashlib
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


def _run(args, envs: int, out: Path) -> dict:
    """One ``segue simulate`` into ``out`` with ``envs`` conversations per vector env: wall time, peak memory of the
    process tree (sampled every 50 ms from /proc), the summary, and a digest of the parts' bytes."""
    segue = Path(sys.executable).with_name("segue")
    command = [str(segue), "simulate", "--conversations", str(args.conversations), "--seed", str(args.seed),
               "--out", str(out), "--envs", str(envs), "--json"]
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
        sys.exit(f"segue simulate --envs {envs} failed with exit code {process.returncode}")
    summary = json.loads(stdout)
    parts = sorted(out.glob("part-*.parquet"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()[:16]
    return {
        "command": " ".join(["segue", *command[1:6], "DIR", *command[7:]]),
        "seconds": round(elapsed, 2),
        "conversations_per_second": round(summary["conversations"] / elapsed, 1),
        "peak_rss_mb_process_tree": round(peak / 2**20, 1),
        "logs_mb": round(sum(p.stat().st_size for p in parts) / 2**20, 1),
        "logs_sha256": digest,
        "conversations": summary["conversations"],
        "turns": summary["turns"],
        "calibration": {k: summary[k] for k in CALIBRATION},
    }


CALIBRATION = ("success_rate", "mean_prompts", "usefulness_rate", "abandon_rate", "prompts_percentiles", "max_prompts",
               "conversations_over_30_prompts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--envs", type=int, default=64, help="conversations per vector env (the run measured)")
    parser.add_argument("--baseline-envs", type=int, default=1,
                        help="the side-by-side run: one conversation at a time (0: skip it)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="JSON printed by an earlier version of this benchmark: its calibration is the 'before' column")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        main_run = _run(args, args.envs, Path(tmp) / "logs")
        base_run = _run(args, args.baseline_envs, Path(tmp) / "logs-baseline") if args.baseline_envs else None
    result = {
        "benchmark": "simulate",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **main_run,
        "targets": {"seconds_at_50k_on_2_cores": 10, "peak_rss_mb": 2048},
        "met": {"seconds": main_run["seconds"] <= 10 * main_run["conversations"] / 50_000,
                "memory": main_run["peak_rss_mb_process_tree"] <= 2048},
    }
    if base_run is not None:
        result["side_by_side"] = {f"envs={args.baseline_envs}": base_run,
                                  "speedup": round(base_run["seconds"] / main_run["seconds"], 3),
                                  "same_logs": base_run["logs_sha256"] == main_run["logs_sha256"]}
    if args.reference is not None:
        before = json.loads(args.reference.read_text())
        before = before.get("calibration", before)
        result["calibration_before_after"] = {k: {"before": before.get(k), "after": main_run["calibration"][k]} for k in CALIBRATION}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
