"""A cache of what an off-policy evaluation computes once per (policy, logs): the policy's choices at every logged
state and its fitted Q models.

Both depend only on the policy's files, the logs' contents and the Q model's settings, so a second evaluation of
the same policy on the same logs (``segue report`` after ``segue evaluate``, ``segue policy promote`` after either,
the main job run again) reads them instead of scoring ~2 million state-prompt pairs again (19.7 s for a
regressor policy on 50,000 conversations) and refitting FQE (about 16 s).

Keys are sha256 digests over the policy folder's files (names and bytes, ``d3rlpy_logs`` left out), the logs'
fingerprint (``logs.store.logs_fingerprint``: every part's bytes) and, for a Q model, its kind, settings and
ensemble member. Entries are ``.npz`` files written atomically; a damaged entry is ignored and rewritten. The
folder keeps at most ``max_bytes`` (default 2 GB): the least recently used entries go first. Removing the folder
is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .data import METRICS

__all__ = ["DEFAULT_CACHE", "OPECache", "policy_fingerprint"]

DEFAULT_CACHE = Path("runs/cache/ope")
_SKIP = {"d3rlpy_logs", "__pycache__"}


def policy_fingerprint(folder: Path) -> str:
    """sha256 (16 hex digits) over the names and bytes of a policy folder's files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not _SKIP & set(p.relative_to(folder).parts)):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class OPECache:
    """Choices and Q models of policies on one set of logs (``logs_fingerprint``), under ``folder``; a None folder
    caches nothing."""

    def __init__(self, folder: Path | None, logs_fingerprint: str, max_bytes: int = 2 * 1024**3) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.logs = logs_fingerprint
        self.max_bytes = max_bytes

    def _path(self, *parts) -> Path | None:
        if self.folder is None or parts[0] is None:
            return None
        key = hashlib.sha256(json.dumps([self.logs, *parts], sort_keys=True, default=str).encode()).hexdigest()[:24]
        return self.folder / f"{key}.npz"

    def _load(self, path: Path | None) -> dict | None:
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path) as entry:
                out = {k: entry[k] for k in entry.files}
            os.utime(path)  # recently used
            return out
        except (OSError, ValueError, EOFError):
            path.unlink(missing_ok=True)
            return None

    def _save(self, path: Path | None, arrays: dict) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, path)
            self._prune()
        except OSError:  # a cache that cannot be written only costs time
            return

    def _prune(self) -> None:
        entries = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob("*.npz"))
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    # ---------------------------------------------------------------- entries
    def target(self, policy_key: str | None) -> np.ndarray | None:
        """The policy's distribution at every logged state, float64 (n, N_PROMPTS), or None."""
        entry = self._load(self._path(policy_key, "target"))
        return entry["target"] if entry else None

    def save_target(self, policy_key: str | None, target: np.ndarray) -> None:
        self._save(self._path(policy_key, "target"), {"target": target})

    def q(self, policy_key: str | None, kind: str, settings: dict) -> dict | None:
        """metric -> (Q(s_t, a_t), V(s_t)) (``evaluation.ope.compact_q``), or None."""
        entry = self._load(self._path(policy_key, "q", kind, settings))
        return {m: (entry[f"q_{m}"], entry[f"v_{m}"]) for m in METRICS} if entry else None

    def save_q(self, policy_key: str | None, kind: str, settings: dict, compact: dict) -> None:
        self._save(self._path(policy_key, "q", kind, settings),
                   {**{f"q_{m}": compact[m][0] for m in METRICS}, **{f"v_{m}": compact[m][1] for m in METRICS}})
