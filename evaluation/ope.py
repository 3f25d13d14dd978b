"""The off-policy evaluation runner: estimators x metrics x policies, intervals and bounds, risks, diagnostics.

``evaluate_targets(data, targets, settings)`` takes the logs (``OPEData``) and,
per policy, its distribution over prompts at every logged state, and returns
per policy: each estimator's estimate of each metric with its intervals
(``evaluation.intervals``: bootstrap percentile and BCa over conversations
resampled with replacement, the same resamples for every policy, so
differences between policies are paired; a grouped-jackknife t interval;
the studentized bootstrap for linear estimators), the hcope bound with a
guarantee, the risks (``evaluation.risk``), the importance-weight
diagnostics (effective sample size and weight statistics) and the support
check.

"Not estimable" (``supported: false``, with the reason, and no estimate at all,
never a confident number): a policy that puts probability on a prompt the logging
policy gave less than ``MIN_PROPENSITY`` (1 in 1,000) in that state, or whose
importance weights leave an effective sample size (Kish) below ``MIN_ESS``
conversations. Forced turns (the person led) are no decision (``OPEData.decided``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from core.errors import ConfigError
from dialogue.prompts import PROMPTS
from policy.errors import PolicyError

from .data import METRICS, Metric, OPEData
from .estimators import DEFAULT_ESTIMATORS, ESTIMATORS, PDIS, LinearEstimator, MetricInputs, Sums, SumsPlan, Weights, _Stats
from .intervals import INTERVALS, JACKKNIFE_GROUPS, Jackknife, bca, bootstrap_t, hcope_interval, jackknife_groups, percentile, student_t
from .qmodel import Q_MODELS, FQESettings, fit_q
from .results import Estimate, Improvement, PolicyEstimates, SegmentEstimates, SupportCheck, WeightDiagnostics
from .risk import RISK_RANGES, RISKS, clip_interval, risk_values

__all__ = ["MIN_PROPENSITY", "MIN_ESS", "OPESettings", "OPEResult", "target_probabilities", "check_support", "weight_diagnostics", "evaluate_targets",
           "estimator_names"]

_CHUNK = 100  # bootstrap resamples per block of count vectors
#: intervals an estimate's ``ci`` may be (``evaluation.intervals``); hcope is a policy's bound, not an estimator's
CI_METHODS = tuple(i for i in INTERVALS if i != "hcope")
#: a prompt logged with a smaller probability counts as never tried (the support check)
MIN_PROPENSITY = 1e-3
#: an estimate resting on fewer effective conversations (Kish's ESS of the final weights) is not reported
MIN_ESS = 10.0


@dataclass(frozen=True)
class OPESettings:
    """What to estimate and how. min_propensity and min_ess: below them a policy is not estimable (module
    docstring); interval: the method of each estimate's ``ci`` (the others are reported beside it,
    ``evaluation.intervals``; ``t`` by default: over 2 x 20 log sets of 50,000 conversations it covered the truth
    3-4 points more often than the bootstrap percentile interval on success and 9-12 points more often on
    usefulness, 1-2 points wider, BENCHMARKS.md); max_prompts: the most prompts a conversation may have (the simulator's and the
    chat's cap), the bound on usefulness and prompts that the hcope upper bound needs; q_ensemble: K > 0 refits
    each Q model K more times, each on its own bootstrap resample of conversations, and bootstrap draw b of the
    estimators that read a Q model (dm, dr, ...) uses member b mod K: their intervals then hold the Q model's
    refit variance beside the sampling variance (the resamples of the draws and of the members are independent,
    which is conservative for dr, whose model and sampling errors partly cancel). Raises ``ConfigError`` for a
    value out of range."""

    estimators: tuple[str, ...] = DEFAULT_ESTIMATORS
    q_models: tuple[str, ...] = ("fqe",)
    bootstrap: int = 1_000
    confidence: float = 0.95
    seed: int = 0
    fqe: FQESettings = field(default_factory=FQESettings)
    min_propensity: float = MIN_PROPENSITY
    min_ess: float = MIN_ESS
    interval: str = "t"
    jackknife_groups: int = JACKKNIFE_GROUPS
    max_prompts: int = 100
    q_ensemble: int = 0

    def __post_init__(self) -> None:
        if self.interval not in CI_METHODS:
            raise ConfigError(f"--interval must be one of {', '.join(CI_METHODS)}, got {self.interval!r}")
        if not 2 <= self.jackknife_groups <= 10_000:
            raise ConfigError(f"jackknife groups must be between 2 and 10,000, got {self.jackknife_groups}")
        if self.max_prompts < 1:
            raise ConfigError(f"--max-prompts must be >= 1, got {self.max_prompts}")
        if not 0 <= self.q_ensemble <= 100:
            raise ConfigError(f"--q-ensemble must be between 0 and 100, got {self.q_ensemble}")
        for name in self.estimators:
            if name not in ESTIMATORS:
                raise ConfigError(f"unknown estimator {name!r}; estimators are {', '.join(ESTIMATORS)}")
        if not self.q_models or any(q not in Q_MODELS for q in self.q_models):
            raise ConfigError(f"--q-model must be among {', '.join(Q_MODELS)}, got {', '.join(self.q_models) or 'none'}")
        if not 0 <= self.bootstrap <= 100_000:
            raise ConfigError(f"--bootstrap must be between 0 and 100,000, got {self.bootstrap}")
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError(f"--confidence must be within [0.5, 1), got {self.confidence}")
        if not 0.0 <= self.min_propensity < 1.0:
            raise ConfigError(f"--min-propensity must be within [0, 1), got {self.min_propensity}")
        if not self.min_ess >= 0:
            raise ConfigError(f"--min-ess must be >= 0, got {self.min_ess}")

    @property
    def needs_q(self) -> bool:
        return any(ESTIMATORS[e].needs_q for e in self.estimators)


def estimator_names(settings: OPESettings) -> list[tuple[str, str, str | None]]:
    """(reported name, estimator, Q model) triples: Q-model estimators get a suffix for every Q model but the first."""
    out = []
    for name in settings.estimators:
        if ESTIMATORS[name].needs_q:
            for i, q in enumerate(settings.q_models):
                out.append((name if i == 0 else f"{name}-{q}", name, q))
        else:
            out.append((name, name, None))
    return out


def target_probabilities(policy, variant: str, data: OPEData, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The policy's distribution over prompts at every logged state, float64 (n, N_PROMPTS), checked."""
    features = data.state(variant)
    batch = getattr(policy, "batch_probabilities", None)
    if batch is not None:
        probs = np.asarray(batch(features, data.masks, progress=progress), dtype=np.float64)
    else:
        probs = np.empty(data.masks.shape, dtype=np.float64)
        for row in range(data.n_turns):
            probs[row] = policy.probabilities(features[row], data.masks[row])
            if progress and (row % 10_000 == 9_999 or row == data.n_turns - 1):
                progress(row + 1, data.n_turns)
    name = getattr(policy, "name", type(policy).__name__)
    bad = ~np.isfinite(probs).all(axis=1) | (np.abs(probs.sum(axis=1) - 1.0) > 1e-6) | (probs < 0).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise PolicyError(f"policy {name} gave no probability distribution at logged row {row}")
    invalid = (probs > 0) & ~data.masks
    if invalid.any():
        row = int(np.argwhere(invalid)[0][0])
        raise PolicyError(f"policy {name} puts probability on a prompt that is invalid at logged row {row}")
    return data.decided(probs)  # forced turns are no decision of this policy


def resample_counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Bootstrap resamples of n conversations as counts, float64 (size, n): row b counts how often each conversation
    was drawn in n draws with replacement (a multinomial sample; drawn as indices and counted, 3x faster than
    ``Generator.multinomial`` over 50,000 categories). The array is the transpose of a C-ordered (n, size) one: the
    per-time sums read that layout, so their transpose is free."""
    drawn = rng.integers(0, n, (size, n)) * size + np.arange(size)[:, None]  # index of (conversation, resample)
    return np.bincount(drawn.ravel(), minlength=size * n).reshape(n, size).astype(np.float64).T


def compact_q(q, data: OPEData, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the estimators read of a Q model: (Q(s_t, a_t), V(s_t) = sum_a pi(a|s_t) Q(s_t, a)), float64 (n,) each, from
    Q values (n, N_PROMPTS) at the logged states; a pair already in that form passes through."""
    if isinstance(q, tuple):
        return q
    return q[np.arange(data.n_turns), data.actions], (q * target).sum(axis=1)


def check_support(data: OPEData, target: np.ndarray, min_propensity: float = MIN_PROPENSITY) -> SupportCheck:
    """Where the target (float64 (n, N_PROMPTS)) gives probability to a prompt that the logging policy gave less
    than ``min_propensity`` there: such a prompt was, for estimation, never tried."""
    behaviour = data.behaviour
    if behaviour is None:  # only the logged prompt's propensity is known: a zero-propensity prompt cannot be seen
        return SupportCheck(True, 0, 0.0, "logging distribution not logged; support assumed")
    missing = (target > 0) & ~((behaviour > 0) & (behaviour >= min_propensity))
    rows = missing.any(axis=1)
    count = int(rows.sum())
    if not count:
        return SupportCheck(True, 0, 0.0, f"every prompt the policy may ask had a logging probability of at least {min_propensity:g}")
    row = int(np.flatnonzero(rows)[0])
    prompts = tuple(sorted({PROMPTS[a].id.value for a in np.flatnonzero(missing.any(axis=0))}))
    share = float(target[missing].sum() / data.n_turns)
    return SupportCheck(
        False, count, count / data.n_turns,
        (f"unsupported: in {count:,} of {data.n_turns:,} logged states ({count / data.n_turns:.1%}) the policy may ask "
         f"{', '.join(prompts)}, which the logging policy (almost) never tried there (probability below {min_propensity:g}; "
         f"first at row {row}); "
         f"log with exploration over every valid prompt before estimating this policy"),
        unsupported_mass=share, prompts=prompts)


def weight_diagnostics(weights: Weights) -> WeightDiagnostics:
    """Effective sample size (Kish: (sum w)^2 / sum w^2) and statistics of the conversations' final weights."""
    final = weights.final
    n = len(final)
    total, square = float(final.sum()), float((final**2).sum())
    ess = total**2 / square if square > 0 else 0.0
    first = weights.rho[weights.data.first]
    ess_first = float(first.sum() ** 2 / (first**2).sum()) if (first**2).sum() > 0 else 0.0
    return WeightDiagnostics(
        ess=ess, ess_share=ess / n, ess_first_turn=ess_first, weight_mean=total / n, weight_max=float(final.max()),
        weight_p99=float(np.quantile(final, 0.99)), zero_weight_share=float((final == 0).mean()),
        max_weight_share=float(final.max() / total) if total > 0 else None,
    )


@dataclass
class OPEResult:
    """Estimates, intervals and diagnostics per policy; bootstrap draws kept for paired comparisons.

    draws: (policy, estimator, metric) -> float64 (B,) bootstrap values; point: the same keys -> the estimate.
    """

    settings: OPESettings
    conversations: int
    turns: int
    on_policy: dict[Metric, float]
    policies: dict[str, PolicyEstimates] = field(default_factory=dict)
    draws: dict = field(default_factory=dict)
    point: dict = field(default_factory=dict)
    jackknife: dict = field(default_factory=dict)
    hcope: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # (policy, estimator, metric) -> (K,) estimates with each refitted Q model
    seconds: float = 0.0

    def difference(self, candidate: str, baseline: str, estimator: str, metric: Metric | str,
                   interval: str = "percentile") -> Improvement:
        """Paired difference candidate - baseline on the same logs, the same resamples and the same jackknife groups.

        interval: ``percentile``, ``bca`` or ``t`` (of the paired difference), or ``hcope``: [lower(candidate) -
        upper(baseline), upper(candidate) - lower(baseline)] with each policy's bound at a quarter of 1 - confidence,
        so each side of the difference holds with probability >= 1 - (1 - confidence) / 2 (a union bound).

        Raises ``ConfigError`` when either policy has no such estimate or for an interval without a paired form."""
        metric = Metric(metric)
        key_c, key_b = (candidate, estimator, metric), (baseline, estimator, metric)
        if key_c not in self.point or key_b not in self.point:
            raise ConfigError(f"no {estimator} estimate of {metric} for {candidate if key_c not in self.point else baseline}")
        diff = self.point[key_c] - self.point[key_b]
        confidence = self.settings.confidence
        jack = (Jackknife(self.jackknife[key_c] - self.jackknife[key_b])
                if key_c in self.jackknife and key_b in self.jackknife else None)
        paired = self.draws[key_c] - self.draws[key_b] if key_c in self.draws and key_b in self.draws else None
        if interval == "percentile":
            ci = percentile(paired, confidence) if paired is not None else None
        elif interval == "bca":
            ci = bca(paired, diff, jack, confidence) if paired is not None else None
        elif interval == "t":
            spread = (np.var(self.members[key_c] - self.members[key_b], ddof=1)
                      if key_c in self.members and key_b in self.members else 0.0)
            ci = student_t(diff, jack, confidence, spread)
        elif interval == "hcope":
            bc, bb = self.hcope.get((candidate, metric)), self.hcope.get((baseline, metric))
            ci = ((bc["difference"][0] - bb["difference"][1], bc["difference"][1] - bb["difference"][0])
                  if bc and bb and bc.get("difference") and bb.get("difference") else None)
        else:
            raise ConfigError(f"the gate's bound must be one of percentile, bca, t, hcope, got {interval!r}")
        base = self.point[key_b]
        return Improvement(diff, ci, diff / base if base else None, (ci[0] / base, ci[1] / base) if ci and base else None)


def _number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _estimate(result: OPEResult, key: tuple, settings: OPESettings, detail: dict | None,
              limits: tuple[float, float] | None = None) -> Estimate:
    """The estimate of ``key`` with every interval of ``CI_METHODS`` (``ci`` is the settings' one); ``limits``: the
    range the quantity lies in, which every interval is cut to (``evaluation.risk.clip_interval``)."""
    point = result.point[key]
    draws = result.draws.get(key)
    jack = Jackknife(result.jackknife[key]) if key in result.jackknife else None
    confidence = settings.confidence
    intervals = {}
    if draws is not None:
        intervals["percentile"] = percentile(draws, confidence)
        intervals["bca"] = bca(draws, point, jack, confidence)
        intervals["t"] = student_t(point, jack, confidence,
                                   float(np.var(result.members[key], ddof=1)) if key in result.members else 0.0)
        se_key = (*key, "se")
        if se_key in result.draws:
            intervals["bootstrap-t"] = bootstrap_t(draws, result.draws[se_key], point, result.point[se_key], confidence)
    se = _number(float(np.nanstd(draws, ddof=1))) if draws is not None and np.isfinite(draws).sum() > 1 else None
    if limits is not None:
        intervals = {method: clip_interval(interval, *limits) for method, interval in intervals.items()}
    return Estimate(_number(point), intervals.get(settings.interval), se, intervals, detail)


def _reads_q(reported: str, names: list) -> bool:
    """Whether the reported estimator reads a Q model."""
    return any(r == reported and q is not None for r, _, q in names)


def _hcope(x: MetricInputs, data: OPEData, metric: Metric, settings: OPESettings) -> dict:
    """The hcope interval of one policy and metric (``evaluation.intervals``), and the one the gate's paired
    difference uses (each side at a quarter of 1 - confidence); ``interval`` None with the reason when the logs
    hold a return beyond the bound the upper side needs."""
    per_decision = PDIS().contributions(x)
    returns = x.weights.per_conversation(x.rewards)
    top = 1.0 if metric is Metric.SUCCESS_RATE else float(settings.max_prompts)
    try:
        both = hcope_interval(per_decision, x.weights.final, returns, top, settings.confidence, settings.seed)
        paired = hcope_interval(per_decision, x.weights.final, returns, top, 1 - (1 - settings.confidence) / 2, settings.seed)
    except ValueError as exc:
        return {"interval": None, "difference": None, "reason": f"{exc} (--max-prompts {settings.max_prompts})"}
    return {"interval": both["interval"], "difference": paired["interval"], "max_return": top,
            "lower_threshold": both["lower"]["threshold"], "lower_clipped_share": both["lower"]["clipped_share"],
            "upper_threshold": both["upper"]["threshold"], "upper_clipped_share": both["upper"]["clipped_share"]}


class _Resampling:
    """What the estimates under a vector of conversation counts need (every policy's inputs, the estimators, the
    risks' columns): the point estimate, the jackknife and each bootstrap block evaluate it. Picklable, so that
    bootstrap blocks can run as tasks of the engine (``core.engine``)."""

    def __init__(self, inputs: dict, names: list, horizon: int, usefulness: np.ndarray, prompts: np.ndarray,
                 abandoned: np.ndarray, members: int, n: int) -> None:
        self.inputs, self.names, self.horizon = inputs, names, horizon
        self.usefulness, self.prompts, self.abandoned = usefulness, prompts, abandoned
        self.members, self.n = members, n
        self.plan = SumsPlan()  # the vectors summed, the same for every block of counts

    def __getstate__(self) -> dict:
        return {**self.__dict__, "plan": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.plan = SumsPlan()

    def run(self, counts: np.ndarray, with_se: bool = False, member: int | None = None) -> dict:
        with np.errstate(invalid="ignore", divide="ignore"):  # a count vector of no conversation (the jackknife of one
            return self._run(counts, with_se, member)          # conversation) has no mean: NaN, no warning printed

    def _run(self, counts: np.ndarray, with_se: bool, member: int | None) -> dict:
        sums = Sums(counts, self.horizon, self.plan)
        values = {}
        for policy, per_policy in self.inputs.items():
            for reported, estimator, q in self.names:
                method = ESTIMATORS[estimator]
                q = q if q is None or member is None else f"{q}#{member}"
                for metric in METRICS:
                    x = per_policy[(metric, q)] if q else per_policy[(metric, None)]
                    stats = _Stats(x, sums, (policy, metric, q))
                    values[(policy, reported, metric)] = method.value(stats)
                    if with_se and isinstance(method, LinearEstimator):
                        values[(policy, reported, metric, "se")] = method.standard_error(stats)
            weights = per_policy[(Metric.USEFULNESS, None)].weights
            for name, value in risk_values(sums, policy, weights.final, self.abandoned, self.usefulness, self.prompts).items():
                values[(policy, "risk", name)] = value
        return values

    def draw_block(self, counts: np.ndarray, first: int) -> dict:
        """The estimates under each count vector; with an ensemble, draw b reads member b mod K's Q model."""
        if not self.members or not self.inputs:
            return self.run(counts, with_se=True)
        out: dict = {}
        for k in range(self.members):
            rows = np.flatnonzero((first + np.arange(len(counts))) % self.members == k)
            if not len(rows):
                continue
            for key, value in self.run(counts[rows], with_se=True, member=k).items():
                out.setdefault(key, np.empty(len(counts)))[rows] = value
        return out


def _ess_advice(ess: float, n: int, minimum: float) -> str:
    """What to do about an effective sample size ``ess`` of ``n`` conversations below ``minimum``: how many logged
    conversations like these would reach it (the ESS of i.i.d. conversations grows in proportion to their number)."""
    if not ess > 0:
        return ("(no logged conversation is one this policy would have had); log with more exploration, or from a policy "
                "closer to this one")
    needed = math.ceil(minimum * n / ess)
    return (f"(an effective {ess / n:.1%} of them: about {needed:,} conversations logged like these would reach "
            f"{minimum:g}); log more, or with more exploration, or from a policy closer to this one")


def _below(value: float, minimum: float) -> str:
    """``value`` with one decimal, or as many as show it is below ``minimum`` (9.96 of 10 is not "10.0")."""
    for digits in range(1, 7):
        text = f"{value:.{digits}f}"
        if float(text) < minimum:
            return text
    return f"{value:.6g}"


_RESAMPLING: _Resampling | None = None  # in an engine's worker process: the context its bootstrap blocks read


def _resampling_init(context: _Resampling) -> None:
    global _RESAMPLING
    _RESAMPLING = context


def _resampling_block(state: dict, size: int, first: int) -> tuple[int, dict]:
    """One bootstrap block in a worker: the counts drawn from the driver's generator state, then the estimates."""
    assert _RESAMPLING is not None
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return first, _RESAMPLING.draw_block(resample_counts(rng, _RESAMPLING.n, size), first)


def _bootstrap(context: _Resampling, settings: OPESettings, progress) -> dict:
    """``settings.bootstrap`` resamples of conversations, in blocks of ``_CHUNK`` count vectors drawn in order from
    one generator seeded with ``settings.seed``: in this process with the local engine, or as engine tasks (Ray)
    that redraw each block's counts from the generator's state at that block. The same draws either way."""
    from core.engine import default_engine, run_tasks

    rng = np.random.default_rng(settings.seed)
    n, total = context.n, settings.bootstrap
    blocks: dict[int, dict] = {}
    done = 0
    engine = default_engine()
    if engine.is_local:
        while done < total:
            size = min(_CHUNK, total - done)
            blocks[done] = context.draw_block(resample_counts(rng, n, size), done)
            done += size
            if progress:
                progress("bootstrap", done, total)
    else:
        calls = []
        while done < total:
            size = min(_CHUNK, total - done)
            calls.append((rng.bit_generator.state, size, done))
            resample_counts(rng, n, size)  # advance the generator past this block's draws
            done += size
        finished = 0
        for first, values in run_tasks(engine, _resampling_init, (context,), _resampling_block, calls, workers=os.cpu_count() or 1):
            blocks[first] = values
            finished += len(next(iter(values.values()))) if values else 0
            if progress:
                progress("bootstrap", min(finished, total), total)
    order = sorted(blocks)
    keys = blocks[order[0]].keys() if order else []
    return {key: np.concatenate([blocks[first][key] for first in order]) for key in keys}


def evaluate_targets(data: OPEData, targets: dict[str, np.ndarray], settings: OPESettings, *,
                     q_values: dict[str, dict[str, dict[str, np.ndarray]]] | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> OPEResult:
    """Estimate every policy in ``targets`` (name -> pi at every logged state) on ``data``.

    ``q_values`` (policy -> Q model -> metric -> (n, N_PROMPTS), or ``compact_q``'s pair) may be given; missing
    ones are fitted and added to it as ``compact_q``'s pairs (the full (n, N_PROMPTS) arrays are not kept: at 50,000
    conversations they held ~250 MB for four policies).
    ``progress(stage, done, total)`` reports the Q-model fits and the bootstrap.
    """
    start = time.perf_counter()
    q_values = q_values if q_values is not None else {}
    result = OPEResult(settings, data.n_conversations, data.n_turns,
                       on_policy={m: float(data.on_policy_values(m).mean()) for m in METRICS})
    names = estimator_names(settings)
    rewards = {m: data.metric_rewards(m) for m in METRICS}  # the same for every policy
    inputs: dict[str, dict[tuple[str, str | None], MetricInputs]] = {}
    for policy, target in targets.items():
        if target.shape != data.masks.shape:
            raise ConfigError(f"policy {policy}: target probabilities have shape {target.shape}, the logs {data.masks.shape}")
        target = data.decided(target)
        support = check_support(data, target, settings.min_propensity)
        weights = Weights(data, target)
        share = target.mean(axis=0)
        entry = PolicyEstimates(support.supported, support, {p.id.value: float(share[i]) for i, p in enumerate(PROMPTS)})
        result.policies[policy] = entry
        if not support.supported:
            continue
        entry.diagnostics = weight_diagnostics(weights)
        ess = entry.diagnostics.ess
        if ess < settings.min_ess or not ess > 0:  # no weight at all is no estimate, whatever --min-ess says
            entry.supported = False
            below = f", below the minimum of {settings.min_ess:g}" if ess < settings.min_ess else ""
            entry.support = SupportCheck(
                False, 0, 0.0,
                f"not estimable: the importance weights leave an effective sample size of {_below(ess, settings.min_ess)} conversations of "
                f"{data.n_conversations:,}{below} " + _ess_advice(ess, data.n_conversations, settings.min_ess))
            continue
        per_policy = {}
        for q in (settings.q_models if settings.needs_q else ()):
            fitted = q_values.setdefault(policy, {}).get(q)
            if fitted is None:
                report = (lambda done, total, _p=policy, _q=q: progress(f"{_q} Q model for {_p}", done, total)) if progress else None
                fitted = fit_q(q, data, target, settings.fqe, progress=report)
                # kept as what the estimators and the cache read (Q at the logged prompt, V): 2 of 11 columns
                fitted = q_values[policy][q] = {m: compact_q(fitted[m], data, target) for m in METRICS}
            for metric in METRICS:
                q_logged, v = compact_q(fitted[metric], data, target)
                per_policy[(metric, q)] = MetricInputs(weights, rewards[metric], q_logged, v)
            for k in range(settings.q_ensemble if settings.bootstrap else 0):
                member = q_values[policy].get(f"{q}#{k}")
                if member is None:
                    report = (lambda done, total, _p=policy, _q=q, _k=k: progress(f"{_q} Q model {_k + 1}/{settings.q_ensemble} "
                                                                                  f"(resampled) for {_p}", done, total)) if progress else None
                    counts = np.random.default_rng([settings.seed, k, 17]).multinomial(
                        data.n_conversations, np.full(data.n_conversations, 1 / data.n_conversations))
                    member = fit_q(q, data, target, replace(settings.fqe, seed=settings.fqe.seed + k + 1), progress=report,
                                   conversation_counts=counts)
                    member = q_values[policy][f"{q}#{k}"] = {m: compact_q(member[m], data, target) for m in METRICS}
                for metric in METRICS:
                    q_logged, v = compact_q(member[metric], data, target)
                    per_policy[(metric, f"{q}#{k}")] = MetricInputs(weights, rewards[metric], q_logged, v)
        for metric in METRICS:
            per_policy[(metric, None)] = MetricInputs(weights, rewards[metric], None, None)
        inputs[policy] = per_policy

    members = settings.q_ensemble if settings.needs_q else 0
    context = _Resampling(inputs, names, int(data.turn.max()) + 1, data.on_policy_values(Metric.USEFULNESS),
                          data.lengths.astype(np.float64), data.abandoned, members, data.n_conversations)
    run = context.run

    for key, value in run(np.ones((1, data.n_conversations)), with_se=True).items():
        result.point[key] = float(value[0])
    if members and inputs and settings.bootstrap:  # each refitted Q model's estimate on the whole sample
        per_member = [run(np.ones((1, data.n_conversations)), member=k) for k in range(members)]
        result.members = {key: np.array([m[key][0] for m in per_member]) for key in per_member[0]
                          if len(key) == 3 and _reads_q(key[1], names)}
    personas = sorted(set(data.persona.tolist()))
    by_persona = {p: run((data.persona == p).astype(np.float64)[None, :]) for p in personas} if len(personas) > 1 else {}
    if settings.bootstrap and inputs:  # no supported policy: nothing to resample
        result.jackknife = run(jackknife_groups(data.n_conversations, settings.jackknife_groups, settings.seed))
        if progress:
            progress("jackknife", 1, 1)
        result.draws = _bootstrap(context, settings, progress)

    for policy, per_policy in inputs.items():
        entry = result.policies[policy]
        for reported, estimator, q in names:
            entry.estimators[reported] = {}
            for metric in METRICS:
                key = (policy, reported, metric)
                entry.estimators[reported][metric] = _estimate(result, key, settings,
                                                               ESTIMATORS[estimator].detail(per_policy[(metric, q)]))
        for metric in METRICS:
            x = per_policy[(metric, None)]
            result.hcope[(policy, metric)] = bound = _hcope(x, data, metric, settings)
            entry.bounds[metric] = {"hcope": bound}
        entry.risk = {name: _estimate(result, (policy, "risk", name), settings, None, RISK_RANGES[name])
                      for name in RISKS if (policy, "risk", name) in result.point}
        entry.personas = {
            p: SegmentEstimates(int((data.persona == p).sum()),
                                {reported: {m: _number(float(values[(policy, reported, m)][0])) for m in METRICS}
                                 for reported, _, _ in names})
            for p, values in by_persona.items()
        }
    result.seconds = time.perf_counter() - start
    return result
