"""Exact inner-product top-k on a torch device or the CPU, and its speed benchmark.

``DeviceMatrix`` keeps the catalog matrix where it is scored (a numpy array on
the CPU, a torch tensor on CUDA) and answers exact top-k queries against it:

- one query (or a small batch) in full fp32: on CUDA one matrix product and
  one ``torch.topk`` over every row, from pinned host buffers, when the score
  matrix fits the device's memory budget (no Python chunk loop); on the CPU a
  BLAS product with a group-maximum prune (``_topk_numpy``);
- a batch, where the hardware has fast bfloat16 (CUDA compute capability 8+,
  or a CPU with AVX512-BF16/AMX), in two passes: a bf16 candidate pass (the
  ``K`` best per query by the bf16 score) and an exact fp32 re-rank of the
  candidates whose bf16 score is within twice the rounding bound of the
  ``k``-th. The bound ``|bf16 score - fp32 score| <= c * |q| * max_i |x_i|``
  (``c = 3 * 2**-8 + d * 2**-22``: both inputs rounded to 8 significant bits,
  the product's rounding, fp32 accumulation) makes the result exact: every row
  of the true top-k is a candidate. A query whose dropped rows could still be
  within the band is answered by the exact fp32 pass instead (counted in
  ``fallbacks``), so recall is 100% by construction, not by luck.

Ties go to the lower row on every path. The method is the usual
"approximate scan, exact re-rank" of vector search (Johnson, Douze and Jegou,
"Billion-scale similarity search with GPUs", 2017, re-ranking in section 5),
here with a rounding bound instead of a recall target.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.errors import ConfigError

__all__ = ["DeviceMatrix", "resolve_device", "resolve_precision", "bench_scorer", "PRECISIONS", "rounding_coefficient"]

PRECISIONS = ("auto", "fp32", "bf16")


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


def _cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 products natively (AVX512-BF16 or AMX-BF16; read from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in text or " amx_bf16" in text


def resolve_precision(precision: str, device: str) -> str:
    """The candidate pass's number format for batches: "auto" is bf16 where the hardware has fast bf16
    (CUDA capability 8+, a CPU with AVX512-BF16 or AMX), else fp32. Raises ``ConfigError`` for another name."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device == "cpu":
        return "bf16" if _cpu_has_bf16() else "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp32"


def rounding_coefficient(precision: str, dim: int) -> float:
    """``c`` with ``|approximate score - fp32 score| <= c * |q| * max_i |x_i|`` for the candidate pass.

    bf16: each input has 8 significant bits (relative error <= 2**-8 each), the bf16 output one more
    rounding, fp32 accumulation over ``dim`` terms adds at most ``dim * 2**-23``; we take 3 * 2**-8 +
    dim * 2**-22 (twice the accumulation term, for reordered sums). fp32: the candidate scores are the
    final ones, 0."""
    if precision == "fp32":
        return 0.0
    return 3 * 2.0**-8 + dim * 2.0**-22


_GROUP = 64
_CHUNK_ELEMS = 1 << 22  # scores per chunk (chunk rows x queries) of the numpy path
_LOW_MIN_BATCH = 16  # smaller batches take the fp32 path (the bf16 pass pays off on compute-bound batches)


