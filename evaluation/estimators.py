"""Off-policy estimators of a target policy's value, computed from logged conversations.

Notation, for conversation i and its turns t = 0..L_i - 1: rho_t =
pi(a_t|s_t) / mu(a_t|s_t) (target over logging probability of the logged
prompt), w_t = rho_0 ... rho_t (cumulative weight, w_-1 = 1), W_i = w at the
last turn, r_t the metric's per-turn reward, G_i = sum_t r_t; Q(s, a) a fitted
model of the target's value, V(s) = sum_a pi(a|s) Q(s, a).

- ``is``    trajectory importance sampling: mean_i W_i G_i
- ``wis``   its self-normalized form: sum_i W_i G_i / sum_i W_i
- ``pdis``  per-decision IS: mean_i sum_t w_t r_t
- ``wpdis`` per-decision weighted IS: sum_t sum_i w_it r_it / sum_i w_it
- ``dm``    direct method: mean_i V(s_i0)
- ``dr``    doubly robust (Jiang & Li 2016): mean_i [V(s_i0) + sum_t w_t (r_t + V(s_t+1) - Q(s_t, a_t))]
            (V after the last turn is 0), written as mean_i sum_t [w_t r_t - w_t Q(s_t, a_t) + w_t-1 V(s_t)]
- ``wdr``   weighted doubly robust (Thomas & Brunskill 2016): ``dr`` with each
            w_t replaced by w_t / mean_i w_it

Forced turns (a prompt the system did not choose: the person led, "play some
jazz") are no decision: the log holds a one-hot distribution there
(propensity 1), and the runner gives every target certainty on the logged
prompt there too (``OPEData.decided``), so rho_t = 1 for every policy and
V(s_t) = Q(s_t, a_t): the weight passes through unchanged and the estimate is
that of the decisions the policy did make.

In the per-decision normalizations a conversation that has ended keeps its
last weight (it sits in an absorbing state with zero reward), so with
target = logging policy every weight is 1 and ``wis`` = ``is`` = the
empirical mean, ``wpdis`` = ``pdis``, ``wdr`` = ``dr``.

Estimators for heavy-tailed weights (each a linear function of its conversations, tuned once on the whole
sample, then held fixed over the resamples):

- ``switch-dr`` (Wang, Agarwal & Dudik 2017, "Optimal and adaptive off-policy evaluation in contextual
            bandits", ICML): ``dr`` whose correction stops once a conversation's cumulative weight has
            exceeded tau; from there on its value is the Q model's: mean_i sum_t [k_t w_t (r_t - Q_t) +
            k_t-1 w_t-1 V_t] with k_t = 1{w_s <= tau for all s <= t}, k_-1 w_-1 = 1. tau = inf is ``dr``,
            tau = 0 is ``dm``.
- ``dros``  (Su, Dimakopoulou, Krishnamurthy & Dudik 2020, "Doubly robust off-policy evaluation with
            shrinkage", ICML): ``dr`` with every weight of a correction shrunk to lambda w / (w^2 + lambda).

Their tuning parameter (tau, lambda) minimizes an estimate of the mean squared error, var(z)/n + bias^2, over
a grid, where z are the conversations' contributions and the bias is estimated by mean(z_dr - z) (unbiased,
since ``dr`` is); the chosen parameter and that bias estimate are reported with the estimate (``detail``).

Linear estimators (``is``, ``pdis``, ``dm``, ``dr``, ``switch-dr``, ``dros``) are a mean of per-conversation
contributions z_i (``LinearEstimator.contributions``), which the studentized bootstrap and the concentration
bounds of ``evaluation.intervals`` read.

Every estimator is a function of sums over conversations. The sums are taken
with a count per conversation: all ones for the estimate itself, and
multinomial counts for each bootstrap resample of conversations (``Sums``),
so one code path gives the estimate and its bootstrap distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import sparse

from core.errors import ConfigError

from .data import OPEData

__all__ = ["Estimator", "LinearEstimator", "ESTIMATORS", "DEFAULT_ESTIMATORS", "Weights", "MetricInputs", "Sums", "SumsPlan",
           "get_estimator"]


@dataclass(frozen=True)
class Weights:
    """Importance weights of one target policy on one log (per turn, and per conversation)."""

    data: OPEData
    target: np.ndarray  # float64 (n, N_PROMPTS): pi(.|s_t) at every logged state

    @cached_property
    def rho(self) -> np.ndarray:
        d = self.data
        return self.target[np.arange(d.n_turns), d.actions] / d.propensities

    @cached_property
    def cumulative(self) -> np.ndarray:
        """w_t, float64 (n,): product of rho over the conversation so far (cumprod within each conversation)."""
        d = self.data
        out = np.empty(d.n_turns)
        # products restart at each conversation: cumprod of rho, divided by the running product
        # at the conversation start, is unstable with zeros, so go turn by turn over the turn index
        out[:] = self.rho
        for t in range(1, int(d.turn.max()) + 1):
            rows = np.flatnonzero(d.turn == t)
            out[rows] *= out[rows - 1]
        return out

    @cached_property
    def running_max(self) -> np.ndarray:
        """max_{s <= t} w_s within each conversation, float64 (n,)."""
        d = self.data
        out = self.cumulative.copy()
        for t in range(1, int(d.turn.max()) + 1):
            rows = np.flatnonzero(d.turn == t)
            out[rows] = np.maximum(out[rows], out[rows - 1])
        return out

    def shifted(self, values: np.ndarray, first: float = 1.0) -> np.ndarray:
        """values at t - 1 within each conversation, float64 (n,); ``first`` at t = 0."""
        prev = np.full(self.data.n_turns, first)
        later = self.data.turn > 0
        prev[later] = values[np.flatnonzero(later) - 1]
        return prev

    @cached_property
    def previous(self) -> np.ndarray:
        """w_{t-1}, with w_-1 = 1."""
        return self.shifted(self.cumulative)

    @cached_property
    def final(self) -> np.ndarray:
        """W_i: the weight of each whole conversation, float64 (c,)."""
        return self.cumulative[self.data.last]

    def per_conversation(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.data.conversation, values, minlength=self.data.n_conversations)


@dataclass(frozen=True)
class MetricInputs:
    """Everything the estimators read for one (policy, metric, Q model)."""

    weights: Weights
    rewards: np.ndarray            # float64 (n,)
    q_logged: np.ndarray | None    # Q(s_t, a_t), float64 (n,)
    v: np.ndarray | None           # V(s_t) under the target, float64 (n,)
    tuned: dict = field(default_factory=dict, compare=False)  # estimator -> its tuned parameter and bias estimate

    @cached_property
    def dr_contributions(self) -> np.ndarray:
        """The conversations' ``dr`` values, float64 (c,)."""
        w = self.weights
        return w.per_conversation(w.cumulative * (self.rewards - self.q_logged) + w.previous * self.v)


