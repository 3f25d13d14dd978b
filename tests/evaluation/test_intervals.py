"""Intervals and bounds against values computed another way, and their coverage on a bandit whose truth is exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dialogue.prompts import N_PROMPTS
from evaluation.data import Metric, OPEData
from evaluation.intervals import Jackknife, bca, bootstrap_t, hcope_interval, hcope_lower, jackknife_groups, percentile, student_t
from evaluation.ope import OPESettings, evaluate_targets


def test_grouped_jackknife_of_a_mean_is_its_standard_error():
    """For a mean, the delete-a-group jackknife with equal groups gives sd / sqrt(n) up to the groups' sampling."""
    rng = np.random.default_rng(0)
    x = rng.exponential(size=2000)
    counts = jackknife_groups(len(x), 100, seed=1)
    assert (counts == 0).sum() == len(x) and set(np.unique(counts.sum(axis=0))) == {99.0}  # each left out once
    values = (counts @ x) / counts.sum(axis=1)
    jack = Jackknife(values)
    # closed form over the same groups: theta_(g) = (S - S_g) / (n - n_g)
    assignment = counts.argmin(axis=0)
    sums = np.bincount(assignment, x, minlength=100)
    sizes = np.bincount(assignment, minlength=100)
    closed = (x.sum() - sums) / (len(x) - sizes)
    assert np.allclose(values, closed)
    # 100 groups estimate the standard error to about 1 / sqrt(2 x 99) = 7% (one standard deviation)
    assert jack.standard_error == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=0.15)
    lo, hi = student_t(float(x.mean()), jack, 0.95)
    assert hi - lo == pytest.approx(2 * stats.t.ppf(0.975, 99) * jack.standard_error)


def test_bca_without_bias_or_skew_is_the_percentile_interval():
    draws = np.random.default_rng(2).normal(size=4001)
    estimate = float(np.median(draws))
    symmetric = Jackknife(np.array([-1.0, 1.0, -2.0, 2.0]))
    assert symmetric.acceleration == pytest.approx(0.0)
    assert bca(draws, estimate, symmetric, 0.9) == pytest.approx(percentile(draws, 0.9), abs=1e-3)


def test_bca_moves_with_the_bias_correction():
    draws = np.random.default_rng(3).normal(size=4000)
    lo, hi = bca(draws, 0.5, None, 0.9)  # the estimate sits above most draws: z0 > 0 shifts the interval up
    plo, phi = percentile(draws, 0.9)
    assert lo > plo and hi > phi


def test_bootstrap_t_by_hand():
    draws = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    se = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    lo, hi = bootstrap_t(draws, se, 3.0, 0.5, 0.5)   # t* = -2..2; quantiles 25% / 75% = -1 / 1
    assert (lo, hi) == pytest.approx((3.0 - 1.0 * 0.5, 3.0 + 1.0 * 0.5))


def test_thomas_bound_by_hand():
    """With the threshold above every X the bound is the empirical Bernstein bound of Thomas et al. 2015, Theorem 1."""
    x = np.array([0.0, 1.0, 2.0, 0.5, 1.5] * 40)
    record = hcope_lower(x, 0.05, seed=0)
    c, post = record["threshold"], None
    assert c is not None and 0 < c <= x.max()
    order = np.random.default_rng(0).permutation(len(x))
    post = x[order[40:]]
    y = np.minimum(post, c)
    n = len(y)
    expected = y.mean() - 7 * c * np.log(40) / (3 * (n - 1)) - np.sqrt(2 * np.log(40) * y.var(ddof=1) / n)
    assert record["bound"] == pytest.approx(max(expected, 0.0))
    with pytest.raises(ValueError, match="X >= 0"):
        hcope_lower(np.array([1.0, -1.0, 2.0]), 0.05)
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        hcope_interval(np.ones(10), np.ones(10), np.full(10, 2.0), 1.0, 0.95)


def _bandit(n: int, rng: np.random.Generator, probs=(0.6, 0.3, 0.1), success=(0.2, 0.5, 0.9)) -> OPEData:
    """One-turn conversations: the logging policy asks prompt a with probs[a], the person succeeds with success[a]."""
    actions = rng.choice(3, size=n, p=probs)
    behaviour = np.zeros((n, N_PROMPTS))
    behaviour[:, :3] = probs
    won = rng.random(n) < np.asarray(success)[actions]
    return OPEData(conversation=np.arange(n), turn=np.zeros(n, np.int64), actions=actions.astype(np.int64),
                   propensities=np.asarray(probs)[actions], masks=behaviour > 0, features=np.zeros((n, 1), np.float32),
                   history=np.zeros((n, 1), np.float32), rewards=won.astype(np.float64), success=won,
                   persona=np.array(["decisive"] * n, dtype=object), behaviour=behaviour, abandoned=~won)


