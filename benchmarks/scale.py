"""Scale-out: conversations per second of `segue simulate` on 1 and 2 local workers and on a 2-node Ray cluster.

The cluster is real: a head and a second node started with `ray start` on this
machine (1 CPU each), driven with `--address`, stopped at the end. Every run
writes the same bytes (checked). Prints one JSON object: per setting the wall
time, conversations per second, the driver's peak memory, the Parquet size
per conversation, and the startup cost (the run minus its conversations, from
a run 4x smaller), which the extrapolation in BENCHMARKS.md uses.

    .venv/bin/python benchmarks/scale.py [--conversations 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _run(args: list[str], out: Path) -> dict:
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", str(BIN / "segue"), "simulate", *args, "--out", str(out), "--json"],
                            capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"segue simulate {' '.join(args)} failed: {result.stderr[-2000:]}")
    parts = sorted(out.glob("part-*.parquet"))
    return {"seconds": round(seconds, 2), "conversations": json.loads(result.stdout)["conversations"],
            "parquet_bytes": sum(p.stat().st_size for p in parts),
            "sha256": hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()[:16],
            "driver_peak_rss_mb": round(int(result.stderr.strip().splitlines()[-1]) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, small = args.conversations, max(1000, args.conversations // 4)
    port = None
    results: dict = {}
    ray_bin = str(BIN / "ray")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            address = f"127.0.0.1:{port}"
            subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                            "--disable-usage-stats"], check=True, capture_output=True, env=ENV)
            subprocess.run([ray_bin, "start", f"--address={address}", "--num-cpus=1"], check=True, capture_output=True, env=ENV)
            time.sleep(3)
            settings = {
                "local, 1 worker": ["--workers", "1"],
                "local, 2 workers": ["--workers", "2"],
                "ray, 2-node cluster (1 CPU each)": ["--engine", "ray", "--address", address],
            }
            for name, extra in settings.items():
                big = _run(["--conversations", str(n), "--seed", str(args.seed), "--part-size", "2500", *extra], Path(tmp) / f"{len(results)}-big")
                little = _run(["--conversations", str(small), "--seed", str(args.seed), "--part-size", "2500", *extra],
                              Path(tmp) / f"{len(results)}-small")
                per_conversation = (big["seconds"] - little["seconds"]) / (n - small)
                results[name] = {**big, "conversations_per_second": round(n / big["seconds"], 1),
                                 "steady_conversations_per_second": round(1 / per_conversation, 1),
                                 "startup_seconds": round(big["seconds"] - n * per_conversation, 2),
                                 "parquet_bytes_per_conversation": round(big["parquet_bytes"] / n, 1)}
        finally:
            subprocess.run([ray_bin, "stop", "--force"], capture_output=True, env=ENV)
    digests = {r["sha256"] for r in results.values()}
    print(json.dumps({"benchmark": "scale", "conversations": n, "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                      "settings": results, "same_bytes": len(digests) == 1}, indent=2))


if __name__ == "__main__":
    main()