class SumsPlan:
    """What the sums are taken of, which does not depend on the counts: per-conversation vectors (c,) and
    per-time sparse matrices (horizon + 1, c), by key. Kept across the blocks of count vectors, so from the second
    block on, every vector's sum is one column of a single matrix product counts @ Z."""

    def __init__(self) -> None:
        self.vectors: dict = {}
        self.matrices: dict = {}
        self._stacked: tuple | None = None

    def stacked(self) -> tuple[list, np.ndarray] | None:
        if not self.vectors:
            return None
        if self._stacked is None or len(self._stacked[0]) != len(self.vectors):
            keys = list(self.vectors)
            self._stacked = (keys, np.stack([self.vectors[k] for k in keys], axis=1))
        return self._stacked


class Sums:
    """Sums over conversations under count vectors (B, c); one row of ones is the plain sample."""

    def __init__(self, counts: np.ndarray, horizon: int, plan: SumsPlan | None = None) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.horizon = horizon  # time steps: 0..horizon-1 turns, plus one for "ended by the last step"
        self.plan = plan if plan is not None else SumsPlan()
        self._cache: dict = {}
        self._counts_t: np.ndarray | None = None
        stacked = self.plan.stacked()
        if stacked is not None:
            keys, z = stacked
            product = self.counts @ z
            self._cache.update({k: product[:, j] for j, k in enumerate(keys)})

    def conv(self, values: np.ndarray) -> np.ndarray:
        """sum_i c_i x_i for per-conversation values (c,) -> (B,)."""
        return self.counts @ values

    def total(self, key, vector) -> np.ndarray:
        """``conv`` of the vector stored under ``key`` in the plan (``vector()`` makes it the first time)."""
        if key not in self._cache:
            values = self.plan.vectors.get(key)
            if values is None:
                values = self.plan.vectors[key] = vector()
            self._cache[key] = self.counts @ values
        return self._cache[key]

    def by_time(self, values: np.ndarray, conversation: np.ndarray, time: np.ndarray) -> np.ndarray:
        """sum_i c_i x_it per time step t, for entries (conversation, time, value) -> (B, horizon + 1)."""
        matrix = sparse.csr_matrix((values, (time, conversation)), shape=(self.horizon + 1, self.counts.shape[1]))
        return self._times(matrix)

    def _times(self, matrix) -> np.ndarray:
        if self._counts_t is None:
            self._counts_t = np.ascontiguousarray(self.counts.T)
        return np.asarray(matrix @ self._counts_t).T

    def timed(self, key, values, conversation: np.ndarray, time: np.ndarray) -> np.ndarray:
        """``by_time`` of the entries stored under ``key`` in the plan (``values()`` makes them the first time)."""
        if key not in self._cache:
            matrix = self.plan.matrices.get(key)
            if matrix is None:
                matrix = self.plan.matrices[key] = sparse.csr_matrix(
                    (values(), (time, conversation)), shape=(self.horizon + 1, self.counts.shape[1]))
            self._cache[key] = self._times(matrix)
        return self._cache[key]

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


