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

Every estimator is a function of sums over conversations. The sums are taken
with a count per conversation: all ones for the estimate itself, and
multinomial counts for each bootstrap resample of conversations (``Sums``),
so one code path gives the estimate and its bootstrap distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from core.errors import ConfigError

from .data import OPEData

__all__ = ["Estimator", "ESTIMATORS", "DEFAULT_ESTIMATORS", "Weights", "MetricInputs", "Sums", "get_estimator"]


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
    def previous(self) -> np.ndarray:
        """w_{t-1}, with w_-1 = 1."""
        prev = np.ones(self.data.n_turns)
        later = self.data.turn > 0
        prev[later] = self.cumulative[np.flatnonzero(later) - 1]
        return prev

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


class Sums:
    """Sums over conversations under count vectors (B, c); one row of ones is the plain sample."""

    def __init__(self, counts: np.ndarray, horizon: int) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.horizon = horizon  # time steps: 0..horizon-1 turns, plus one for "ended by the last step"
        self._cache: dict = {}

    def conv(self, values: np.ndarray) -> np.ndarray:
        """sum_i c_i x_i for per-conversation values (c,) -> (B,)."""
        return self.counts @ values

    def by_time(self, values: np.ndarray, conversation: np.ndarray, time: np.ndarray) -> np.ndarray:
        """sum_i c_i x_it per time step t, for entries (conversation, time, value) -> (B, horizon + 1)."""
        matrix = sparse.csr_matrix((values, (time, conversation)), shape=(self.horizon + 1, self.counts.shape[1]))
        return np.asarray(matrix @ self.counts.T).T

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


class _Stats:
    """The sums one (policy, metric, Q model) needs, computed lazily and shared by the estimators."""

    def __init__(self, inputs: MetricInputs, sums: Sums, key) -> None:
        self.x, self.sums, self.key = inputs, sums, key
        self.w = inputs.weights
        self.d = inputs.weights.data

    def _weights(self, name, compute):
        return self.sums.cached((self.key[0], name), compute)  # weight-only sums are shared across metrics

    def _metric(self, name, compute):
        """Sums that depend on the policy and the metric (not on the Q model)."""
        return self.sums.cached((*self.key[:2], name), compute)

    def _q(self, name, compute):
        """Sums that also depend on the Q model."""
        return self.sums.cached((*self.key, name), compute)

    @property
    def n(self) -> np.ndarray:
        return self.sums.cached("n", lambda: self.sums.conv(np.ones(self.d.n_conversations)))

    @property
    def weight_total(self) -> np.ndarray:
        return self._weights("W", lambda: self.sums.conv(self.w.final))

    @property
    def denominators(self) -> np.ndarray:
        """D_t = sum_i c_i w_i,min(t, L_i - 1), (B, horizon + 1): ended conversations keep their last weight."""
        def compute():
            d = self.d
            running = self.sums.by_time(self.w.cumulative, d.conversation, d.turn)
            ended = self.sums.by_time(self.w.final, np.arange(d.n_conversations), d.lengths)
            return running + np.cumsum(ended, axis=1)  # a conversation of length L has ended at times t >= L
        return self._weights("D", compute)

    def per_time(self, name: str, values: np.ndarray, *, q: bool = False) -> np.ndarray:
        store = self._q if q else self._metric
        return store(name, lambda: self.sums.by_time(values, self.d.conversation, self.d.turn))


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

    def value(self, s: _Stats) -> np.ndarray:
        raise NotImplementedError


class IS(Estimator):
    name, description = "is", "trajectory importance sampling"

    def value(self, s):
        return s._metric("WG", lambda: s.sums.conv(s.w.final * s.w.per_conversation(s.x.rewards))) / s.n


class WIS(Estimator):
    name, description = "wis", "weighted (self-normalized) trajectory importance sampling"

    def value(self, s):
        return _ratio(s._metric("WG", lambda: s.sums.conv(s.w.final * s.w.per_conversation(s.x.rewards))), s.weight_total)


class PDIS(Estimator):
    name, description = "pdis", "per-decision importance sampling"

    def value(self, s):
        return s._metric("PD", lambda: s.sums.conv(s.w.per_conversation(s.w.cumulative * s.x.rewards))) / s.n


class WPDIS(Estimator):
    name, description = "wpdis", "weighted per-decision importance sampling"

    def value(self, s):
        return _normalized_sum(s.per_time("wr", s.w.cumulative * s.x.rewards), s.denominators)


class DM(Estimator):
    name, description, needs_q = "dm", "direct method (fitted Q model)", True

    def value(self, s):
        v0 = np.where(s.d.first, s.x.v, 0.0)
        return s._q("V0", lambda: s.sums.conv(s.w.per_conversation(v0))) / s.n


class DR(Estimator):
    name, description, needs_q = "dr", "doubly robust", True

    def value(self, s):
        w = s.w
        terms = w.cumulative * (s.x.rewards - s.x.q_logged) + w.previous * s.x.v
        return s._q("DR", lambda: s.sums.conv(w.per_conversation(terms))) / s.n


class WDR(Estimator):
    name, description, needs_q = "wdr", "weighted doubly robust", True

    def value(self, s):
        w = s.w
        den = s.denominators
        previous_den = np.concatenate([s.n[:, None], den[:, :-1]], axis=1)  # D_-1 = n (w_-1 = 1)
        correction = _normalized_sum(s.per_time("wrq", w.cumulative * (s.x.rewards - s.x.q_logged), q=True), den)
        baseline = _normalized_sum(s.per_time("wv", w.previous * s.x.v, q=True), previous_den)
        return correction + baseline


ESTIMATORS: dict[str, Estimator] = {e.name: e for e in (IS(), WIS(), PDIS(), WPDIS(), DM(), DR(), WDR())}
DEFAULT_ESTIMATORS = tuple(ESTIMATORS)


def get_estimator(name: str) -> Estimator:
    if name not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {name!r}; estimators are {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]