def _topk_numpy(matrix: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k on the CPU: one BLAS product per track chunk, the maximum of every group of 64
    tracks per query, then only the ``k`` best groups (which hold the top ``k`` tracks) re-scored."""
    n = matrix.shape[0]
    b = queries.shape[0]
    n_groups = -(-n // _GROUP)
    chunk = max(_GROUP, (max(4096, _CHUNK_ELEMS // b) // _GROUP) * _GROUP)
    buf = np.empty((chunk, b), dtype=np.float32)
    gmax = np.empty((n_groups, b), dtype=np.float32)  # per group, each query's best score (written contiguously)
    qt = np.ascontiguousarray(queries.T)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        out = buf[:rows]
        np.matmul(matrix[start : start + rows], qt, out=out)
        if mask is not None:
            out[~mask[start : start + rows]] = -np.inf
        g0, full = start // _GROUP, rows // _GROUP
        if full:
            np.max(buf[: full * _GROUP].reshape(full, _GROUP, b), axis=1, out=gmax[g0 : g0 + full])
        if rows % _GROUP:
            gmax[g0 + full] = buf[full * _GROUP : rows].max(axis=0)
    gmax = np.ascontiguousarray(gmax.T)
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
    return _best_first(scores, cand, k)


def _best_first(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score, row) pairs per query, best first, ties to the lower row (numpy (b, c) inputs)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    # every pair tied with the k-th score competes, so the lower row wins ties across the partition's cut
    ties = (scores >= kth).sum(axis=1)
    if (ties > k).any():
        order = np.lexsort((rows, -scores), axis=1)[:, :k]
    else:
        sel_s, sel_i = np.take_along_axis(scores, part, axis=1), np.take_along_axis(rows, part, axis=1)
        order2 = np.lexsort((sel_i, -sel_s), axis=1)
        return np.take_along_axis(sel_s, order2, axis=1), np.take_along_axis(sel_i, order2, axis=1).astype(np.int64)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1).astype(np.int64)


class DeviceMatrix:
    """A float32 (n, d) matrix kept where it is scored; exact inner-product top-k of queries against it.

    ``device``: "auto" (CUDA when present), "cpu" or "cuda[:N]". ``backend``: "auto" (numpy BLAS on the
    CPU, torch on CUDA), "numpy" (CPU only) or "torch" (the torch path on any device: the reference the
    tests compare against). ``precision``: the batch candidate pass, "auto", "fp32" or "bf16" (see the
    module docstring; the answer is exact either way). ``chunk``: rows per torch product (None: the whole
    matrix when the scores fit ``memory_budget`` bytes, else as many rows as fit). ``fallbacks`` counts
    queries answered by the exact pass because their candidate set could not be proven complete.
    Raises ``ConfigError`` for an unknown device, backend or precision.
    """

    def __init__(self, matrix: np.ndarray, device: str = "auto", *, backend: str = "auto", chunk: int | None = None,
                 precision: str = "auto", memory_budget: int | None = None) -> None:
        import torch

        self.torch = torch
        self.device = resolve_device(device)
        if backend not in ("auto", "torch", "numpy"):
            raise ConfigError(f"backend must be auto, torch or numpy, got {backend!r}")
        if backend == "numpy" and self.device != "cpu":
            raise ConfigError("the numpy backend runs on the CPU only")
        self.backend = ("numpy" if self.device == "cpu" else "torch") if backend == "auto" else backend
        self.precision = resolve_precision(precision, self.device)
        array = np.ascontiguousarray(matrix, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] < 1:
            raise ConfigError(f"the matrix must be 2-D with at least one row, got shape {array.shape}")
        self.n, self.dim = array.shape
        self.chunk = chunk
        self.fallbacks = 0
        cuda = self.device != "cpu"
        self._host = array if not cuda else None  # the CPU's fp32 rows (numpy path, exact re-rank on the CPU)
        self.matrix = array if self.backend == "numpy" else torch.from_numpy(array).to(self.device)
        self._x32 = None if self.backend == "numpy" else self.matrix
        self._low = None
        if self.precision == "bf16":
            self._low = (torch.from_numpy(array) if not cuda else self.matrix).to(device=self.device, dtype=torch.bfloat16)
        self._max_norm = max(float(np.sqrt((array[i : i + 65_536].astype(np.float64) ** 2).sum(axis=1).max()))
                             for i in range(0, self.n, 65_536))  # in blocks: no float64 copy of a 10M-row matrix
        if memory_budget is None:
            memory_budget = 1 << 26 if not cuda else min(8 << 30, torch.cuda.mem_get_info(torch.device(self.device))[0] // 4)
        self.memory_budget = int(memory_budget)
        self._pinned: dict[str, object] = {}
        self._buffers: dict[str, object] = {}

    # ------------------------------------------------------------ public
    def scores(self, query: np.ndarray) -> np.ndarray:
        """Scores of every row for one query (numpy float32 (n,))."""
        q = np.ascontiguousarray(query, dtype=np.float32)
        if self.backend == "numpy":
            return self.matrix @ q
        return (self.matrix @ self.torch.from_numpy(q).to(self.device)).cpu().numpy()

    def topk(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query, best first: (scores float32, indices int64), shape (b, k), or (k,) for one query.

        ``queries``: float (b, d) or (d,). ``mask``: optional bool (n,) of allowed rows; others never come
        back, and ``k`` is capped at the allowed count (0 allowed: empty arrays, not an error). Raises
        ``ConfigError`` for a query or mask of the wrong shape.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        single = q.ndim == 1
        if single:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ConfigError(f"queries must have {self.dim} columns, got shape {tuple(np.shape(queries))}")
        allowed = self.n
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (self.n,):
                raise ConfigError(f"mask must have shape ({self.n},), got {mask.shape}")
            allowed = int(np.count_nonzero(mask))
        k = min(k, allowed)
        low = self._low is not None and len(q) >= _LOW_MIN_BATCH
        if k <= 0:
            s, i = np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        elif self.backend == "numpy" and not low:
            s, i = _topk_numpy(self.matrix, q, k, mask)
        else:
            s, i = self._topk_torch(q, k, mask, allowed, low)
        return (s[0], i[0]) if single else (s, i)

    # ------------------------------------------------------------ torch path
    def _h2d(self, array: np.ndarray, name: str):
        """A host array on the device: through a reused pinned buffer on CUDA (asynchronous copy)."""
        t = self.torch.from_numpy(array)
        if self.device == "cpu":
            return t
        staged = self._staging(name, t.shape, t.dtype)
        staged.copy_(t)
        return staged.to(self.device, non_blocking=True)

    def _staging(self, name: str, shape, dtype):
        """A reused pinned host buffer of at least ``shape`` (allocating pinned memory is slow)."""
        torch = self.torch
        numel = int(np.prod(shape))
        buf = self._pinned.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = self._pinned[name] = torch.empty(max(numel, 1), dtype=dtype).pin_memory()
        return buf[:numel].view(tuple(shape))

    def _d2h(self, tensors):
        """Device tensors as numpy arrays (copies into pinned buffers, one synchronization on CUDA)."""
        if self.device == "cpu":
            return [t.numpy() for t in tensors]
        outs = [self._staging(f"out{j}", t.shape, t.dtype) for j, t in enumerate(tensors)]
        for o, t in zip(outs, tensors):
            o.copy_(t, non_blocking=True)
        self.torch.cuda.synchronize(self.device)
        return [o.numpy().copy() for o in outs]

    def _rows_per_chunk(self, b: int, itemsize: int) -> int:
        if self.chunk is not None:
            return max(1, int(self.chunk))
        return max(1024, min(self.n, self.memory_budget // max(1, b * itemsize)))

    def _buffer(self, name: str, shape, dtype):
        """A reused device buffer of exactly ``shape`` (a view of a buffer at least that large)."""
        torch = self.torch
        numel = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = self._buffers[name] = torch.empty(numel, dtype=dtype, device=self.device)
        return buf[:numel].view(tuple(shape))

    def _topk_torch(self, q: np.ndarray, k: int, mask: np.ndarray | None, allowed: int, low: bool):
        if not low:
            return self._topk_fp32(q, k, mask, allowed)
        if self.device == "cpu":
            return self._topk_two_pass(q, k, mask)
        # the rounding bound assumes fp32 accumulation: no reduced-precision (bf16) split-K reductions in cuBLAS
        flags = self.torch.backends.cuda.matmul
        before = flags.allow_bf16_reduced_precision_reduction
        flags.allow_bf16_reduced_precision_reduction = False
        try:
            return self._topk_two_pass(q, k, mask)
        finally:
            flags.allow_bf16_reduced_precision_reduction = before

    def _topk_fp32(self, q: np.ndarray, k: int, mask: np.ndarray | None, allowed: int):
        """One fp32 product and ``torch.topk`` per chunk (one chunk when the scores fit), then ties to the lower row."""
        torch = self.torch
        b = len(q)
        x = self._x32  # the torch backend's fp32 rows (a numpy-backend matrix never comes here: fp32 runs in numpy)
        qt = self._h2d(q, "q")
        m = self._h2d(mask, "mask") if mask is not None else None
        keep = min(allowed, k + 16)  # a few beyond k, so that ties at the k-th score can be seen
        rows = self._rows_per_chunk(b, 4)
        neg = float("-inf")
        dropped = torch.full((b,), neg, device=qt.device)
        vals, idx = [], []
        for start in range(0, self.n, rows):
            s = qt @ x[start : start + rows].T
            if m is not None:
                s = s.masked_fill(~m[start : start + rows][None, :], neg)
            kk = min(keep, s.shape[1])
            v, i = torch.topk(s, kk, dim=1)
            if s.shape[1] > kk:
                dropped = torch.maximum(dropped, v[:, -1])
            vals.append(v)
            idx.append(i + start)
        v, i = (vals[0], idx[0]) if len(vals) == 1 else (torch.cat(vals, 1), torch.cat(idx, 1))
        if len(vals) > 1:
            v, j = torch.topk(v, min(keep, v.shape[1]), dim=1)
            if v.shape[1] < sum(t.shape[1] for t in vals):
                dropped = torch.maximum(dropped, v[:, -1])
            i = torch.gather(i, 1, j)
        unsafe = dropped >= v[:, k - 1]  # a row left out ties the k-th score: the lower row may have been dropped
        by_row = torch.argsort(i, dim=1)  # best first, ties to the lower row: sort by row, then stably by score
        i, v = torch.gather(i, 1, by_row), torch.gather(v, 1, by_row)
        order = torch.sort(v, dim=1, descending=True, stable=True).indices[:, :k]
        top_v, top_i, unsafe_np = self._d2h([torch.gather(v, 1, order), torch.gather(i, 1, order), unsafe])
        top_v, top_i = np.array(top_v, dtype=np.float32), np.array(top_i, dtype=np.int64)
        bad = np.flatnonzero(unsafe_np)
        if bad.size:
            self.fallbacks += int(bad.size)
            top_v[bad], top_i[bad] = self._exact(q[bad], k, mask)
        return top_v, top_i

    def _topk_two_pass(self, q: np.ndarray, k: int, mask: np.ndarray | None):
        """bf16 scores per chunk; each query keeps the rows whose bf16 score reaches its running threshold (the k-th
        best group-of-64 maximum so far, less twice the rounding bound), found through the group maxima; the kept
        rows are re-scored in fp32. Exact: see the module docstring."""
        torch = self.torch
        b, G = len(q), _GROUP
        neg = float("-inf")
        qt = self._h2d(q, "q")
        qc = qt.to(torch.bfloat16)
        m = self._h2d(mask, "mask") if mask is not None else None
        band = 2 * rounding_coefficient("bf16", self.dim) * torch.linalg.vector_norm(qt, dim=1) * self._max_norm
        rows = max(G, self._rows_per_chunk(b, 2) // G * G)
        buf = self._buffer("scores", (b, min(rows, self.n)), torch.bfloat16)
        best = torch.full((b, k), neg, device=qt.device)  # the k best group maxima so far
        lanes = torch.arange(G, device=qt.device)
        found_q, found_r, found_v = [], [], []
        for start in range(0, self.n, rows):
            r = min(rows, self.n - start)
            out = buf[:, :r]
            torch.matmul(qc, self._low[start : start + r].T, out=out)
            if m is not None:
                out.masked_fill_(~m[start : start + r][None, :], neg)
            full = r // G
            parts = [out[:, : full * G].reshape(b, full, G).amax(2)] if full else []
            if r % G:
                parts.append(out[:, full * G :].amax(1, keepdim=True))
            g = (parts[0] if len(parts) == 1 else torch.cat(parts, 1)).float()
            best = torch.topk(torch.cat([best, g], 1), k, dim=1).values
            tau = best[:, k - 1] - band
            gq, gg = (g >= tau[:, None]).nonzero(as_tuple=True)
            if not gq.numel():
                continue
            cols = gg[:, None] * G + lanes  # (hits, 64): the rows of each group that reached the threshold
            inside = cols < r
            vals = out[gq[:, None], cols.clamp(max=r - 1)].float()
            hit = inside & (vals >= tau[gq][:, None]) & torch.isfinite(vals)
            hq, hc = hit.nonzero(as_tuple=True)
            found_q.append(gq[hq])
            found_r.append(cols[hq, hc] + start)
            found_v.append(vals[hq, hc])
        fq, fr, fv = torch.cat(found_q), torch.cat(found_r), torch.cat(found_v)
        sel = fv >= (best[:, k - 1] - band)[fq]  # the final threshold is the highest
        fq, fr = fq[sel], fr[sel]
        if self.device == "cpu":
            fq_np, fr_np = fq.numpy(), fr.numpy()
            exact = np.einsum("md,md->m", self._host[fr_np], q[fq_np])
        else:
            exact_t = (self._x32[fr] * qt[fq]).sum(1)
            exact, fq_np, fr_np = self._d2h([exact_t, fq, fr])
        order = np.lexsort((fr_np, -exact, fq_np))  # by query, then best first, ties to the lower row
        counts = np.bincount(fq_np, minlength=b)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pick = order[first[:, None] + np.arange(k)]  # every query has its k best among the kept rows
        return exact[pick].astype(np.float32), fr_np[pick].astype(np.int64)

    def _exact(self, q: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Full fp32 scores of every row, ties to the lower row: the fallback of the two-pass search."""
        if self._host is not None:
            return _topk_numpy(self._host, q, k, mask)
        torch = self.torch
        qt = torch.from_numpy(q).to(self.device)
        s = qt @ self._x32.T
        if mask is not None:
            s = s.masked_fill(~torch.from_numpy(mask).to(self.device)[None, :], float("-inf"))
        order = torch.sort(s, dim=1, descending=True, stable=True)
        return order.values[:, :k].cpu().numpy(), order.indices[:, :k].cpu().numpy().astype(np.int64)


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


def _recall(got: np.ndarray, want: np.ndarray) -> float:
    """Share of the exact top-k ids found, averaged over queries."""
    k = want.shape[1]
    return round(float(np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(got, want)])), 4)


