"""Off-policy selection: which of K candidate policies to deploy, from their off-policy estimates.

Candidates are ranked by a score, the estimate of a metric or the lower bound of its interval (the pessimistic
choice: Thomas et al. 2015b, "High confidence policy improvement"). With the simulator's truth the ranking is
judged the way SCOPE-RL reports off-policy selection (Kiyohara et al. 2023, "Towards assessing and benchmarking
risk-return tradeoff of off-policy evaluation"): the Spearman rank correlation between the scores and the true
values, the regret of the top-1 choice (the best true value minus the chosen one's) and the regret of the best of
the top k (what is lost when the k best-ranked candidates are tried online, e.g. as canaries, and the best of them
kept). A candidate that is not estimable cannot be chosen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .data import Metric
from .results import PolicyEstimates

__all__ = ["RANKERS", "Selection", "scores", "select"]

#: what a candidate can be ranked by
RANKERS = ("estimate", "lower_bound", "hcope_lower_bound")


def scores(policies: dict[str, PolicyEstimates], *, metric: Metric | str = Metric.SUCCESS_RATE, estimator: str = "dr",
           by: str = "estimate") -> dict[str, float]:
    """Each estimable candidate's score: its estimate of ``metric`` by ``estimator``, the lower end of that estimate's
    interval (``ci``), or its hcope lower bound; candidates without one are left out. Raises ``ValueError`` for an
    unknown ``by``."""
    metric = Metric(metric)
    if by not in RANKERS:
        raise ValueError(f"rank by one of {', '.join(RANKERS)}, got {by!r}")
    out = {}
    for name, entry in policies.items():
        if not entry.supported:
            continue
        if by == "hcope_lower_bound":
            interval = ((entry.bounds.get(metric) or {}).get("hcope") or {}).get("interval")
            value = interval[0] if interval else None
        else:
            e = entry.estimators.get(estimator, {}).get(metric)
            value = None if e is None else (e.estimate if by == "estimate" else (e.ci[0] if e.ci else None))
        if value is not None and np.isfinite(value):
            out[name] = float(value)
    return out


@dataclass(frozen=True)
class Selection:
    """A ranking (best first) and, given the truth, how good it is."""

    ranking: tuple[str, ...]
    scores: dict[str, float]
    spearman: float | None = None
    regret_top1: float | None = None
    regret_top_k: float | None = None
    k: int = 3

    def to_dict(self) -> dict:
        return {**asdict(self), "ranking": list(self.ranking)}


def select(candidate_scores: dict[str, float], truth: dict[str, float] | None = None, *, k: int = 3) -> Selection:
    """Rank by score (ties by name); with ``truth`` (candidate -> true value, more is better, over every candidate,
    estimable or not) also the Spearman correlation over the ranked candidates (None below 3 or without spread),
    the regret of the top-1 choice and of the best of the top ``k``, against the best of all candidates."""
    ranking = tuple(sorted(candidate_scores, key=lambda p: (-candidate_scores[p], p)))
    if truth is None or not ranking:
        return Selection(ranking, dict(candidate_scores), k=k)
    best = max(truth.values())
    rho = None
    if len(ranking) >= 3:
        a, b = [candidate_scores[p] for p in ranking], [truth[p] for p in ranking]
        if len(set(a)) > 1 and len(set(b)) > 1:
            from scipy import stats  # here, not at import (slow to import)

            rho = float(stats.spearmanr(a, b).statistic)
    return Selection(ranking, dict(candidate_scores), rho, best - truth[ranking[0]], best - max(truth[p] for p in ranking[:k]), k)
