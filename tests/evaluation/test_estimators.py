"""Every estimator against a value computed another way (loops over conversations), on hand-made logs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS
from evaluation.data import METRICS, OPEData
from evaluation.estimators import ESTIMATORS, MetricInputs, Sums, Weights, _Stats
from evaluation.ope import OPESettings, check_support, evaluate_targets
from logs.errors import LogValidationError

from .conftest import make_data


def _uniform_target(data: OPEData) -> np.ndarray:
    return data.masks / data.masks.sum(axis=1, keepdims=True)


def _greedy_target(data: OPEData) -> np.ndarray:
    """Prompt 0 when valid, else the first valid prompt."""
    best = np.where(data.masks[:, 0], 0, data.masks.argmax(axis=1))
    target = np.zeros(data.masks.shape)
    target[np.arange(data.n_turns), best] = 1.0
    return target


def _conversations(data: OPEData, target: np.ndarray, metric: str, q: np.ndarray):
    """Per conversation: lists of (rho, r, Q(s,a), V(s)) per turn."""
    r = data.metric_rewards(metric)
    out = []
    for i in range(data.n_conversations):
        rows = np.flatnonzero(data.conversation == i)
        out.append([(target[j, data.actions[j]] / data.propensities[j], r[j], q[j, data.actions[j]], float(target[j] @ q[j]))
                    for j in rows])
    return out


def _reference(name: str, convs, parameter: float | None = None) -> float:
    n = len(convs)
    if name in ("switch-dr", "dros"):  # dr with the weights of its corrections switched off beyond tau, or shrunk
        parameter = np.inf if parameter is None else parameter
        values = []
        for c in convs:
            total, w_before, kept_before = 0.0, 1.0, 1.0  # w_-1 = 1, never switched off or shrunk
            for rho, r, qa, vs in c:
                total += kept_before * vs
                w = w_before * rho
                if name == "switch-dr":
                    kept = w if (kept_before > 0 or w_before == 0) and w <= parameter and (kept_before == w_before) else 0.0
                else:
                    kept = w if not np.isfinite(parameter) else parameter * w / (w * w + parameter)
                total += kept * (r - qa)
                w_before, kept_before = w, kept
            values.append(total)
        return float(np.mean(values))
    weights = [np.cumprod([t[0] for t in c]) for c in convs]
    if name in ("is", "wis"):
        W = np.array([w[-1] for w in weights])
        G = np.array([sum(t[1] for t in c) for c in convs])
        return float((W * G).mean()) if name == "is" else float((W * G).sum() / W.sum())
    if name == "pdis":
        return float(np.mean([sum(w[t] * c[t][1] for t in range(len(c))) for c, w in zip(convs, weights)]))
    if name == "dm":
        return float(np.mean([c[0][3] for c in convs]))
    if name == "dr":  # Jiang & Li's recursion, backwards over each conversation
        values = []
        for c in convs:
            v = 0.0
            for rho, r, qa, vs in reversed(c):
                v = vs + rho * (r + v - qa)
            values.append(v)
        return float(np.mean(values))
    horizon = max(len(c) for c in convs)

    def w_at(i, t):  # padded: an ended conversation keeps its last weight; w_-1 = 1
        return 1.0 if t < 0 else weights[i][min(t, len(convs[i]) - 1)]

    den = [sum(w_at(i, t) for i in range(n)) for t in range(-1, horizon)]
    if name == "wpdis":
        # a time step where every weight is 0 carries no evidence and adds nothing
        return float(sum(sum(w_at(i, t) * convs[i][t][1] for i in range(n) if t < len(convs[i])) / den[t + 1]
                         for t in range(horizon) if den[t + 1] > 0))
    if name == "wdr":
        total = 0.0
        for t in range(horizon):
            for i in range(n):
                if t < len(convs[i]):
                    rho, r, qa, vs = convs[i][t]
                    total += (w_at(i, t) / den[t + 1] * (r - qa) if den[t + 1] > 0 else 0.0)
                    total += w_at(i, t - 1) / den[t] * vs if den[t] > 0 else 0.0
        return total
    raise AssertionError(name)


def _estimate(data, target, q, name, metric, counts=None):
    weights = Weights(data, target)
    inputs = MetricInputs(weights, data.metric_rewards(metric), q[np.arange(data.n_turns), data.actions], (q * target).sum(axis=1))
    sums = Sums(np.ones((1, data.n_conversations)) if counts is None else counts, int(data.turn.max()) + 1)
    return ESTIMATORS[name].value(_Stats(inputs, sums, ("p", metric, "q")))


def _detail(data, target, q, name, metric):
    weights = Weights(data, target)
    inputs = MetricInputs(weights, data.metric_rewards(metric), q[np.arange(data.n_turns), data.actions], (q * target).sum(axis=1))
    return ESTIMATORS[name].detail(inputs)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("policy", ["uniform", "greedy", "mode"])
def test_estimators_match_loop_implementations(tiny, name, metric, policy):
    if policy == "mode":  # greedy on the logging policy's most likely prompt: two of three conversations keep weight
        target = np.zeros(tiny.masks.shape)
        target[np.arange(tiny.n_turns), tiny.behaviour.argmax(axis=1)] = 1.0
    else:
        target = _uniform_target(tiny) if policy == "uniform" else _greedy_target(tiny)
    q = np.random.default_rng(3).normal(size=(tiny.n_turns, N_PROMPTS))
    got = _estimate(tiny, target, q, name, metric)[0]
    detail = _detail(tiny, target, q, name, metric)
    with np.errstate(invalid="ignore"):
        expected = _reference(name, _conversations(tiny, target, metric, q), detail and detail["value"])
    # greedy: every conversation has weight 0, so wis is undefined (nan) both ways
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)


def test_hand_computed_values(tiny):
    """Checked by hand: greedy target 'prompt 0 when valid'; weights 2, 0, 0 (conversation 1 logs prompt 1)."""
    target = _greedy_target(tiny)
    q = np.zeros((tiny.n_turns, N_PROMPTS))
    # conversation 0: rho = 1/0.5 = 2 then 0 (logged prompt 1): W = 0; conversation 1: rho 0; conversation 2: rho 2, 0, 0
    assert _estimate(tiny, target, q, "is", "prompts")[0] == 0.0
    # per-decision: conversation 0 contributes w_0 * 1 = 2, conversation 2 contributes 2 at turn 0: (2 + 0 + 2) / 3
    assert _estimate(tiny, target, q, "pdis", "prompts")[0] == pytest.approx(4 / 3)
    # wpdis turn 0: (2 + 0 + 2) / (2 + 0 + 2) = 1; later turns carry zero weight
    assert _estimate(tiny, target, q, "wpdis", "prompts")[0] == pytest.approx(1.0)


def test_on_policy_is_is_the_empirical_mean(tiny):
    """Target = logging policy: every weight is 1, IS and WIS equal the plain mean, and the weighted forms equal the others."""
    q = np.random.default_rng(0).normal(size=(tiny.n_turns, N_PROMPTS))
    for metric in METRICS:
        mean = tiny.on_policy_values(metric).mean()
        assert _estimate(tiny, tiny.behaviour, q, "is", metric)[0] == mean
        assert _estimate(tiny, tiny.behaviour, q, "wis", metric)[0] == pytest.approx(mean, rel=1e-15)
        assert _estimate(tiny, tiny.behaviour, q, "wpdis", metric)[0] == pytest.approx(_estimate(tiny, tiny.behaviour, q, "pdis", metric)[0])
        assert _estimate(tiny, tiny.behaviour, q, "wdr", metric)[0] == pytest.approx(_estimate(tiny, tiny.behaviour, q, "dr", metric)[0])


def test_dr_with_zero_q_is_pdis(tiny):
    target = _uniform_target(tiny)
    q = np.zeros((tiny.n_turns, N_PROMPTS))
    for metric in METRICS:
        assert _estimate(tiny, target, q, "dr", metric)[0] == pytest.approx(_estimate(tiny, target, q, "pdis", metric)[0])


def test_bootstrap_counts_are_resampled_conversations(tiny):
    """Counts (2, 0, 1) give the estimate of the log with conversation 0 twice and conversation 1 dropped."""
    target = _uniform_target(tiny)
    q = np.random.default_rng(1).normal(size=(tiny.n_turns, N_PROMPTS))
    keep = [0, 0, 2]
    rows = np.concatenate([np.flatnonzero(tiny.conversation == i) for i in keep])
    lengths = [int((tiny.conversation == i).sum()) for i in keep]
    resampled = make_data(lengths, tiny.actions[rows], [{a: p for a, p in enumerate(tiny.behaviour[j]) if p > 0} for j in rows],
                          tiny.rewards[rows], tiny.success[keep])
    for name in ESTIMATORS:
        if name in ("switch-dr", "dros"):  # tuned once on the whole sample by design, so a resample keeps its parameter
            continue
        for metric in METRICS:
            counted = _estimate(tiny, target, q, name, metric, counts=np.array([[2.0, 0.0, 1.0]]))[0]
            direct = _estimate(resampled, target[rows], q[rows], name, metric)[0]
            assert counted == pytest.approx(direct, rel=1e-12, abs=1e-12), (name, metric)


def test_usefulness_is_credited_at_the_end(tiny):
    r = tiny.metric_rewards("usefulness")
    assert r.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 2.0]
    assert tiny.metric_rewards("success_rate").tolist() == [0, 1, 0, 0, 0, 1]


# ---------------------------------------------------------------- the runner
def test_runner_intervals_and_paired_difference(tiny):
    settings = OPESettings(estimators=("is", "wis", "pdis", "wpdis"), bootstrap=200, seed=4, min_ess=0)
    result = evaluate_targets(tiny, {"u": _uniform_target(tiny), "same": _uniform_target(tiny)}, settings)
    again = evaluate_targets(tiny, {"u": _uniform_target(tiny), "same": _uniform_target(tiny)}, settings)
    entry = result.policies["u"]
    assert entry.supported and entry.diagnostics.ess > 0
    for name in settings.estimators:
        for metric in METRICS:
            e = entry.estimators[name][metric]
            assert e == again.policies["u"].estimators[name][metric]  # seeded: reproducible
            if e.ci:
                assert e.ci[0] <= e.ci[1]
    same = result.difference("u", "same", "pdis", "usefulness")
    assert same.difference == 0.0 and same.ci == (0.0, 0.0)


def test_unsupported_policy_is_reported_not_estimated(tiny):
    target = np.zeros(tiny.masks.shape)
    target[:, 2] = 1.0  # prompt 2 has logging probability 0 in most states: also invalid there
    support = check_support(tiny, np.where(tiny.masks, 0.0, 0.0) + target)
    assert not support.supported and "never tried" in support.message and support.prompts == ("ask_mood",)
    result = evaluate_targets(tiny, {"bad": target}, OPESettings(estimators=("is",), bootstrap=10, min_ess=0))
    assert result.policies["bad"].supported is False
    assert result.policies["bad"].estimators == {}


# ------------------------------------------------------------ invalid input
def _arrays(tiny):
    return {f: getattr(tiny, f) for f in ("conversation", "turn", "actions", "propensities", "masks", "features", "history",
                                          "rewards", "success", "persona", "behaviour")}


def test_zero_propensity_is_refused_with_its_row(tiny):
    a = _arrays(tiny)
    a["propensities"] = a["propensities"].copy()
    a["propensities"][3] = 0.0
    with pytest.raises(LogValidationError, match=r"propensity must be in \(0, 1\], found 0.0 at row 3"):
        OPEData(**a)


def test_mismatched_lengths_are_refused_by_name(tiny):
    a = _arrays(tiny)
    a["rewards"] = a["rewards"][:-1]
    with pytest.raises(LogValidationError, match="rewards has 5 rows, actions has 6"):
        OPEData(**a)


def test_nan_is_refused_by_name(tiny):
    a = _arrays(tiny)
    a["features"] = a["features"].copy()
    a["features"][4, 1] = np.nan
    with pytest.raises(LogValidationError, match="NaN or infinite value in features at row 4"):
        OPEData(**a)
    a = _arrays(tiny)
    a["rewards"] = a["rewards"].copy()
    a["rewards"][0] = np.nan
    with pytest.raises(LogValidationError, match="NaN or infinite value in rewards at row 0"):
        OPEData(**a)


def test_propensity_must_match_the_logged_distribution(tiny):
    a = _arrays(tiny)
    a["propensities"] = a["propensities"].copy()
    a["propensities"][0] = 0.4
    with pytest.raises(LogValidationError, match="propensity 0.4 at row 0 differs"):
        OPEData(**a)


def test_settings_refuse_unknown_names():
    with pytest.raises(ConfigError, match="unknown estimator 'magic'"):
        OPESettings(estimators=("magic",))
    with pytest.raises(ConfigError, match="--q-model"):
        OPESettings(q_models=("oracle",))
    with pytest.raises(ConfigError, match="--bootstrap"):
        OPESettings(bootstrap=-1)


# ---------------------------------------------------------------- forced turns and support
def test_a_forced_turn_is_no_decision_for_any_target():
    """A person led at the second turn of conversation 0 ("play some jazz"): logged one-hot, propensity 1, forced.
    Whatever a target does there, its weight is 1 at that turn: the estimate is that of the two real decisions."""
    from tests.evaluation.conftest import make_data

    b = [{0: 0.5, 1: 0.5}, {2: 1.0}, {0: 0.25, 1: 0.75}]
    data = make_data(lengths=[2, 1], actions=[0, 2, 1], behaviour_rows=b, rewards=[0.0, 1.0, 1.0], success=[True, True])
    data = OPEData(**{**{f: getattr(data, f) for f in ("conversation", "turn", "actions", "propensities", "masks", "features",
                                                         "history", "rewards", "success", "persona", "behaviour")},
                      "forced": np.array([False, True, False])})
    data.masks[1] = True  # every prompt was valid there: a policy *could* have asked another
    target = np.zeros(data.masks.shape)
    target[0, 0], target[1, 5], target[2, 1] = 1.0, 1.0, 0.5  # at the forced turn this policy would have asked prompt 5
    target[2, 0] = 0.5
    decided = data.decided(target)
    assert decided[1].tolist() == [0, 0, 1] + [0] * (N_PROMPTS - 3) and np.array_equal(decided[[0, 2]], target[[0, 2]])
    result = evaluate_targets(data, {"p": target}, OPESettings(estimators=("is", "pdis"), bootstrap=0, min_ess=0))
    assert result.policies["p"].supported  # the forced prompt needs no support: it was certain for every policy
    # conversation 0: rho = 1/0.5 (turn 0) x 1 (forced) = 2, usefulness 1 at its end; conversation 1: rho = 0.5/0.75
    expected = (2.0 * 1.0 + (0.5 / 0.75) * 1.0) / 2
    assert result.point[("p", "is", "usefulness")] == pytest.approx(expected, abs=1e-12)
    assert result.point[("p", "pdis", "usefulness")] == pytest.approx(expected, abs=1e-12)


def test_near_deterministic_logs_are_not_estimable():
    """A logging policy that gave every prompt but one a probability of 1e-34: a policy asking another prompt is
    unsupported (below the minimum propensity), and one whose weights leave too few effective conversations is not
    estimable; neither gets a number."""
    from tests.evaluation.conftest import make_data

    lengths = [1] * 40
    b = [{0: 1.0 - 1e-34, 1: 1e-34}] * 40
    data = make_data(lengths=lengths, actions=[0] * 40, behaviour_rows=b, rewards=[1.0] * 40, success=[True] * 40)
    other = np.zeros(data.masks.shape)
    other[:, 1] = 1.0
    result = evaluate_targets(data, {"other": other}, OPESettings(estimators=("is",), bootstrap=10))
    entry = result.policies["other"]
    assert not entry.supported and "below 0.001" in entry.support.message and entry.estimators == {}
    assert entry.to_dict()["supported"] is False
    half = np.zeros(data.masks.shape)
    half[:3, 0] = 1.0  # follows the logs on 3 conversations only: ESS 3
    half[3:, 1] = 1.0
    result = evaluate_targets(data, {"half": half}, OPESettings(estimators=("is",), bootstrap=10, min_propensity=0.0))
    entry = result.policies["half"]
    assert not entry.supported and entry.diagnostics.ess == pytest.approx(3.0)
    assert "not estimable" in entry.support.message and "below the minimum of 10" in entry.support.message
    needed = math.ceil(10 * data.n_conversations / entry.diagnostics.ess)  # the ESS grows with the conversations
    assert f"about {needed:,} conversations logged like these would reach 10" in entry.support.message, entry.support.message
    assert entry.estimators == {}
    never = np.zeros(data.masks.shape)
    never[:, 1] = 1.0  # never what was logged: every weight 0, an ESS of 0, even with the thresholds off
    result = evaluate_targets(data, {"never": never}, OPESettings(estimators=("is",), bootstrap=10, min_ess=0, min_propensity=0.0))
    entry = result.policies["never"]
    assert not entry.supported and entry.diagnostics.ess == 0 and entry.estimators == {}  # it printed is 0.000 [0, 0]
    assert "effective sample size of 0 conversations" in entry.support.message and "no logged conversation" in entry.support.message


# ------------------------------------------------------- tuned doubly robust
def _inputs(data, target, q, metric):
    return MetricInputs(Weights(data, target), data.metric_rewards(metric), q[np.arange(data.n_turns), data.actions],
                        (q * target).sum(axis=1))


@pytest.mark.parametrize("metric", METRICS)
def test_switch_dr_at_every_threshold_matches_the_loop_and_spans_dm_to_dr(tiny, metric):
    from evaluation.estimators import SwitchDR

    target = _uniform_target(tiny)
    q = np.random.default_rng(5).normal(size=(tiny.n_turns, N_PROMPTS))
    x = _inputs(tiny, target, q, metric)
    convs = _conversations(tiny, target, metric, q)
    for tau in (0.0, 0.9, 1.5, 2.5, 4.0, np.inf):
        assert SwitchDR().modified(x, tau).mean() == pytest.approx(_reference("switch-dr", convs, tau), rel=1e-12, abs=1e-12)
    assert SwitchDR().modified(x, 0.0).mean() == pytest.approx(_reference("dm", convs))
    assert SwitchDR().modified(x, np.inf).mean() == pytest.approx(_reference("dr", convs))


@pytest.mark.parametrize("name", ["switch-dr", "dros"])
def test_tuned_parameter_minimizes_the_estimated_mse(tiny, name):
    """The chosen parameter has the smallest var(z)/n + mean(z_dr - z)^2 over the grid, recomputed here."""
    estimator = ESTIMATORS[name]
    target = _uniform_target(tiny)
    q = np.random.default_rng(6).normal(size=(tiny.n_turns, N_PROMPTS))
    x = _inputs(tiny, target, q, "usefulness")
    dr = _inputs(tiny, target, q, "usefulness").dr_contributions
    n = tiny.n_conversations
    mse = {p: estimator.modified(x, p).var(ddof=1) / n + (dr - estimator.modified(x, p)).mean() ** 2 for p in estimator.grid(x)}
    detail = estimator.detail(x)
    chosen = np.inf if detail["value"] is None else detail["value"]
    assert mse[chosen] == pytest.approx(min(mse.values()))
    assert detail["bias_estimate"] == pytest.approx((dr - estimator.modified(x, chosen)).mean())


def test_dros_shrinks_towards_zero_weight_and_is_dr_without_shrinkage(tiny):
    from evaluation.estimators import DRos

    target = _uniform_target(tiny)
    q = np.random.default_rng(7).normal(size=(tiny.n_turns, N_PROMPTS))
    x = _inputs(tiny, target, q, "prompts")
    convs = _conversations(tiny, target, "prompts", q)
    assert DRos().modified(x, np.inf).mean() == pytest.approx(_reference("dr", convs))
    assert DRos().modified(x, 1e-12).mean() == pytest.approx(_reference("dm", convs), abs=1e-9)  # every weight ~0
    for lam in (0.5, 3.0, 40.0):
        assert DRos().modified(x, lam).mean() == pytest.approx(_reference("dros", convs, lam), rel=1e-12)


def test_an_ess_just_below_the_minimum_is_not_shown_as_the_minimum():
    """A newcomer read "effective sample size of 10.0 conversations of 400, below the minimum of 10"."""
    from evaluation.ope import _below

    assert _below(9.96, 10) == "9.96" and _below(9.9996, 10) == "9.9996" and _below(6.43, 10) == "6.4"
    assert _below(0.0, 10) == "0.0" and float(_below(9.999999, 10)) < 10
