"""Training on a quiet and on a busy machine: `segue embeddings train` and `segue train --algo cql`.

Each job runs four times, as the CLI runs it, in a fresh process: with the thread settings Segue used before
(2 torch threads, OpenMP's default wait policy: waiting threads spin) and with today's (core.threads: OpenMP
threads sleep when they wait; 2 threads for the embeddings, 1 for CQL), each on a quiet machine and while
another 2-core job runs (a torch process doing matrix products on 2 threads, OpenMP's default policy). Jobs
are shortened (300 tower steps; 1,000 CQL steps) so the slow cases finish; their training time is read from
what they saved (embeddings.json train_seconds, policy.json train_seconds). Prints one JSON object.

    .venv/bin/python benchmarks/busy_training.py [--emb-steps 300] [--cql-steps 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SEGUE = Path(PY).parent / "segue"
#: the CLI without core.threads.quiet_openmp(): how every command ran before
BEFORE = ("import sys; from segue import cmd_chat, cmd_data, cmd_embed, cmd_eval, cmd_policy, cmd_voice; "
          "from segue.app import app; sys.argv[0] = 'segue'; app()")
LOAD = ("import sys, time, torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\nend = time.time() + float(sys.argv[1])\n"
        "while time.time() < end:\n    a = torch.tanh(a @ a.T * 0.001)\n")


def _run(before: bool, args: list[str], env: dict) -> None:
    command = [PY, "-c", BEFORE, *args] if before else [str(SEGUE), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{result.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emb-steps", type=int, default=300)
    parser.add_argument("--cql-steps", type=int, default=1000)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    result = {"benchmark": "busy_training", "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                         "platform": platform.platform()},
              "load": "a torch process: 512x512 matrix products on 2 threads, OpenMP default wait policy",
              "emb_steps": args.emb_steps, "cql_steps": args.cql_steps, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _run(False, ["simulate-histories", "--users", "12000", "--out", str(tmp / "histories.parquet")], env)
        _run(False, ["simulate", "--conversations", "5000", "--seed", "3", "--out", str(tmp / "logs")], env)
        jobs = {
            "embeddings": lambda out, threads: ["embeddings", "train", "--histories", str(tmp / "histories.parquet"), "--steps",
                                                str(args.emb_steps), "--threads", str(threads), "--out", str(out)],
            "cql": lambda out, threads: ["train", "--logs", str(tmp / "logs"), "--algo", "cql", "--steps", str(args.cql_steps),
                                         "--eval-conversations", "0", "--threads", str(threads), "--out", str(out / "cql")],
        }
        settings = {"before": {"embeddings": 2, "cql": 2}, "now": {"embeddings": 2, "cql": 1}}
        for machine in ("quiet", "busy"):
            load = None
            if machine == "busy":
                load = subprocess.Popen([PY, "-c", LOAD, "7200"], env=env)
                time.sleep(2)
            try:
                for job, make_args in jobs.items():
                    for setting, threads in settings.items():
                        out = tmp / f"{job}-{setting}-{machine}"
                        start = time.perf_counter()
                        _run(setting == "before", make_args(out, threads[job]), env)
                        wall = time.perf_counter() - start
                        meta = json.loads((out / "embeddings.json").read_text()) if job == "embeddings" else \
                            json.loads((out / "cql" / "policy.json").read_text())
                        key = f"{job}/{setting}/{machine}"
                        result["runs"][key] = {"threads": threads[job], "train_seconds": meta["train_seconds"],
                                               "wall_seconds": round(wall, 1)}
                        print(f"{key}: {result['runs'][key]}", file=sys.stderr, flush=True)
            finally:
                if load is not None:
                    load.kill()
                    load.wait()
    runs = result["runs"]
    result["slowdown"] = {
        f"{job}/{setting}": round(runs[f"{job}/{setting}/busy"]["train_seconds"] / runs[f"{job}/{setting}/quiet"]["train_seconds"], 2)
        for job in ("embeddings", "cql") for setting in ("before", "now")}
    result["target"] = "a busy machine slows training at most ~3x"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
