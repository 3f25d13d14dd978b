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


def _result(candidate_draws, point_diff: float, supported: bool = True) -> OPEResult:
    result = OPEResult(OPESettings(bootstrap=len(candidate_draws)), conversations=100, turns=400, on_policy={})
    base = np.full(len(candidate_draws), 1.0)
    result.draws = {("cand", "dr", "usefulness"): 1.0 + np.asarray(candidate_draws, float), ("cur", "dr", "usefulness"): base}
    result.point = {("cand", "dr", "usefulness"): 1.0 + point_diff, ("cur", "dr", "usefulness"): 1.0}
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
    assert "play_sample in 97.0%" in decision.conditions[2].detail


def test_refuses_an_unsupported_candidate():
    decision = gate_decision("cand", "cur", _result(np.linspace(0.05, 0.3, 200), 0.2, supported=False), _sim(0.5, 0.6), GateSettings())
    assert decision.failed[:2] == ("supported", "improvement")


def test_gate_settings_are_checked():
    with pytest.raises(ConfigError, match="--metric"):
        GateSettings(metric="joy")
    with pytest.raises(ConfigError, match="--max-prompt-share"):
        GateSettings(max_prompt_share=0)


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