def _brute_force(x: np.ndarray, q: np.ndarray, k: int, rows: int = 1 << 18) -> np.ndarray:
    """The exact fp32 top-``k`` rows of each query by brute force, ties to the lower row (the recall reference),
    in row chunks so that 10M tracks need no 10 GB score matrix."""
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(x), rows):
        s = q @ x[start : start + rows].T
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, part, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part + start], axis=1)
        order = np.lexsort((best_i, -best_s), axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, order, axis=1), np.take_along_axis(best_i, order, axis=1)
    return best_i


def _engine(single_fn, batch_fn, singles, block, single_repeats, batch_repeats, sync=None) -> dict:
    """Single-query latency (ms, p50 and p99; numpy in, ids out) and batch throughput of one engine."""
    single_fn(singles[0]), batch_fn(block[: min(len(block), 32)])  # warm-up
    it = iter(range(10**9))
    single = np.array(_timed(lambda: single_fn(singles[next(it) % len(singles)]), single_repeats, sync)) * 1e3
    ids = []
    batch_t = _timed(lambda: ids.append(batch_fn(block)), batch_repeats, sync)
    return {"single_ms": round(float(np.median(single)), 3), "single_p99_ms": round(float(np.percentile(single, 99)), 3),
            "batch_qps": round(len(block) / float(np.median(batch_t)), 1), "_ids": ids[-1]}


