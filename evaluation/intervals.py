"""Confidence intervals and high-confidence bounds of off-policy estimates.

Every interval is two-sided at the run's confidence 1 - alpha, each side at alpha / 2, so a lower bound alone
holds with probability 1 - alpha / 2 (what the gate reads).

- ``percentile``: the bootstrap percentile interval (Efron & Tibshirani 1993, ch. 13): quantiles alpha/2 and
  1 - alpha/2 of the estimator over resampled conversations.
- ``bca``: bias-corrected and accelerated bootstrap (Efron 1987; Efron & Tibshirani 1993, ch. 14). The
  acceleration comes from a grouped (delete-a-group) jackknife over ``JACKKNIFE_GROUPS`` random groups of
  conversations, which every estimator supports, linear or not.
- ``t``: Student's t interval, estimate +- t_{G-1} se, with the grouped jackknife's standard error (the
  "approximate" bound of Thomas, Theocharous & Ghavamzadeh 2015b, "High confidence policy improvement", ICML);
  with a Q-model ensemble, se^2 adds the variance of the estimate over the refitted models.
- ``bootstrap-t``: the studentized bootstrap (Efron & Tibshirani 1993, ch. 12.5): quantiles of
  (estimate* - estimate) / se* over resamples, se* the plug-in standard error of each resample; for linear
  estimators (a mean of per-conversation contributions), where se* is exact and cheap.
- ``hcope``: a bound with a guarantee (Thomas, Theocharous & Ghavamzadeh 2015a, "High confidence off-policy
  evaluation", AAAI, Theorem 1): for independent X_i >= 0 and a threshold c fixed before seeing them, with
  probability at least 1 - delta, E[X] >= mean(Y) - 7 c ln(2/delta) / (3 (n - 1)) - sqrt(2 ln(2/delta) var(Y) / n),
  Y_i = min(X_i, c). X_i is a conversation's per-decision importance-weighted return (unbiased, >= 0 for the
  three metrics, whose rewards are >= 0); c is chosen on a random fifth of the conversations to maximize the
  bound predicted for the rest, and the bound is computed on the rest (the paper's procedure). The upper bound
  applies the same to the complement: with trajectory weights W (E[W] = 1 for a supported target) and returns
  bounded by R, R - E[W G] = E[W (R - G)] with W (R - G) >= 0. It needs that bound R on a conversation's return:
  1 for success, ``max_prompts`` for usefulness and prompts. The guarantee rests on the logged propensities being
  the true ones and on independent conversations, nothing else; it is conservative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["INTERVALS", "JACKKNIFE_GROUPS", "percentile", "bca", "student_t", "bootstrap_t", "hcope_lower", "hcope_interval",
           "jackknife_groups", "Jackknife"]

INTERVALS = ("percentile", "bca", "t", "bootstrap-t", "hcope")
#: groups of the delete-a-group jackknife (acceleration of BCa, standard error of the t interval)
JACKKNIFE_GROUPS = 100
_MAX_UNDEFINED = 0.01
_SELECTION_SHARE = 0.2  # hcope: the share of conversations that chooses the threshold c


def _finite(draws: np.ndarray) -> np.ndarray | None:
    finite = draws[np.isfinite(draws)]
    if len(draws) == 0 or len(finite) < (1 - _MAX_UNDEFINED) * len(draws):
        return None
    return finite


def percentile(draws: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Bootstrap percentile interval of draws (B,); None when more than 1% of the draws are undefined."""
    finite = _finite(draws)
    if finite is None:
        return None
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def jackknife_groups(n: int, groups: int, seed: int) -> np.ndarray:
    """Count vectors (G, n) of the delete-a-group jackknife: conversation i is left out of group g(i)'s row."""
    groups = max(2, min(groups, n))
    assignment = np.random.default_rng(seed).permutation(n) % groups
    counts = np.ones((groups, n))
    counts[assignment, np.arange(n)] = 0.0
    return counts


@dataclass(frozen=True)
class Jackknife:
    """Leave-one-group-out values (G,) of one estimator, and the statistics BCa and t read."""

    values: np.ndarray

    @property
    def defined(self) -> bool:
        return len(self.values) >= 2 and bool(np.isfinite(self.values).all())

    @property
    def standard_error(self) -> float:
        """sqrt((G - 1) / G * sum (theta_(g) - mean)^2) (Efron & Tibshirani 1993, eq. 11.5, over groups)."""
        g = len(self.values)
        return float(np.sqrt((g - 1) / g * ((self.values - self.values.mean()) ** 2).sum()))

    @property
    def acceleration(self) -> float:
        """a = sum d^3 / (6 (sum d^2)^1.5), d = mean - theta_(g) (Efron & Tibshirani 1993, eq. 14.15)."""
        d = self.values.mean() - self.values
        square = float((d * d).sum())
        return float((d**3).sum() / (6 * square**1.5)) if square > 0 else 0.0


