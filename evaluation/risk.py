"""Risk of a target policy, estimated off-policy: not only its mean, the conversations that go badly.

- ``abandoned``: the share of conversations that end with the person giving up, by weighted (self-normalized)
  trajectory importance sampling, sum_i W_i A_i / sum_i W_i (bounded in [0, 1] like the share itself).
- ``cvar_usefulness``: the conditional value at risk of usefulness at level ``alpha`` (default 10%): the mean
  usefulness of the target's worst alpha share of conversations. The target's distribution of a conversation's
  usefulness G is estimated by weighting each logged conversation's G with its trajectory weight W_i,
  self-normalized, F(g) = sum_i W_i 1{G_i <= g} / sum_i W_i (Chandak et al. 2021, "Universal off-policy
  evaluation", NeurIPS; Huang, Leqi, Lipton & Azizzadenesheli 2021, "Off-policy risk assessment in contextual
  bandits", NeurIPS), and CVaR_alpha = (1 / alpha) integral_0^alpha F^-1(u) du (Rockafellar & Uryasev 2000),
  with the atom at the alpha quantile split. Every conversation that ends without music has usefulness 0, so
  this is 0 whenever the target abandons or fails more than alpha of its conversations; hence also:
- ``cvar_prompts``: the mean number of prompts of the target's longest alpha share of conversations (the upper
  tail: a long conversation is the bad one), by the same weighted distribution.

Both are functions of count vectors over conversations (B, c), so the bootstrap resamples of
``evaluation.ope`` give their intervals. Each risk lies in a known range (``RISK_RANGES``: a share in [0, 1],
prompts and per-prompt 0/1 labels summed over a conversation are >= 0), and its intervals are cut to that range
(``clip_interval``): an interval built around the estimate (a t interval, say) can reach past it, and the
part outside can hold no value of the risk, so cutting it off keeps the coverage.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RISKS", "RISK_RANGES", "CVAR_ALPHA", "abandoned_share", "clip_interval", "cvar", "risk_values"]

RISKS = ("abandoned", "cvar_usefulness", "cvar_prompts")
CVAR_ALPHA = 0.1
#: the values each risk can take: (lowest, highest)
RISK_RANGES: dict[str, tuple[float, float]] = {"abandoned": (0.0, 1.0), "cvar_usefulness": (0.0, float("inf")),
                                              "cvar_prompts": (0.0, float("inf"))}


def clip_interval(interval: tuple[float, float] | None, lowest: float, highest: float) -> tuple[float, float] | None:
    """``interval`` (lower, upper) cut to [lowest, highest]; None stays None. An interval wholly outside the range
    (possible only for an estimate outside it) becomes the nearest end point, (b, b)."""
    if interval is None:
        return None
    lower, upper = (min(max(float(x), lowest), highest) for x in interval)
    return (lower, upper)


def abandoned_share(counts: np.ndarray, weights: np.ndarray, abandoned: np.ndarray) -> np.ndarray:
    """sum_i c_i W_i A_i / sum_i c_i W_i for counts (B, c), W (c,), A bool (c,) -> (B,) (NaN where sum is 0)."""
    total = counts @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (counts @ (weights * abandoned)) / np.where(total > 0, total, 1.0), np.nan)


def cvar(counts: np.ndarray, weights: np.ndarray, returns: np.ndarray, alpha: float = CVAR_ALPHA) -> np.ndarray:
    """The weighted lower-tail mean of returns (c,) at level alpha for counts (B, c) -> (B,) (NaN: no weight).

    Raises ``ValueError`` for alpha outside (0, 1]."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be within (0, 1], got {alpha}")
    order = np.argsort(returns, kind="stable")
    g = returns[order]
    mass = counts[:, order] * weights[order]                   # (B, c), ascending returns
    total = mass.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = mass / np.where(total > 0, total, 1.0)
    before = np.cumsum(p, axis=1) - p                          # probability strictly before each conversation
    taken = np.clip(alpha - before, 0.0, p)                    # the part of each one's mass inside the tail
    out = (taken * g).sum(axis=1) / alpha
    return np.where(total[:, 0] > 0, out, np.nan)


def _tail_mean(values: np.ndarray, mass: np.ndarray, alpha: float) -> np.ndarray:
    """CVaR from a distribution on ascending ``values`` (V,) with masses (B, V) (not normalized) -> (B,)."""
    total = mass.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = mass / np.where(total > 0, total, 1.0)
    before = np.cumsum(p, axis=1) - p
    out = (np.clip(alpha - before, 0.0, p) * values).sum(axis=1) / alpha
    return np.where(total[:, 0] > 0, out, np.nan)


def _weighted_cvar(sums, key, weights: np.ndarray, returns: np.ndarray, alpha: float) -> np.ndarray:
    """``cvar`` through the sums' plan: the mass on each distinct return is one summed vector W * 1{G = g}."""
    values = np.unique(returns)
    if len(values) > 1_000:  # many distinct returns: sort per count vector instead
        return cvar(sums.counts, weights, returns, alpha)
    mass = np.stack([sums.total((*key, float(g)), lambda g=g: weights * (returns == g)) for g in values], axis=1)
    return _tail_mean(values, mass, alpha)


def risk_values(sums, policy: str, weights: np.ndarray, abandoned: np.ndarray | None, usefulness: np.ndarray,
                prompts: np.ndarray, alpha: float = CVAR_ALPHA) -> dict[str, np.ndarray]:
    """Every risk of one policy under the count vectors of ``sums`` (``evaluation.estimators.Sums``): name -> (B,);
    ``abandoned`` only when the logs record it. weights: the conversations' trajectory weights (c,)."""
    out = {"cvar_usefulness": _weighted_cvar(sums, (policy, "risk-usefulness"), weights, usefulness, alpha),
           "cvar_prompts": -_weighted_cvar(sums, (policy, "risk-prompts"), weights, -prompts, alpha)}
    if abandoned is not None:
        total = sums.total((policy, "risk-W"), lambda: weights)
        hits = sums.total((policy, "risk-abandoned"), lambda: weights * abandoned)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["abandoned"] = np.where(total > 0, hits / np.where(total > 0, total, 1.0), np.nan)
    return out
