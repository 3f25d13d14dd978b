"""Exact inner-product top-k on a torch device, and its speed benchmark.

The catalog matrix is moved to the device once (``DeviceMatrix``); a query
or a batch of queries is scored against it in track chunks, so a batch of
1,024 over a million tracks never materializes a 4 GB score matrix.
"""

from __future__ import annotations

import time

import numpy as np

from core.errors import ConfigError

__all__ = ["DeviceMatrix", "resolve_device", "bench_scorer"]


def resolve_device(device: str = "auto") -> str:
    """"auto" is CUDA when torch sees a GPU, else the CPU; an explicit "cuda" without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: torch sees no CUDA GPU on this machine (use cpu or auto)")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda[:N], got {device!r}")
    return device


_GROUP = 64
_CHUNK_ELEMS = 1 << 22  # scores per chunk (chunk rows x queries)


def _topk_numpy(matrix: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k on the CPU: one BLAS product per track chunk, the maximum of every group of 64
    tracks per query, then only the ``k`` best groups (which hold the top ``k`` tracks) re-scored."""
    n = matrix.shape[0]
    b = queries.shape[0]
    n_groups = -(-n // _GROUP)
    chunk = max(_GROUP, (max(4096, _CHUNK_ELEMS // b) // _GROUP) * _GROUP)
    buf = np.empty((chunk, b), dtype=np.float32)
    gmax = np.empty((b, n_groups), dtype=np.float32)  # per query, the best score of each group
    qt = np.ascontiguousarray(queries.T)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        out = buf[:rows]
        np.matmul(matrix[start : start + rows], qt, out=out)
        if mask is not None:
            out[~mask[start : start + rows]] = -np.inf
        g0, full = start // _GROUP, rows // _GROUP
        if full:
            gmax[:, g0 : g0 + full] = buf[: full * _GROUP].reshape(full, _GROUP, b).max(axis=1).T
        if rows % _GROUP:
            gmax[:, g0 + full] = buf[full * _GROUP : rows].max(axis=0)
    kg = min(k, n_groups)
    groups = np.argpartition(gmax, n_groups - kg, axis=1)[:, n_groups - kg :] if kg < n_groups else np.broadcast_to(np.arange(n_groups), (b, n_groups))
    cand = (groups[:, :, None] * _GROUP + np.arange(_GROUP)).reshape(b, -1)  # (b, kg * 64)
    valid = cand < n
    cand = np.where(valid, cand, 0)
    if mask is not None:
        valid &= mask[cand]
    scores = np.empty(cand.shape, dtype=np.float32)
    for s in range(0, b, 128):  # bounded gather: 128 queries x 640 rows at a time
        scores[s : s + 128] = np.einsum("bcd,bd->bc", matrix[cand[s : s + 128]], queries[s : s + 128])
    scores[~valid] = -np.inf
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.broadcast_to(np.arange(scores.shape[1]), (b, scores.shape[1]))
    top_s = np.take_along_axis(scores, part, axis=1)
    top_i = np.take_along_axis(cand, part, axis=1)
    order = np.lexsort((top_i, -top_s), axis=1)  # best first, ties to the lower row
    return np.take_along_axis(top_s, order, axis=1), np.take_along_axis(top_i, order, axis=1).astype(np.int64)


class DeviceMatrix:
    """A float32 (n, d) matrix kept on ``device`` once; exact inner-product top-k of queries against it.

    On CUDA it is a torch tensor: a matrix product per track chunk, ``torch.topk`` per chunk, merged.
    On the CPU the default backend is numpy's BLAS with a group-maximum prune (measured 2x faster
    than torch's CPU matmul + topk on this AMD machine, where torch's BLAS is slow); ``backend="torch"``
    runs the torch path on the CPU too (the reference the tests compare against).
    """

    def __init__(self, matrix: np.ndarray, device: str = "auto", *, backend: str = "auto", chunk: int = 65_536) -> None:
        import torch

        self.torch = torch
        self.device = resolve_device(device)
        if backend not in ("auto", "torch", "numpy"):
            raise ConfigError(f"backend must be auto, torch or numpy, got {backend!r}")
        if backend == "numpy" and self.device != "cpu":
            raise ConfigError("the numpy backend runs on the CPU only")
        self.backend = ("numpy" if self.device == "cpu" else "torch") if backend == "auto" else backend
        array = np.ascontiguousarray(matrix, dtype=np.float32)
        self.matrix = array if self.backend == "numpy" else torch.from_numpy(array).to(self.device)
        self.n, self.dim = array.shape
        self.chunk = chunk

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Scores of every row for one query (numpy float32 (n,))."""
        q = np.ascontiguousarray(query, dtype=np.float32)
        if self.backend == "numpy":
            return self.matrix @ q
        return (self.matrix @ self.torch.from_numpy(q).to(self.device)).cpu().numpy()

    def topk(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query, best first: (scores float32, indices int64), shape (b, k), or (k,) for one query.

        ``mask``: optional bool (n,) of allowed rows; others never come back, and ``k`` is capped at
        the allowed count (0 allowed: empty arrays, not an error).
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        single = q.ndim == 1
        if single:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ConfigError(f"queries must have {self.dim} columns, got shape {tuple(np.shape(queries))}")
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (self.n,):
                raise ConfigError(f"mask must have shape ({self.n},), got {mask.shape}")
            k = min(k, int(np.count_nonzero(mask)))
        k = min(k, self.n)
        if k <= 0:
            s, i = np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        elif self.backend == "numpy":
            s, i = _topk_numpy(self.matrix, q, k, mask)
        else:
            s, i = self._topk_torch(q, k, mask)
        return (s[0], i[0]) if single else (s, i)

    def _topk_torch(self, q: np.ndarray, k: int, mask: np.ndarray | None):
        torch = self.torch
        qt = torch.from_numpy(q).to(self.device)
        m = torch.from_numpy(mask).to(self.device) if mask is not None else None
        best_s, best_i = [], []
        for start in range(0, self.n, self.chunk):
            block = self.matrix[start : start + self.chunk]
            s = qt @ block.T
            if m is not None:
                s = s.masked_fill(~m[start : start + self.chunk][None, :], float("-inf"))
            v, i = torch.topk(s, min(k, block.shape[0]), dim=1)
            best_s.append(v)
            best_i.append(i + start)
        s, i = torch.cat(best_s, dim=1), torch.cat(best_i, dim=1)
        if len(best_s) > 1:
            s, j = torch.topk(s, k, dim=1)
            i = torch.gather(i, 1, j)
        return s.cpu().numpy(), i.cpu().numpy().astype(np.int64)


# ------------------------------------------------------------------ benchmark
def _timed(fn, repeats: int, sync=None) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        out.append(time.perf_counter() - t)
    return out


def bench_scorer(
    n_tracks: int = 1_000_000, dim: int = 128, *, k: int = 10, batch: int = 1024, single_repeats: int = 30,
    batch_repeats: int = 3, seed: int = 0, threads: int | None = None, gpu: bool = True,
) -> dict:
    """Top-``k`` speed on random unit vectors (speed does not depend on the values): torch on the CPU,
    faiss-cpu ``IndexFlatIP`` on the same vectors, torch on CUDA when present. Single query: median
    milliseconds; batch: queries per second. Also how often torch and faiss agree on the top-k."""
    if not 1_000 <= n_tracks <= 50_000_000:
        raise ConfigError(f"--tracks must be between 1,000 and 50,000,000, got {n_tracks}")
    if not 2 <= dim <= 4096:
        raise ConfigError(f"--dim must be between 2 and 4,096, got {dim}")
    try:
        import faiss
    except ImportError:
        raise ConfigError("the scorer benchmark compares against faiss-cpu: pip install faiss-cpu (make test installs it)") from None
    import torch

    if threads:
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_tracks, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    queries = rng.standard_normal((batch + single_repeats, dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    singles, block = queries[batch:], queries[:batch]
    result: dict = {"tracks": n_tracks, "dim": dim, "k": k, "batch": batch, "threads": torch.get_num_threads()}

    def run(dm: DeviceMatrix, sync=None) -> dict:
        it = iter(range(10**9))
        dm.topk(singles[0], k), dm.topk(block[:8], k)  # warm-up
        single = _timed(lambda: dm.topk(singles[next(it) % len(singles)], k), single_repeats, sync)
        batch_t = _timed(lambda: dm.topk(block, k), batch_repeats, sync)
        return {"single_ms": round(1e3 * float(np.median(single)), 3), "batch_qps": round(batch / float(np.median(batch_t)), 1)}

    cpu = DeviceMatrix(x, "cpu")
    result["cpu"] = run(cpu)
    index = faiss.IndexFlatIP(dim)
    index.add(x)
    index.search(singles[:1], k)
    it = iter(range(10**9))
    single = _timed(lambda: index.search(singles[next(it) % len(singles)][None, :], k), single_repeats)
    batch_t = _timed(lambda: index.search(block, k), batch_repeats)
    result["faiss_cpu"] = {"single_ms": round(1e3 * float(np.median(single)), 3), "batch_qps": round(batch / float(np.median(batch_t)), 1)}
    _, fi = index.search(block[:64], k)
    ti = cpu.topk(block[:64], k)[1]
    result["agreement_with_faiss"] = round(float(np.mean([len(set(a) & set(b)) / k for a, b in zip(fi, ti)])), 4)
    result["cpu_vs_faiss"] = {
        "single_speedup": round(result["faiss_cpu"]["single_ms"] / result["cpu"]["single_ms"], 3),
        "batch_speedup": round(result["cpu"]["batch_qps"] / result["faiss_cpu"]["batch_qps"], 3),
    }
    result["gpu"] = None
    if gpu and torch.cuda.is_available():
        dm = DeviceMatrix(x, "cuda")
        result["gpu"] = run(dm, torch.cuda.synchronize)
        result["gpu"]["name"] = torch.cuda.get_device_name(0)
        big = torch.empty(256 * 2**20, dtype=torch.float32, device="cuda")  # 1 GiB: measured copy bandwidth
        copy = _timed(lambda: big.clone(), 5, torch.cuda.synchronize)
        bandwidth = 2 * big.numel() * 4 / float(np.median(copy))
        bound_qps = batch * bandwidth / (n_tracks * dim * 4)  # each batch must read the matrix once
        result["gpu"]["copy_bandwidth_gbs"] = round(bandwidth / 1e9, 1)
        result["gpu"]["bandwidth_bound_qps"] = round(bound_qps, 1)
        result["gpu"]["fraction_of_bandwidth_bound"] = round(result["gpu"]["batch_qps"] / bound_qps, 3)
    return result