def test_coverage_on_a_bandit_whose_truth_is_exact():
    """Target: prompt 2 (logged 10% of the time) with probability 0.8, prompt 0 otherwise; true success 0.76.
    The hcope bounds hold by their guarantee; the bootstrap and t intervals near their level."""
    truth = 0.8 * 0.9 + 0.2 * 0.2
    runs, n = 120, 400
    covered = {k: 0 for k in ("percentile", "bca", "t", "bootstrap-t")}
    hcope_lower_held = hcope_covered = 0
    for seed in range(runs):
        data = _bandit(n, np.random.default_rng(seed))
        target = np.zeros((n, N_PROMPTS))
        target[:, 2], target[:, 0] = 0.8, 0.2
        result = evaluate_targets(data, {"t": target}, OPESettings(estimators=("is",), bootstrap=200, seed=seed, min_ess=0,
                                                                   jackknife_groups=40))
        estimate = result.policies["t"].estimate("is", Metric.SUCCESS_RATE)
        for method in covered:
            lo, hi = estimate.intervals[method]
            covered[method] += lo <= truth <= hi
        lo, hi = result.policies["t"].bounds[Metric.SUCCESS_RATE]["hcope"]["interval"]
        hcope_lower_held += lo <= truth
        hcope_covered += lo <= truth <= hi
    assert hcope_lower_held == runs and hcope_covered == runs  # a guarantee: not one miss in 120 expected
    for method, count in covered.items():
        assert count / runs >= 0.88, (method, count / runs)


def test_a_q_ensemble_puts_the_model_refit_variance_into_the_direct_method():
    """Without an ensemble the direct method's bootstrap resamples conversations around one fitted Q model (a
    near-zero spread on a one-turn bandit, where V(s) is the same everywhere); with one, draw b reads member b mod K,
    each member refitted on its own resample, so the spread holds the model's refit variance."""
    from evaluation.qmodel import FQESettings, _resampled_rows

    data = _bandit(300, np.random.default_rng(11))
    target = np.zeros((300, N_PROMPTS))
    target[:, 2], target[:, 0] = 0.8, 0.2
    fqe = FQESettings(steps=40, batch_size=64, hidden=(16,))
    key = ("t", "dm", Metric.SUCCESS_RATE)
    q_values: dict = {}
    plain = evaluate_targets(data, {"t": target}, OPESettings(estimators=("dm", "dr"), bootstrap=60, min_ess=0, fqe=fqe),
                             q_values=q_values)
    ensemble = evaluate_targets(data, {"t": target}, OPESettings(estimators=("dm", "dr"), bootstrap=60, min_ess=0, fqe=fqe,
                                                                 q_ensemble=3), q_values=q_values)
    assert set(q_values["t"]) == {"fqe", "fqe#0", "fqe#1", "fqe#2"}  # the main model was reused, three members fitted
    assert ensemble.point[key] == plain.point[key]                   # the estimate is the main model's
    assert np.std(ensemble.draws[key]) > 3 * np.std(plain.draws[key])
    members = [float(q_values["t"][f"fqe#{k}"][Metric.SUCCESS_RATE][1][0]) for k in range(3)]  # (Q logged, V): V at turn 0
    for k in range(3):  # draw b uses member b mod 3: on a one-turn bandit the draw is that member's V
        assert np.allclose(ensemble.draws[key][k::3], members[k])
    # the default t interval adds the members' spread to the jackknife's variance
    plain_t, ensemble_t = plain.policies["t"].estimate("dm", Metric.SUCCESS_RATE).intervals["t"], \
        ensemble.policies["t"].estimate("dm", Metric.SUCCESS_RATE).intervals["t"]
    assert np.allclose(ensemble.members[key], members)
    assert ensemble_t[1] - ensemble_t[0] > 3 * (plain_t[1] - plain_t[0])
    rows = _resampled_rows(data, np.array([2] + [0] * 299))
    assert rows.tolist() == [0, 0]
