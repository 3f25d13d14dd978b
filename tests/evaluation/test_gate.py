"""The deployment gate's conditions, and promotion / rollback records in the registry."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from evaluation.data import Metric
from evaluation.gate import GateSettings, gate_decision
from evaluation.ope import OPEResult, OPESettings
from evaluation.results import PolicyEstimates, SupportCheck, Truth
from policy.errors import PolicyError
from policy.registry import constant_record, current_policy, policy_history, rollback, save_policy, set_current


def _result(candidate_draws, point_diff: float, supported: bool = True, others: dict | None = None) -> OPEResult:
    """Draws of the candidate's improvement on the success rate (``candidate_draws``) and on each metric of
    ``others`` (metric -> (draws, point difference)); metrics not given do not differ."""
    n = len(candidate_draws)
    result = OPEResult(OPESettings(bootstrap=n), conversations=100, turns=400, on_policy={})
    diffs = {Metric.SUCCESS_RATE: (np.asarray(candidate_draws, float), point_diff), Metric.USEFULNESS: (np.zeros(n), 0.0),
             Metric.PROMPTS: (np.zeros(n), 0.0), **(others or {})}
    result.draws, result.point = {}, {}
    for metric, (draws, point) in diffs.items():
        draws = np.asarray(draws, float)
        result.draws[("cand", "dr", metric.value)] = 1.0 + draws
        result.draws[("cur", "dr", metric.value)] = np.full(n, 1.0)
        result.point[("cand", "dr", metric.value)] = 1.0 + point
        result.point[("cur", "dr", metric.value)] = 1.0
        # leave-one-group-out values whose jackknife standard error is the draws' standard deviation, so the default
        # t bound (point +- 1.97 sd) and the percentile bound agree on every decision below
        result.jackknife[("cand", "dr", metric.value)] = 1.0 + point + (draws - draws.mean()) / np.sqrt(n - 1)
        result.jackknife[("cur", "dr", metric.value)] = np.full(n, 1.0)
    never = SupportCheck(False, 10, 0.1, "never tried")
    fine = SupportCheck(True, 0, 0.0, "every prompt had a chance")
    result.policies = {"cand": PolicyEstimates(supported, fine if supported else never, {}),
                       "cur": PolicyEstimates(True, fine, {})}
    return result


def _truth(success: float, share: dict) -> Truth:
    return Truth(metrics={Metric.SUCCESS_RATE: success}, ci={}, conversations=500, personas={}, prompt_share=share,
                 most_asked=max(share, key=share.get))


def _sim(share_top: float, success_c: float, success_b: float = 0.5) -> dict:
    share = {"play_sample": share_top, "ask_genre": 1 - share_top}
    return {"cand": _truth(success_c, share), "cur": _truth(success_b, {"play_sample": 0.3, "ask_genre": 0.7})}


def test_promotes_on_confident_improvement_with_guardrails_holding():
    decision = gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2), _sim(0.6, 0.6), GateSettings())
    assert decision.promote and decision.failed == ()
    assert decision.improvement.ci[0] > 0


def test_refuses_when_the_lower_bound_is_not_above_zero():
    decision = gate_decision("cand", "cur", _result(np.linspace(-0.1, 0.3, 200), 0.1), _sim(0.6, 0.6), GateSettings())
    assert not decision.promote and decision.failed == ("improvement",)
    assert "lower bound not above zero" in decision.conditions[1].detail


def test_refuses_a_collapsed_policy_and_a_worse_simulator_success():
    decision = gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2), _sim(0.97, 0.4), GateSettings())
    assert decision.failed == ("no_collapse", "simulator_success")
    assert "play_sample in 97.0%" in decision.conditions[4].detail


def test_the_gate_names_every_condition_and_the_margins_refuse_longer_or_less_useful_conversations():
    names = [c.name for c in gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2), _sim(0.6, 0.6),
                                           GateSettings()).conditions]
    assert names == ["supported", "improvement", "non_inferior_prompts", "non_inferior_usefulness", "no_collapse",
                     "simulator_success"]
    # more successes, but up to 0.8 more prompts per conversation: beyond the 0.5 margin
    longer = _result(np.linspace(0.05, 0.3, 200), 0.2, others={Metric.PROMPTS: (np.linspace(0.2, 0.8, 200), 0.5)})
    decision = gate_decision("cand", "cur", longer, _sim(0.6, 0.6), GateSettings())
    assert decision.failed == ("non_inferior_prompts",)
    assert "beyond the margin +0.5" in decision.conditions[2].detail
    assert gate_decision("cand", "cur", longer, _sim(0.6, 0.6), GateSettings(prompts_margin=1.0)).promote
    assert gate_decision("cand", "cur", longer, _sim(0.6, 0.6), GateSettings(prompts_margin=None)).promote
    # usefulness down by up to 0.7 per conversation: beyond the 0.5 margin
    less = _result(np.linspace(0.05, 0.3, 200), 0.2, others={Metric.USEFULNESS: (np.linspace(-0.7, 0.0, 200), -0.3)})
    assert gate_decision("cand", "cur", less, _sim(0.6, 0.6), GateSettings()).failed == ("non_inferior_usefulness",)


def test_the_old_usefulness_gate_is_still_available_and_then_success_is_held_to_its_margin():
    # more useful prompts but fewer successes: the usefulness gate lets the improvement pass, the success margin refuses
    result = _result(np.linspace(-0.3, -0.05, 200), -0.2, others={Metric.USEFULNESS: (np.linspace(0.1, 0.5, 200), 0.3)})
    decision = gate_decision("cand", "cur", result, _sim(0.6, 0.6), GateSettings(metric="usefulness"))
    assert [c.name for c in decision.conditions][1:4] == ["improvement", "non_inferior_prompts", "non_inferior_success_rate"]
    assert decision.failed == ("non_inferior_success_rate",)
    assert not gate_decision("cand", "cur", result, _sim(0.6, 0.6), GateSettings()).promote  # success is primary by default


def test_without_the_simulator_the_prompt_share_comes_from_the_logged_states():
    settings = GateSettings(simulator_guardrails=False)
    decision = gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2), None, settings,
                             logged_share={"play_sample": 0.95, "ask_genre": 0.05})
    assert decision.failed == ("no_collapse",) and "at the logged states" in decision.conditions[-1].detail
    assert "simulator_success" not in [c.name for c in decision.conditions]
    with pytest.raises(ConfigError, match="prompt share at the logged states"):
        gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2), None, settings)


def test_refuses_an_unsupported_candidate():
    decision = gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2, supported=False), _sim(0.5, 0.6), GateSettings())
    assert decision.failed[:2] == ("supported", "improvement")


def test_gate_settings_are_checked():
    with pytest.raises(ConfigError, match=r"^--metric must be one of success_rate, usefulness, got .joy.$"):
        GateSettings(metric="joy")
    with pytest.raises(ConfigError, match="--max-prompt-share"):
        GateSettings(max_prompt_share=0)
    with pytest.raises(ConfigError, match="--metric prompts"):
        GateSettings(metric="prompts")
    with pytest.raises(ConfigError, match="--prompts-margin must be a number >= 0.*-1"):
        GateSettings(prompts_margin=-1)


def test_promotion_and_rollback_are_recorded(tmp_path, catalog):
    for name in ("a", "b"):
        save_policy(tmp_path / name, constant_record(name, "play_sample", catalog), None)
    with pytest.raises(PolicyError, match="nothing to roll back"):
        rollback(tmp_path)
    set_current("a", registry=tmp_path, action="promote", reason="test", evidence={"lb": 0.1})
    set_current("b", registry=tmp_path, action="promote", reason="test")
    assert current_policy(tmp_path) == "b"
    assert rollback(tmp_path)["to"] == "a"
    assert current_policy(tmp_path) == "a"
    assert rollback(tmp_path)["to"] == "rule"
    assert current_policy(tmp_path) == "rule"
    actions = [(e["action"], e["from"], e["to"]) for e in policy_history(tmp_path)]
    assert actions == [("promote", "rule", "a"), ("promote", "a", "b"), ("rollback", "b", "a"), ("rollback", "a", "rule")]
    assert policy_history(tmp_path)[0]["evidence"] == {"lb": 0.1}


def test_a_policy_is_not_compared_with_itself():
    with pytest.raises(ConfigError, match="already the current policy"):
        gate_decision("cur", "cur", _result(np.linspace(0.05, 0.3, 20), 0.2), _sim(0.5, 0.6), GateSettings())


@pytest.mark.parametrize("bound", ["percentile", "bca", "t", "hcope"])
def test_every_bound_is_named_and_decides_on_a_bandit(bound):
    """On a one-turn bandit (tests/evaluation/test_intervals.py) a policy asking the best prompt 90% of the time
    beats one asking the worst, by every bound; a policy is never confidently better than a near copy of itself."""
    from dialogue.prompts import N_PROMPTS
    from evaluation.ope import evaluate_targets

    from .test_intervals import _bandit

    n = 3000
    data = _bandit(n, np.random.default_rng(5))
    good, bad, copy = (np.zeros((n, N_PROMPTS)) for _ in range(3))
    good[:, 2], good[:, 0] = 0.9, 0.1
    bad[:, 0] = 1.0
    copy[:, 2], copy[:, 0] = 0.89, 0.11
    result = evaluate_targets(data, {"good": good, "bad": bad, "copy": copy},
                              OPESettings(estimators=("is",), bootstrap=300, min_ess=0))  # no Q model: no FQE to fit
    share = {"play_sample": 0.5, "ask_genre": 0.5}
    settings = GateSettings(estimator="is", bound=bound, simulator_guardrails=False, prompts_margin=None, usefulness_margin=None)
    better = gate_decision("good", "bad", result, None, settings, logged_share=share)
    assert better.promote, better.conditions
    assert f"{bound} interval" in better.conditions[1].detail
    assert ("by importance sampling (hcope)" in better.conditions[1].detail) == (bound == "hcope")
    same = gate_decision("copy", "good", result, None, settings, logged_share=share)
    assert same.failed == ("improvement",)
    with pytest.raises(ConfigError, match="--bound must be one of percentile, bca, t, hcope, got 'bootstrap-t'"):
        GateSettings(bound="bootstrap-t")
