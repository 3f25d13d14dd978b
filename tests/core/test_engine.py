"""The Ray engine on a real two-node cluster (a head and a second node started with `ray start` on this machine):
the same bytes as the local engine, a worker killed mid-part retried, the logs readable by DuckDB and Ray Data, and
mistakes as one clear line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.segue.in_process import segue_in_process

ray = pytest.importorskip("ray", reason="the Ray engine's tests need Ray: pip install 'segue[ray]' (make test installs it)")

BIN = Path(sys.executable).parent
SEGUE = [str(BIN / "segue")]
# a cluster for this test only: no token to hand around between its two nodes, no usage report
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def segue(*args, timeout=300):
    return subprocess.run([*SEGUE, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nodes(address: str) -> int:
    status = subprocess.run([str(BIN / "ray"), "status", "--address", address], capture_output=True, text=True, env=ENV, timeout=60)
    active = status.stdout.split("Active:")[1].split("Pending:")[0] if "Active:" in status.stdout else ""
    return sum(1 for line in active.splitlines() if "node_" in line)


@pytest.fixture(scope="module")
def cluster():
    """A head (1 CPU) and a second node (1 CPU) joined to it: "127.0.0.1:PORT"; stopped after the module."""
    ray_bin = str(BIN / "ray")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    try:
        subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                        "--disable-usage-stats"], check=True, capture_output=True, env=ENV, timeout=120)
        subprocess.run([ray_bin, "start", f"--address={address}", "--num-cpus=1"], check=True, capture_output=True, env=ENV,
                       timeout=120)
        for _ in range(60):
            if _nodes(address) == 2:
                break
            time.sleep(0.5)
        assert _nodes(address) == 2, "the second node did not join the cluster"
        yield address
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, env=ENV, timeout=120)


@pytest.fixture(scope="module")
def local_logs(tmp_path_factory) -> Path:
    """900 conversations in 3 parts of 300 (seed 4) with the local engine: the bytes to match."""
    folder = tmp_path_factory.mktemp("local") / "logs"
    result = segue("simulate", "--conversations", "900", "--seed", "4", "--part-size", "300", "--out", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    return folder


def _parts(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))]


def test_a_worker_killed_mid_part_is_retried_and_the_cluster_writes_the_local_bytes(cluster, local_logs, tmp_path):
    out = tmp_path / "logs"
    command = [*SEGUE, "simulate", "--conversations", "900", "--seed", "4", "--part-size", "300", "--out", str(out),
               "--engine", "ray", "--address", cluster, "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        busy = subprocess.run(["pgrep", "-f", "ray::_call_in_worker"], capture_output=True, text=True).stdout.split()
        if busy:
            time.sleep(0.8)  # into the part's conversations
            try:
                os.kill(int(busy[0]), signal.SIGKILL)
                killed = int(busy[0])
            except ProcessLookupError:
                continue
        time.sleep(0.1)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert killed is not None, "no Ray worker was running a part to kill"
    assert _parts(out) == _parts(local_logs)  # every part exactly once, byte for byte the local engine's
    assert (out / "manifest.json").read_text() == (local_logs / "manifest.json").read_text()
    assert not list(out.glob(".*.tmp"))
    assert json.loads(stdout)["conversations"] == 900 and _nodes(cluster) == 2


def test_a_driver_killed_mid_run_resumes_with_the_same_command(cluster, local_logs, tmp_path):
    out = tmp_path / "logs"
    command = [*SEGUE, "simulate", "--conversations", "900", "--seed", "4", "--part-size", "300", "--out", str(out),
               "--engine", "ray", "--address", cluster, "--json"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while not list(out.glob("part-*.parquet")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)  # the first part landed; the others are in flight
    driver.wait(timeout=60)
    assert 1 <= len(list(out.glob("part-*.parquet"))) < 3, "the driver was not killed mid-run"
    resumed = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["parts_reused"] >= 1
    assert _parts(out) == _parts(local_logs) and not list(out.glob(".*.tmp"))


def test_ab_on_the_cluster_is_the_local_report(cluster):
    args = ["ab", "--policy", "rule", "--conversations", "60", "--seeds", "2", "--json"]
    local = segue(*args)
    remote = segue(*args, "--engine", "ray", "--address", cluster)
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)


def test_duckdb_and_ray_data_read_the_logs_as_segue_counts_them(cluster, local_logs):
    import duckdb

    summary = json.loads(segue("logs", "summary", str(local_logs), "--json").stdout)
    pattern = str(local_logs / "part-*.parquet")
    ((turns, conversations),) = duckdb.sql(f"select count(*), count(distinct conversation_id) from read_parquet('{pattern}')").fetchall()
    assert (turns, conversations) == (summary["turns"], summary["conversations"]) == (summary["turns"], 900)
    # Ray Data in a process of its own: a driver in the test process leaves Ray's threads behind (its metrics
    # queries), and CPython 3.11.7's parser is not safe beside them (a later ast.parse in this process raised
    # "SystemError: AST constructor recursion depth mismatch" in tests/test_layout.py)
    script = (
        "import json, sys, ray\n"
        "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
        "data = ray.data.read_parquet(sys.argv[2:])\n"
        "ids = data.select_columns(['conversation_id']).to_pandas()['conversation_id']\n"  # no shuffle stage: ~6 s less
        "print(json.dumps({'turns': len(ids), 'conversations': ids.nunique()}))\n"  # one read: count() was another
        "ray.shutdown()\n"
    )
    parts = [str(p) for p in sorted(local_logs.glob("part-*.parquet"))]
    counted = subprocess.run([sys.executable, "-c", script, cluster, *parts], capture_output=True, text=True, env=ENV,
                             timeout=300)
    assert counted.returncode == 0, counted.stderr[-3000:]
    # the counts' line; Ray's raylet may print a warning on stdout after it ("5 PYTHON worker processes ...")
    read = json.loads(next(line for line in reversed(counted.stdout.splitlines()) if line.startswith("{")))
    assert read == {"turns": summary["turns"], "conversations": summary["conversations"]}


def test_engine_mistakes_are_one_clear_line(tmp_path):
    for args, message in (
        (["--address", "127.0.0.1:1"], "--address 127.0.0.1:1 needs --engine ray"),
        (["--engine", "spark"], "--engine must be one of local, ray, got 'spark'"),
        (["--engine", "ray", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray cluster answers there"),
        (["--engine", "ray", "--address", "nowhere"], "--address must be 'auto' or host:port, got 'nowhere'"),
    ):
        out = tmp_path / "logs"
        if "ray" in args:  # reaching for a cluster: in a process of its own (Ray's threads stay out of this one)
            result = segue("simulate", "--conversations", "10", "--out", str(out), *args)
        else:  # refused before Ray is imported: the entry point in this process
            result = segue_in_process("simulate", "--conversations", "10", "--out", str(out), *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert not out.exists()  # refused before any folder was made


def _numbers(tree, path=""):
    """Every number of a JSON tree by its path (timings left out)."""
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() if "second" not in key for k, v in _numbers(value, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, value in enumerate(tree) for k, v in _numbers(value, f"{path}/{i}").items()}
    return {path: tree}


def test_the_bootstrap_on_the_cluster_draws_the_local_resamples(cluster, local_logs):
    """Bootstrap blocks as Ray tasks: the same resamples, so the same intervals, up to the order in which BLAS sums
    (Ray gives each task one thread; the driver's BLAS uses the cores)."""
    args = ["evaluate", "--logs", str(local_logs), "--policy", "rule", "--estimator", "wis", "--estimator", "pdis",
            "--bootstrap", "300", "--cache", "none", "--json"]
    local = segue(*args)
    remote = segue(*args, "--engine", "ray", "--address", cluster)
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
    a, b = _numbers(json.loads(local.stdout)), _numbers(json.loads(remote.stdout))
    assert a.keys() == b.keys() and any("/intervals/" in k for k in a)
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert b[key] == value, key
