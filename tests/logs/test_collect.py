import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS
from logs import CollectionSettings, collect, read_logs, summarize, to_mdp_dataset, to_transitions
from logs.collect import MANIFEST
from logs.errors import LogConflictError


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("part-*.parquet"))}


SETTINGS = CollectionSettings(conversations=120, seed=5, part_size=30)


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    collect(tmp_path / "one", SETTINGS, workers=1)
    collect(tmp_path / "two", SETTINGS, workers=2)
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")
    assert len(_digests(tmp_path / "one")) == 4
    other = CollectionSettings(conversations=120, seed=6, part_size=30)
    collect(tmp_path / "three", other, workers=1)
    assert _digests(tmp_path / "three") != _digests(tmp_path / "one")


def test_resume_after_an_interruption(tmp_path):
    reference = tmp_path / "reference"
    collect(reference, SETTINGS, workers=1)
    interrupted = tmp_path / "interrupted"
    calls = []

    def stop_after_two_parts(done, total):
        calls.append(done)
        if done >= 60:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(interrupted, SETTINGS, workers=1, progress=stop_after_two_parts)
    assert len(list(interrupted.glob("part-*.parquet"))) == 2
    (interrupted / ".part-00002.parquet.999.tmp").write_bytes(b"half a part")  # what a crash mid-write leaves
    result = collect(interrupted, SETTINGS, workers=1)
    assert (result.parts_written, result.parts_reused) == (2, 2)
    assert _digests(interrupted) == _digests(reference)
    assert not list(interrupted.glob(".*.tmp"))
    again = collect(interrupted, SETTINGS, workers=1)
    assert (again.parts_written, again.parts_reused) == (0, 4)


def test_resume_after_the_process_is_killed(tmp_path):
    """A real `segue simulate`, killed with SIGKILL once a part has landed, then run again."""
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "segue.cli", "simulate", "--conversations", "400", "--seed", "3",
            "--part-size", "25", "--workers", "1", "--out", str(out), "--json"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    landed = len(list(out.glob("part-*.parquet")))
    assert 2 <= landed < 16
    finished = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    reference = tmp_path / "reference"
    collect(reference, CollectionSettings(conversations=400, seed=3, part_size=25), workers=1)
    assert _digests(out) == _digests(reference)
    table = read_logs(out)
    ids = np.unique(table["conversation_id"].to_numpy())
    assert len(ids) == 400 and np.array_equal(ids & 0xFFFFFFFF, np.arange(400))  # conversation index in the low 32 bits
    assert len(set((ids >> 32).tolist())) == 1  # one collection key


def test_other_settings_are_refused(tmp_path):
    collect(tmp_path / "logs", SETTINGS, workers=1)
    changed = CollectionSettings(conversations=120, seed=5, part_size=30, exploration=0.1)
    with pytest.raises(LogConflictError, match=r"exploration: 0\.3 there, 0\.1 now"):
        collect(tmp_path / "logs", changed, workers=1)
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "part-00000.parquet").write_bytes(b"x")
    with pytest.raises(LogConflictError, match=f"no {MANIFEST}"):
        collect(tmp_path / "stray", SETTINGS, workers=1)
    for bad in (dict(conversations=0), dict(conversations=10, exploration=-0.1), dict(conversations=10, part_size=0)):
        with pytest.raises(ConfigError):
            CollectionSettings(**bad)


def test_summary_contract_and_numbers(small_logs):
    summary = summarize(small_logs)
    for key, kind in (("conversations", int), ("turns", int), ("success_rate", float), ("mean_prompts", float),
                      ("usefulness_rate", float), ("abandon_rate", float), ("prompt_share", dict)):
        assert isinstance(summary[key], kind), key
    table = read_logs(small_logs)
    first = table["turn"].to_numpy() == 0
    assert summary["conversations"] == 200 == first.sum()
    assert summary["turns"] == table.num_rows
    assert summary["mean_prompts"] == pytest.approx(table.num_rows / 200)
    assert summary["success_rate"] == pytest.approx(table["success"].to_numpy(zero_copy_only=False)[first].mean())
    assert summary["success_rate"] + summary["abandon_rate"] + summary["truncated_rate"] == pytest.approx(1.0)
    assert sum(summary["prompt_share"].values()) == pytest.approx(1.0)
    assert summary["usefulness_rate"] == pytest.approx(table["reward"].to_numpy(zero_copy_only=False).mean())


def test_logged_rows_are_consistent(small_logs):
    table = read_logs(small_logs)
    probs = np.stack(table["action_probs"].to_numpy(zero_copy_only=False))
    masks = np.stack(table["valid_mask"].to_numpy(zero_copy_only=False))
    prompts = table["prompt"].to_pylist()
    from dialogue.prompts import prompt_index

    actions = np.array([prompt_index(p) for p in prompts])
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert not probs[~masks].any()
    assert np.allclose(probs[np.arange(len(actions)), actions], table["propensity"].to_numpy(), atol=1e-6)
    success = table["success"].to_numpy(zero_copy_only=False)
    reward = table["reward"].to_numpy(zero_copy_only=False)
    assert not reward[~success].any()  # abandoned conversations are all zero


def test_d3rlpy_dataset(small_logs):
    table = read_logs(small_logs)
    for variant, width in (("base", 73), ("history", 102)):
        transitions = to_transitions(table, features=variant)
        assert transitions.observations.shape == (table.num_rows, width)
        assert transitions.masks.shape == (table.num_rows, N_PROMPTS)
        dataset = to_mdp_dataset(table, features=variant)
        assert len(dataset.episodes) == 200
        assert sum(len(e.rewards) for e in dataset.episodes) == table.num_rows
        assert dataset.dataset_info.action_size == N_PROMPTS
        first = dataset.episodes[0]
        assert np.array_equal(first.actions.ravel(), transitions.actions[: len(first.actions)])
    with pytest.raises(ConfigError, match="--features must be base or history, got .everything."):
        to_transitions(table, features="everything")


def test_a_refused_collection_leaves_no_folder_behind(tmp_path):
    """`segue simulate --scorer nosuchdir --out x1` is refused; x1 must not then hold a manifest that refuses the
    corrected command as 'logs made with other settings'."""
    out = tmp_path / "x1"
    bad = subprocess.run([sys.executable, "-m", "segue.cli", "simulate", "-n", "10", "--scorer", str(tmp_path / "nosuchdir"),
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "no embeddings in" in bad.stderr and not out.exists()
    good = subprocess.run([sys.executable, "-m", "segue.cli", "simulate", "-n", "10", "--workers", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stderr
    # a run that fails before any part lands takes back the manifest (and the folder) it made
    class Boom(Exception):
        pass

    def explode(done, total):
        raise Boom

    fresh = tmp_path / "fresh"
    with pytest.raises(Boom):
        collect(fresh, CollectionSettings(conversations=10, seed=1, part_size=10), workers=1, progress=explode)
    assert not fresh.exists()
    kept = tmp_path / "kept"
    collect(kept, CollectionSettings(conversations=10, seed=1, part_size=10), workers=1)
    with pytest.raises(Boom):  # an existing collection keeps its manifest and parts
        collect(kept, CollectionSettings(conversations=10, seed=1, part_size=10), workers=1, progress=explode)
    assert (kept / MANIFEST).is_file() and list(kept.glob("part-*.parquet"))