def _cpu_roofline(n: int, dim: int, batch: int, bf16: bool) -> dict:
    """Bounds measured on this CPU: copy bandwidth (256 MiB, read + write), fp32 GEMM rate (numpy's BLAS,
    2048^3) and bf16 GEMM rate (torch), and what they allow: the single query's scan time and the batch's
    queries per second (the minimum of the bandwidth and the compute bound)."""
    import torch

    src = np.ones(64 << 20, dtype=np.float32)
    dst = np.empty_like(src)
    copy = min(_timed(lambda: np.copyto(dst, src), 5))
    bandwidth = 2 * src.nbytes / copy
    a = np.ones((2048, 2048), dtype=np.float32)
    fp32 = 2 * 2048**3 / min(_timed(lambda: a @ a, 3))
    out = {"copy_bandwidth_gbs": round(bandwidth / 1e9, 1), "fp32_gflops": round(fp32 / 1e9, 1)}
    out["single_scan_ms_fp32"] = round(1e3 * n * dim * 4 / bandwidth, 3)
    bounds = {"fp32": min(batch * bandwidth / (n * dim * 4), fp32 / (2 * n * dim))}
    if bf16:
        t = torch.ones((2048, 2048), dtype=torch.bfloat16)
        rate = 2 * 2048**3 / min(_timed(lambda: t @ t, 3))
        out["bf16_gflops"] = round(rate / 1e9, 1)
        out["single_scan_ms_bf16"] = round(1e3 * n * dim * 2 / bandwidth, 3)
        bounds["bf16"] = min(batch * bandwidth / (n * dim * 2), rate / (2 * n * dim))
    out["batch_roofline_qps"] = {key: round(v, 1) for key, v in bounds.items()}
    return out