def bca(draws: np.ndarray, estimate: float, jackknife: Jackknife | None, confidence: float) -> tuple[float, float] | None:
    """BCa interval from the bootstrap draws (B,), the estimate and the jackknife (None: acceleration 0)."""
    finite = _finite(draws)
    if finite is None or not np.isfinite(estimate):
        return None
    below = (np.count_nonzero(finite < estimate) + 0.5 * np.count_nonzero(finite == estimate)) / len(finite)
    below = min(max(below, 1 / (2 * len(finite))), 1 - 1 / (2 * len(finite)))
    from scipy import stats  # here, not at import: scipy.stats takes ~0.6 s to import and most commands never need it

    z0 = stats.norm.ppf(below)
    a = jackknife.acceleration if jackknife is not None and jackknife.defined else 0.0
    alpha = (1 - confidence) / 2
    levels = []
    for z in (stats.norm.ppf(alpha), stats.norm.ppf(1 - alpha)):
        denominator = 1 - a * (z0 + z)
        levels.append(stats.norm.cdf(z0 + (z0 + z) / denominator) if denominator > 0 else (0.0 if z < 0 else 1.0))
    lo, hi = np.quantile(finite, levels)
    return (float(lo), float(hi))


def student_t(estimate: float, jackknife: Jackknife | None, confidence: float,
              model_variance: float = 0.0) -> tuple[float, float] | None:
    """estimate +- t_{G-1, 1 - alpha/2} x sqrt(jackknife variance + ``model_variance``); the latter is the spread of
    the estimate over refitted Q models (``OPESettings.q_ensemble``), 0 without them."""
    if jackknife is None or not jackknife.defined or not np.isfinite(estimate):
        return None
    from scipy import stats  # here, not at import (slow to import)

    se = np.sqrt(jackknife.standard_error**2 + max(float(model_variance), 0.0))
    half = stats.t.ppf(1 - (1 - confidence) / 2, len(jackknife.values) - 1) * se
    return (float(estimate - half), float(estimate + half))


def bootstrap_t(draws: np.ndarray, draw_se: np.ndarray, estimate: float, se: float, confidence: float) -> tuple[float, float] | None:
    """Studentized bootstrap: estimate - q_{1-alpha/2} se, estimate - q_{alpha/2} se, q the quantiles of
    (draw - estimate) / draw_se over the resamples (draws and draw_se (B,))."""
    if not (np.isfinite(estimate) and np.isfinite(se)) or se <= 0:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (draws - estimate) / draw_se
    finite = _finite(np.where(draw_se > 0, t, np.nan))
    if finite is None:
        return None
    alpha = (1 - confidence) / 2
    q_lo, q_hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(estimate - q_hi * se), float(estimate - q_lo * se))


def _bernstein(y: np.ndarray, c: float, delta: float, n: int | None = None) -> float:
    """Theorem 1 of Thomas et al. 2015a with one threshold c, for Y = min(X, c) (n: the sample size to predict for)."""
    n = len(y) if n is None else n
    if n < 2 or len(y) < 2:
        return -np.inf
    log_term = np.log(2 / delta)
    return float(y.mean() - 7 * c * log_term / (3 * (n - 1)) - np.sqrt(2 * log_term * y.var(ddof=1) / n))


def hcope_lower(x: np.ndarray, delta: float, seed: int = 0) -> dict:
    """A lower bound on E[X] for independent X_i >= 0 (float64 (c,)) that holds with probability >= 1 - delta.

    Returns {"bound", "threshold", "clipped_share"}: the bound (never below 0, the smallest possible mean), the
    threshold c chosen on a random fifth of the sample, and the share of the rest whose X exceeded it.
    Raises ``ValueError`` for a negative X or delta outside (0, 1)."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be within (0, 1), got {delta}")
    x = np.asarray(x, dtype=np.float64)
    if np.any(x < 0) or not np.isfinite(x).all():
        raise ValueError("hcope needs finite X >= 0")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = max(2, int(round(_SELECTION_SHARE * len(x))))
    pre, post = x[order[:cut]], x[order[cut:]]
    if len(post) < 2:
        return {"bound": 0.0, "threshold": None, "clipped_share": None}
    positive = pre[pre > 0]
    if not len(positive):
        candidates = np.array([max(float(x.max()), 1e-12)])
    else:
        candidates = np.unique(np.quantile(positive, np.linspace(0.0, 1.0, 201)))
    predicted = [_bernstein(np.minimum(pre, c), c, delta, n=len(post)) for c in candidates]
    c = float(candidates[int(np.argmax(predicted))])
    bound = _bernstein(np.minimum(post, c), c, delta)
    return {"bound": max(bound, 0.0), "threshold": c, "clipped_share": float((post > c).mean())}


def hcope_interval(per_decision: np.ndarray, trajectory_weight: np.ndarray, returns: np.ndarray, max_return: float,
                   confidence: float, seed: int = 0) -> dict:
    """Two-sided hcope interval of a target's value, each side at (1 - confidence) / 2.

    per_decision: the conversations' per-decision weighted returns (c,) (>= 0; lower side); trajectory_weight W
    and returns G (c,), with 0 <= G <= max_return (upper side, by the complement W (max_return - G)).
    Returns {"interval": (lo, hi), "lower": hcope_lower's record, "upper": the complement's record}.
    Raises ``ValueError`` for a return outside [0, max_return]."""
    if np.any(returns < -1e-9) or np.any(returns > max_return + 1e-9):
        raise ValueError(f"hcope needs returns within [0, {max_return:g}], found {float(returns.min()):g}..{float(returns.max()):g}")
    delta = (1 - confidence) / 2
    lower = hcope_lower(np.maximum(per_decision, 0.0), delta, seed)
    complement = hcope_lower(np.maximum(trajectory_weight * (max_return - returns), 0.0), delta, seed + 1)
    return {"interval": (lower["bound"], max_return - complement["bound"]), "lower": lower, "upper": complement}
