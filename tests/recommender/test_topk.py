import numpy as np
import pytest

from core.errors import ConfigError
from recommender.topk import DeviceMatrix


def same_topk(a, b, tol=1e-4):
    """Same scores, and the same rows except where neighbouring scores tie within ``tol``."""
    (sa, ia), (sb, ib) = a, b
    assert sa.shape == sb.shape and np.allclose(sa, sb, atol=tol)
    for row_a, row_b, s in zip(np.atleast_2d(ia), np.atleast_2d(ib), np.atleast_2d(sa)):
        for j in np.flatnonzero(row_a != row_b):
            near = np.abs(s - s[j]) <= tol
            assert np.count_nonzero(near) > 1, f"position {j}: {row_a[j]} vs {row_b[j]} with no tie"


@pytest.mark.parametrize("n, d", [(1_000, 8), (21_502, 64), (70_001, 16)])
def test_numpy_cpu_backend_matches_torch(n, d):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, d)).astype(np.float32)
    q = rng.standard_normal((33, d)).astype(np.float32)
    fast, reference = DeviceMatrix(x, "cpu"), DeviceMatrix(x, "cpu", backend="torch", chunk=4_096)
    assert fast.backend == "numpy" and reference.backend == "torch"
    mask = rng.random(n) < 0.2
    for m in (None, mask):
        for k in (1, 10, 150):
            got, want = fast.topk(q, k, m), reference.topk(q, k, m)
            same_topk(got, want)
            brute = (q @ x.T) if m is None else np.where(m, q @ x.T, -np.inf)
            assert np.allclose(got[0][:, 0], brute.max(axis=1), atol=1e-4)
            if m is not None:
                assert mask[got[1]].all()


def test_one_query_empty_mask_and_caps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 4)).astype(np.float32)
    dm = DeviceMatrix(x, "cpu")
    s, i = dm.topk(x[3], 5)
    assert s.shape == (5,) and i[0] == int(np.argmax(x @ x[3]))
    s, i = dm.topk(x[3], 5, np.zeros(500, bool))
    assert s.shape == (0,) and i.shape == (0,)
    only = np.zeros(500, bool)
    only[[7, 9]] = True
    s, i = dm.topk(x[3], 10, only)
    assert sorted(i.tolist()) == [7, 9]
    with pytest.raises(ConfigError, match="4 columns"):
        dm.topk(np.zeros(3, np.float32), 5)
    with pytest.raises(ConfigError, match="mask must have shape"):
        dm.topk(x[0], 5, np.ones(3, bool))


def test_device_choice():
    import torch

    assert DeviceMatrix(np.eye(3, dtype=np.float32)).device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            DeviceMatrix(np.eye(3, dtype=np.float32), "cuda")
    with pytest.raises(ConfigError, match="auto, cpu or cuda"):
        DeviceMatrix(np.eye(3, dtype=np.float32), "tpu")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA GPU here")
def test_gpu_matches_cpu():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((200_000, 128)).astype(np.float32)
    q = rng.standard_normal((64, 128)).astype(np.float32)
    mask = rng.random(len(x)) < 0.5
    for m in (None, mask):
        same_topk(DeviceMatrix(x, "cuda").topk(q, 10, m), DeviceMatrix(x, "cpu").topk(q, 10, m), tol=1e-3)


def assert_exact(got, x, q, k, mask=None, rtol=2e-6):
    """``got`` is a top-k up to float32 rounding: its scores are the rows' true scores (float64), best first,
    distinct allowed rows, and its k-th score reaches the true k-th (a row swapped across the cut ties it)."""
    s_got, i_got = got
    truth = q.astype(np.float64) @ x.astype(np.float64).T
    if mask is not None:
        truth = np.where(mask, truth, -np.inf)
    scale = rtol * np.abs(truth[np.isfinite(truth)]).max()
    kth = -np.sort(-truth, axis=1)[:, k - 1]
    for row in range(len(q)):
        mine = truth[row, i_got[row]]
        assert len(set(i_got[row].tolist())) == k and np.isfinite(mine).all()
        assert np.allclose(s_got[row], mine, atol=scale)
        assert (np.diff(mine) <= scale).all()
        assert mine[-1] >= kth[row] - scale


@pytest.mark.parametrize("chunk", [None, 3_000])
def test_bf16_candidates_with_exact_rerank_are_exact(chunk):
    """The two-pass batch search (bf16 candidates, fp32 re-rank within the rounding band) returns the exact
    top-k, on spread data and on clustered data where thousands of rows crowd the band."""
    rng = np.random.default_rng(7)
    spread = rng.standard_normal((20_000, 32)).astype(np.float32)
    crowded = (1.0 + 1e-3 * rng.standard_normal((20_000, 32))).astype(np.float32)  # every score within ~0.1%
    q = rng.standard_normal((40, 32)).astype(np.float32)
    mask = rng.random(20_000) < 0.3
    for x in (spread, crowded):
        dm = DeviceMatrix(x, "cpu", precision="bf16", chunk=chunk)
        assert dm.precision == "bf16"
        for m in (None, mask):
            for k in (1, 10, 150):
                got = dm.topk(q, k, m)
                assert_exact(got, x, q, k, m)
                if m is not None:
                    assert m[got[1]].all()


def test_ties_go_to_the_lower_row_on_every_path():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((300, 16)).astype(np.float32)
    x = np.concatenate([base, base, base])  # every score three times: rows r, r + 300, r + 600
    q = rng.standard_normal((20, 16)).astype(np.float32)
    for dm in (DeviceMatrix(x, "cpu", precision="fp32"), DeviceMatrix(x, "cpu", precision="bf16"),
               DeviceMatrix(x, "cpu", backend="torch", precision="fp32", chunk=256)):
        s, i = dm.topk(q, 9)
        best = np.argmax(q @ base.T, axis=1)
        assert (i[:, :3] == best[:, None] + np.array([0, 300, 600])).all(), dm.precision
        assert (np.diff(s, axis=1) <= 0).all()


def test_precision_choice_and_errors():
    x = np.eye(4, dtype=np.float32)
    assert DeviceMatrix(x, "cpu", precision="fp32").precision == "fp32"
    assert DeviceMatrix(x, "cpu").precision in ("fp32", "bf16")
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, bf16, got 'fp8'"):
        DeviceMatrix(x, "cpu", precision="fp8")
