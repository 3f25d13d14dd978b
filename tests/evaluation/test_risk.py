"""Risk estimates against values computed another way."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.risk import abandoned_share, cvar


def test_cvar_with_equal_weights_is_the_mean_of_the_worst_share():
    returns = np.arange(20, dtype=np.float64)[::-1]        # 19..0
    counts = np.ones((1, 20))
    assert cvar(counts, np.ones(20), returns, 0.1)[0] == pytest.approx(0.5)    # worst 2 of 20: 0 and 1
    assert cvar(counts, np.ones(20), returns, 1.0)[0] == pytest.approx(returns.mean())
    assert cvar(counts, np.ones(20), returns, 0.125)[0] == pytest.approx((0 + 1 + 0.5 * 2) / 2.5)  # a split atom


def test_cvar_with_weights_is_that_of_the_expanded_sample():
    """Integer weights and counts: the same as repeating each conversation W_i x c_i times."""
    rng = np.random.default_rng(0)
    returns = rng.integers(0, 6, size=50).astype(np.float64)
    weights = rng.integers(0, 4, size=50).astype(np.float64)
    counts = rng.integers(0, 3, size=(3, 50)).astype(np.float64)
    got = cvar(counts, weights, returns, 0.2)
    for b in range(3):
        expanded = np.sort(np.repeat(returns, (weights * counts[b]).astype(int)))
        k = 0.2 * len(expanded)
        whole = int(np.floor(k))
        expected = (expanded[:whole].sum() + (k - whole) * (expanded[whole] if whole < len(expanded) else 0)) / k
        assert got[b] == pytest.approx(expected)
    with pytest.raises(ValueError, match="alpha"):
        cvar(counts, weights, returns, 0.0)


def test_abandoned_share_by_hand():
    counts = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0], [1.0, 0.0, 0.0]])
    weights = np.array([2.0, 1.0, 0.0])
    abandoned = np.array([1.0, 0.0, 1.0])
    got = abandoned_share(counts, weights, abandoned)
    assert got[0] == pytest.approx(2 / 3) and got[1] == pytest.approx(0.0) and got[2] == pytest.approx(1.0)
    assert np.isnan(abandoned_share(np.array([[0.0, 0.0, 1.0]]), weights, abandoned)[0])


def test_cvar_of_prompts_is_the_longest_share():
    from evaluation.estimators import Sums
    from evaluation.risk import risk_values

    lengths = np.array([1.0, 2.0, 3.0, 10.0, 20.0] * 2)
    values = risk_values(Sums(np.ones((1, 10)), 20), "p", np.ones(10), None, np.zeros(10), lengths, alpha=0.2)
    assert values["cvar_prompts"][0] == pytest.approx(20.0) and "abandoned" not in values


def test_risks_through_the_sums_match_the_direct_forms():
    from evaluation.estimators import Sums, SumsPlan
    from evaluation.risk import risk_values

    rng = np.random.default_rng(4)
    usefulness = rng.integers(0, 5, size=60).astype(np.float64)
    prompts = rng.integers(1, 12, size=60).astype(np.float64)
    weights = rng.exponential(size=60)
    abandoned = rng.random(60) < 0.3
    counts = rng.multinomial(60, np.full(60, 1 / 60), size=4).astype(np.float64)
    plan = SumsPlan()
    risk_values(Sums(np.ones((1, 60)), 20, plan), "p", weights, abandoned, usefulness, prompts)  # fills the plan
    got = risk_values(Sums(counts, 20, plan), "p", weights, abandoned, usefulness, prompts)   # one batched product
    assert np.allclose(got["cvar_usefulness"], cvar(counts, weights, usefulness, 0.1))
    assert np.allclose(got["cvar_prompts"], -cvar(counts, weights, -prompts, 0.1))
    assert np.allclose(got["abandoned"], abandoned_share(counts, weights, abandoned.astype(float)))


def test_risk_intervals_are_cut_to_the_values_a_risk_can_take():
    """A t interval of an abandonment share near 0 read [-0.080, 0.425] in a report; a share is never below 0."""
    from evaluation.risk import RISK_RANGES, clip_interval

    assert clip_interval((-0.080, 0.425), *RISK_RANGES["abandoned"]) == (0.0, 0.425)
    assert clip_interval((0.7, 1.3), *RISK_RANGES["abandoned"]) == (0.7, 1.0)
    assert clip_interval((-2.0, 14.5), *RISK_RANGES["cvar_prompts"]) == (0.0, 14.5)
    assert clip_interval((1.2, 1.5), 0.0, 1.0) == (1.0, 1.0)  # wholly outside: the nearest end
    assert clip_interval(None, 0.0, 1.0) is None
    assert clip_interval((0.1, 0.2), 0.0, 1.0) == (0.1, 0.2)  # inside: unchanged