class _Stats:
    """The sums one (policy, metric, Q model) needs, computed lazily and shared by the estimators."""

    def __init__(self, inputs: MetricInputs, sums: Sums, key) -> None:
        self.x, self.sums, self.key = inputs, sums, key  # key: (policy, metric, Q model)
        self.w = inputs.weights
        self.d = inputs.weights.data

    def _scope(self, scope: str, name) -> tuple:
        """weights: shared across metrics; metric: the policy and the metric; q: also the Q model."""
        return {"weights": (self.key[0],), "metric": self.key[:2], "q": self.key}[scope] + (name,)

    def total(self, scope: str, name, vector) -> np.ndarray:
        """sum_i c_i x_i of a per-conversation vector (c,), made by ``vector()`` once per plan."""
        return self.sums.total(self._scope(scope, name), vector)

    def _weights(self, name, compute):
        return self.sums.cached((self.key[0], name), compute)

    @property
    def n(self) -> np.ndarray:
        return self.sums.total(("n",), lambda: np.ones(self.d.n_conversations))

    @property
    def weight_total(self) -> np.ndarray:
        return self.total("weights", "W", lambda: self.w.final)

    @property
    def denominators(self) -> np.ndarray:
        """D_t = sum_i c_i w_i,min(t, L_i - 1), (B, horizon + 1): ended conversations keep their last weight."""
        def compute():
            d = self.d
            running = self.sums.timed(self._scope("weights", "D-running"), lambda: self.w.cumulative, d.conversation, d.turn)
            ended = self.sums.timed(self._scope("weights", "D-ended"), lambda: self.w.final, np.arange(d.n_conversations), d.lengths)
            return running + np.cumsum(ended, axis=1)  # a conversation of length L has ended at times t >= L
        return self._weights("D", compute)

    def per_time(self, name: str, values, *, q: bool = False) -> np.ndarray:
        """by-time sums of per-turn values (``values()`` makes them once per plan)."""
        return self.sums.timed(self._scope("q" if q else "metric", name), values, self.d.conversation, self.d.turn)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _normalized_sum(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """sum_t num_t / den_t over the time steps where den_t > 0 (num is 0 where den is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return terms.sum(axis=1)


class Estimator:
    """One off-policy estimator: a name, whether it needs a Q model, and its value from the sums."""

    name: str = ""
    needs_q: bool = False
    description: str = ""
    source: str = ""

    def value(self, s: _Stats) -> np.ndarray:
        raise NotImplementedError

    def detail(self, x: MetricInputs) -> dict | None:
        """What the estimate rests on beyond the data (a tuned parameter, a bias estimate), or None."""
        return None


class LinearEstimator(Estimator):
    """An estimator that is the mean of per-conversation contributions z_i (``contributions``)."""

    def contributions(self, x: MetricInputs) -> np.ndarray:
        """z_i, float64 (c,): the estimate is their mean."""
        raise NotImplementedError

    def value(self, s):
        return s.total("q" if self.needs_q else "metric", ("sum", self.name), lambda: self.contributions(s.x)) / s.n

    def standard_error(self, s) -> np.ndarray:
        """The plug-in standard error of the mean under each count vector, (B,): sqrt(sample variance / n)."""
        square = s.total("q" if self.needs_q else "metric", ("square", self.name), lambda: self.contributions(s.x) ** 2)
        n = s.n
        mean = self.value(s)
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.maximum(square - n * mean * mean, 0.0) / np.maximum(n - 1, 1)
            return np.sqrt(variance / n)


class IS(LinearEstimator):
    name, description, source = "is", "trajectory importance sampling", "Precup, Sutton & Singh 2000"

    def contributions(self, x):
        return x.weights.final * x.weights.per_conversation(x.rewards)


class WIS(Estimator):
    name, description, source = "wis", "weighted (self-normalized) trajectory importance sampling", "Precup, Sutton & Singh 2000"

    def value(self, s):
        return _ratio(s.total("metric", "WG", lambda: s.w.final * s.w.per_conversation(s.x.rewards)), s.weight_total)


class PDIS(LinearEstimator):
    name, description, source = "pdis", "per-decision importance sampling", "Precup, Sutton & Singh 2000"

    def contributions(self, x):
        return x.weights.per_conversation(x.weights.cumulative * x.rewards)


class WPDIS(Estimator):
    name, description, source = "wpdis", "weighted per-decision importance sampling", "Thomas 2015 (PhD thesis)"

    def value(self, s):
        return _normalized_sum(s.per_time("wr", lambda: s.w.cumulative * s.x.rewards), s.denominators)


class DM(LinearEstimator):
    name, description, needs_q, source = "dm", "direct method (fitted Q model)", True, "Le, Voloshin & Yue 2019 (FQE)"

    def contributions(self, x):
        return x.weights.per_conversation(np.where(x.weights.data.first, x.v, 0.0))


class DR(LinearEstimator):
    name, description, needs_q, source = "dr", "doubly robust", True, "Jiang & Li 2016"

    def contributions(self, x):
        return x.dr_contributions


class WDR(Estimator):
    name, description, needs_q, source = "wdr", "weighted doubly robust", True, "Thomas & Brunskill 2016"

    def value(self, s):
        w = s.w
        den = s.denominators
        previous_den = np.concatenate([s.n[:, None], den[:, :-1]], axis=1)  # D_-1 = n (w_-1 = 1)
        correction = _normalized_sum(s.per_time("wrq", lambda: w.cumulative * (s.x.rewards - s.x.q_logged), q=True), den)
        baseline = _normalized_sum(s.per_time("wv", lambda: w.previous * s.x.v, q=True), previous_den)
        return correction + baseline


class _TunedDR(LinearEstimator):
    """``dr`` with its weights modified by one parameter, tuned by estimated MSE (module docstring)."""

    needs_q = True
    parameter = ""

    def grid(self, x: MetricInputs) -> list[float]:
        raise NotImplementedError

    def modified(self, x: MetricInputs, parameter: float) -> np.ndarray:
        raise NotImplementedError

    def tune(self, x: MetricInputs) -> dict:
        if self.name not in x.tuned:
            n = x.weights.data.n_conversations
            dr = x.dr_contributions
            best = None
            for parameter in self.grid(x):
                z = self.modified(x, parameter)
                bias = float((dr - z).mean())
                mse = float(z.var(ddof=1) / n if n > 1 else 0.0) + bias * bias
                if best is None or mse < best[0]:
                    best = (mse, parameter, bias, z)
            x.tuned[self.name] = {"parameter": self.parameter, "value": best[1], "bias_estimate": best[2], "z": best[3]}
        return x.tuned[self.name]

    def contributions(self, x):
        return self.tune(x)["z"]

    def detail(self, x):
        tuned = self.tune(x)
        value = tuned["value"]
        return {"parameter": tuned["parameter"], "value": value if np.isfinite(value) else None,
                "bias_estimate": tuned["bias_estimate"]}


def _weight_grid(weights: np.ndarray) -> list[float]:
    positive = weights[weights > 0]
    if not len(positive):
        return [np.inf]
    quantiles = np.quantile(positive, [0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999])
    return sorted(set(float(q) for q in quantiles)) + [np.inf]


class SwitchDR(_TunedDR):
    name, description, parameter = "switch-dr", "switch doubly robust (the Q model beyond weight tau)", "tau"
    source = "Wang, Agarwal & Dudik 2017"

    def grid(self, x):
        return [0.0] + _weight_grid(x.weights.final)

    def modified(self, x, tau):
        w = x.weights
        keep = (w.running_max <= tau).astype(np.float64)
        kept = keep * w.cumulative
        return w.per_conversation(kept * (x.rewards - x.q_logged) + w.shifted(kept) * x.v)


class DRos(_TunedDR):
    name, description, parameter = "dros", "doubly robust with optimistic shrinkage of the weights", "lambda"
    source = "Su, Dimakopoulou, Krishnamurthy & Dudik 2020"

    def grid(self, x):
        squares = [g * g for g in _weight_grid(x.weights.final) if np.isfinite(g)]
        return sorted(set([1.0, 10.0] + squares + [s * 100 for s in squares])) + [np.inf]

    def modified(self, x, lam):
        w = x.weights
        shrunk = w.cumulative if not np.isfinite(lam) else lam * w.cumulative / (w.cumulative**2 + lam)
        return w.per_conversation(shrunk * (x.rewards - x.q_logged) + w.shifted(shrunk) * x.v)


ESTIMATORS: dict[str, Estimator] = {e.name: e for e in (IS(), WIS(), PDIS(), WPDIS(), DM(), DR(), WDR(), SwitchDR(), DRos())}
DEFAULT_ESTIMATORS = tuple(ESTIMATORS)


def get_estimator(name: str) -> Estimator:
    if name not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {name!r}; estimators are {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]