def _gpu_side(x: np.ndarray, singles: np.ndarray, block: np.ndarray, k: int, reference: np.ndarray, single_repeats: int,
              batch_repeats: int) -> dict:
    """The project's CUDA path beside plain torch (fp32, tf32, bf16: one matmul + topk, numpy in, ids out),
    and the roofline measured in the same run: copy bandwidth, fp32 and bf16 GEMM rates."""
    import torch

    sync = torch.cuda.synchronize
    n, dim = x.shape
    batch = len(block)
    out: dict = {"name": torch.cuda.get_device_name(0)}
    dm = DeviceMatrix(x, "cuda")
    project = _engine(lambda q: dm.topk(q, k), lambda q: dm.topk(q, k)[1], singles, block, single_repeats, batch_repeats, sync)
    project["precision"], project["recall"], project["fallbacks"] = dm.precision, _recall(project.pop("_ids")[: len(reference)], reference), dm.fallbacks
    out["project"] = project
    del dm
    x32 = torch.from_numpy(x).cuda()
    xb = x32.bfloat16()

    def plain(mat, dtype):
        def one(q):
            s = mat @ torch.from_numpy(np.ascontiguousarray(q)).to("cuda", dtype)
            return torch.topk(s, k, dim=-1).indices.cpu().numpy()
        return one

    tf32_before = torch.backends.cuda.matmul.allow_tf32
    try:
        for name, mat, dtype, tf32 in (("plain_fp32", x32, torch.float32, False), ("plain_tf32", x32, torch.float32, True),
                                       ("plain_bf16", xb, torch.bfloat16, False)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            fn = plain(mat, dtype)
            r = _engine(fn, fn, singles, block, single_repeats, batch_repeats, sync)
            r["recall"] = _recall(r.pop("_ids")[: len(reference)], reference)
            out[name] = r
        torch.backends.cuda.matmul.allow_tf32 = False
        big = torch.empty(256 * 2**20, dtype=torch.float32, device="cuda")  # 1 GiB: measured copy bandwidth
        bandwidth = 2 * big.numel() * 4 / float(np.median(_timed(lambda: big.clone(), 5, sync)))
        del big
        a = torch.ones((8192, 8192), device="cuda")
        fp32 = 2 * 8192**3 / float(np.median(_timed(lambda: a @ a, 5, sync)))
        ab = a.bfloat16()
        bf16 = 2 * 8192**3 / float(np.median(_timed(lambda: ab @ ab, 5, sync)))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32_before
    bound_fp32 = min(batch * bandwidth / (n * dim * 4), fp32 / (2 * n * dim))
    bound_bf16 = min(batch * bandwidth / (n * dim * 2), bf16 / (2 * n * dim))
    out["roofline"] = {
        "copy_bandwidth_gbs": round(bandwidth / 1e9, 1), "fp32_tflops": round(fp32 / 1e12, 2), "bf16_tflops": round(bf16 / 1e12, 2),
        "single_scan_ms_fp32": round(1e3 * n * dim * 4 / bandwidth, 4), "single_scan_ms_bf16": round(1e3 * n * dim * 2 / bandwidth, 4),
        "batch_roofline_qps": {"fp32": round(bound_fp32, 1), "bf16": round(bound_bf16, 1)},
    }
    out["project"]["fraction_of_fp32_roofline"] = round(out["project"]["batch_qps"] / bound_fp32, 3)
    out["project"]["fraction_of_single_scan_bound"] = round(out["roofline"]["single_scan_ms_fp32"] / out["project"]["single_ms"], 3)
    return out


def bench_scorer(
    n_tracks: int = 1_000_000, dim: int = 128, *, k: int = 10, batch: int = 1024, single_repeats: int = 30,
    batch_repeats: int = 3, seed: int = 0, threads: int | None = None, gpu: bool = True, cpu: bool = True,
) -> dict:
    """Top-``k`` speed on random unit vectors (speed does not depend on the values), side by side in one run:
    this scorer on the CPU, faiss-cpu ``IndexFlatIP`` on the same vectors, the CPU's roofline (measured copy
    bandwidth and GEMM rates), and on CUDA when present the project beside plain torch fp32/tf32/bf16 with the
    GPU's roofline. Single query: p50 and p99 milliseconds, numpy in, ids out; batch: queries per second.
    ``recall``: share of the exact fp32 top-k (numpy brute force) found on the batch's first 256 queries."""
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
    check = block[:256]
    reference = _brute_force(x, check, k)
    result: dict = {"tracks": n_tracks, "dim": dim, "k": k, "batch": batch, "threads": torch.get_num_threads()}

    result["gpu"] = None
    if not cpu:  # the GPU side only (a 10M-track run on a device machine): no CPU engines, no faiss
        if not (gpu and torch.cuda.is_available()):
            raise ConfigError("--gpu-only needs a CUDA GPU: torch sees none on this machine")
        result["gpu"] = _gpu_side(x, singles, block, k, reference, max(single_repeats, 200), batch_repeats)
        return result
    engine = DeviceMatrix(x, "cpu")
    r = _engine(lambda q: engine.topk(q, k), lambda q: engine.topk(q, k)[1], singles, block, single_repeats, batch_repeats)
    r["precision"], r["recall"], r["fallbacks"] = engine.precision, _recall(r.pop("_ids")[: len(check)], reference), engine.fallbacks
    result["cpu"] = r
    index = faiss.IndexFlatIP(dim)
    index.add(x)
    r = _engine(lambda q: index.search(q[None, :], k), lambda q: index.search(q, k)[1], singles, block, single_repeats, batch_repeats)
    r["recall"] = _recall(r.pop("_ids")[: len(check)], reference)
    result["faiss_cpu"] = r
    _, fi = index.search(block[:64], k)
    result["agreement_with_faiss"] = _recall(engine.topk(block[:64], k)[1], fi)
    result["cpu_vs_faiss"] = {
        "single_speedup": round(result["faiss_cpu"]["single_ms"] / result["cpu"]["single_ms"], 3),
        "batch_speedup": round(result["cpu"]["batch_qps"] / result["faiss_cpu"]["batch_qps"], 3),
    }
    roof = _cpu_roofline(n_tracks, dim, batch, engine.precision == "bf16")
    roof["fraction_of_fp32_roofline"] = round(result["cpu"]["batch_qps"] / roof["batch_roofline_qps"]["fp32"], 3)
    roof["fraction_of_own_roofline"] = round(result["cpu"]["batch_qps"] / roof["batch_roofline_qps"][engine.precision], 3)
    roof["fraction_of_single_scan_bound"] = round(roof["single_scan_ms_fp32"] / result["cpu"]["single_ms"], 3)
    result["cpu_roofline"] = roof
    if gpu and torch.cuda.is_available():
        result["gpu"] = _gpu_side(x, singles, block, k, reference, max(single_repeats, 200), batch_repeats)
    return result
