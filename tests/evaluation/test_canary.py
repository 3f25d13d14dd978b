"""The canary's always-valid sequential test: the interval against the mSPRT it comes from, its error rate under
peeking, and its decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ConfigError
from evaluation.canary import ArmFigures, CanarySettings, canary_look, confidence_sequence


def _log_mixture_likelihood_ratio(diff: float, variance: float, tau: float) -> float:
    """log Lambda of the normal-mixture SPRT (Johari et al. 2022), computed directly."""
    return 0.5 * math.log(variance / (variance + tau**2)) + tau**2 * diff**2 / (2 * variance * (variance + tau**2))


@pytest.mark.parametrize("variance", [1e-4, 2.5e-3, 0.04])
def test_the_interval_excludes_zero_exactly_when_the_mixture_ratio_crosses_one_over_alpha(variance):
    crossings = 0
    for diff in np.linspace(-5.0, 5.0, 801):
        lo, hi = confidence_sequence(float(diff), variance, tau=0.05, alpha=0.05)
        log_ratio = _log_mixture_likelihood_ratio(float(diff), variance, 0.05)
        if abs(log_ratio - math.log(20)) > 1e-9:
            assert (not lo <= 0 <= hi) == (log_ratio > math.log(20))
        crossings += not lo <= 0 <= hi
    assert 0 < crossings < 801


def _streams(rng, streams: int, looks: int, per_look: int, p_current: float, p_canary: float):
    """Cumulative successes of both arms at each look: arrays (streams, looks)."""
    a = rng.binomial(per_look, p_current, size=(streams, looks)).cumsum(axis=1)
    b = rng.binomial(per_look, p_canary, size=(streams, looks)).cumsum(axis=1)
    n = per_look * np.arange(1, looks + 1)
    return a, b, n


def test_peeking_at_every_look_keeps_the_error_rate_below_alpha_where_a_fixed_interval_does_not():
    rng = np.random.default_rng(0)
    a, b, n = _streams(rng, 2_000, 20, 100, 0.55, 0.55)
    pa, pb = a / n, b / n
    variance = (pa * (1 - pa) + pb * (1 - pb)) / n
    always_valid = naive = 0
    for i in range(len(a)):
        bounds = [confidence_sequence(pb[i, k] - pa[i, k], variance[i, k], 0.05, 0.05) for k in range(20)]
        always_valid += any(not lo <= 0 <= hi for lo, hi in bounds)
        naive += any(abs(pb[i, k] - pa[i, k]) > 1.96 * math.sqrt(variance[i, k]) for k in range(20))
    assert always_valid / len(a) <= 0.05
    assert naive / len(a) > 0.15  # a plain 95% interval looked at 20 times errs far more often: why the test is sequential


def test_the_interval_finds_a_real_difference():
    rng = np.random.default_rng(1)
    a, b, n = _streams(rng, 200, 10, 300, 0.50, 0.60)
    found = 0
    for i in range(len(a)):
        pa, pb = a[i, -1] / n[-1], b[i, -1] / n[-1]
        lo, _ = confidence_sequence(pb - pa, (pa * (1 - pa) + pb * (1 - pb)) / n[-1], 0.05, 0.05)
        found += lo > 0
    assert found / len(a) > 0.9


def _arm(n: int, rate: float, prompts: float, fallbacks: int = 0) -> ArmFigures:
    success = np.arange(n) < round(rate * n)
    return ArmFigures.of(success, np.full(n, prompts) + (np.arange(n) % 3 - 1), fallbacks)


def test_decisions():
    settings = CanarySettings(looks=4)
    worse = canary_look(0, _arm(3000, 0.60, 4.0), _arm(1000, 0.45, 4.0), settings)
    assert worse.decision == "rollback" and worse.reason.startswith("worse")
    better = canary_look(0, _arm(3000, 0.50, 4.0), _arm(1000, 0.65, 3.5), settings)
    assert better.decision == "rollout" and better.reason.startswith("better")
    longer = canary_look(0, _arm(3000, 0.50, 3.0), _arm(1000, 0.51, 5.0), settings)
    assert longer.decision == "rollback" and longer.reason.startswith("longer")
    close = canary_look(0, _arm(3000, 0.50, 4.0), _arm(1000, 0.51, 4.0), settings)
    assert close.decision is None
    assert canary_look(3, _arm(15000, 0.50, 4.0), _arm(5000, 0.51, 4.0), settings).decision == "rollout"  # non-inferior
    assert canary_look(3, _arm(300, 0.50, 4.0), _arm(100, 0.48, 4.0), settings).decision == "rollback"  # not shown
    raised = canary_look(0, _arm(3000, 0.50, 4.0), _arm(1000, 0.70, 3.0, fallbacks=2), settings)
    assert raised.decision == "rollback" and "raised while serving in 2 conversations" in raised.reason


def test_canary_settings_are_checked():
    with pytest.raises(ConfigError, match="--canary-share"):
        CanarySettings(share=1.0)
    with pytest.raises(ConfigError, match="--canary-looks"):
        CanarySettings(looks=0)
    with pytest.raises(ConfigError, match="both arms"):
        canary_look(0, ArmFigures(), _arm(10, 0.5, 3.0), CanarySettings())
