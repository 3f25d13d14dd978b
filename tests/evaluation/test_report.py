"""The report renders whatever the estimates are: an interval that does not contain its estimate (few resamples)."""

from __future__ import annotations

from evaluation.data import METRICS
from evaluation.report import write_report
from evaluation.results import Estimate, EvaluationReport, PolicyEstimates, SupportCheck, WeightDiagnostics


def test_an_interval_beside_its_estimate_still_draws(tmp_path):
    estimates = {"dr": {m: Estimate(1.0, (1.2, 1.5), 0.1) for m in METRICS},   # percentile interval above the point
                 "is": {m: Estimate(None, None, None) for m in METRICS}}      # undefined: no point, no interval
    entry = PolicyEstimates(True, SupportCheck(True, 0, 0.0, "every prompt had a chance"), {"open": 1.0},
                            WeightDiagnostics(10.0, 0.1, 10.0, 1.0, 3.0, 2.0, 0.2, 0.1), estimates)
    report = EvaluationReport("logs", 100, 400, {"exploration": 0.3}, {m: 1.0 for m in METRICS},
                              {"bootstrap": 5, "confidence": 0.95, "q_models": ["fqe"]}, 1.0, {"p": entry})
    html_path, md_path = write_report(report, tmp_path / "r.html")
    page, markdown = html_path.read_text(), md_path.read_text()
    assert page.count("src='data:image/png;base64,") >= 4
    assert "| dr | 1.000 [1.200, 1.500]" in markdown and "| is | - -" in markdown


def test_a_policy_not_estimable_is_said_once_in_the_notes():
    """The report said "x is not estimated: not estimable: ..." (a newcomer's finding)."""
    from evaluation.report import _warnings
    from evaluation.results import EvaluationReport, PolicyEstimates, SupportCheck

    policies = {"a": PolicyEstimates(False, SupportCheck(False, 0, 0.0, "not estimable: the importance weights leave ..."), {}),
                "b": PolicyEstimates(False, SupportCheck(False, 3, 0.1, "unsupported: in 3 of 30 logged states ..."), {}),
                "c": PolicyEstimates(False, SupportCheck(False, 0, 0.0, "no probabilities at the logged states"), {})}
    report = EvaluationReport("logs", 10, 30, None, {}, {}, 0.0, policies)
    assert _warnings(report) == ["a: not estimable: the importance weights leave ....", "b: unsupported: in 3 of 30 logged "
                                 "states ....", "c is not estimated: no probabilities at the logged states."]


def test_what_no_metric_can_be_is_noted_and_a_risk_interval_that_misses_the_truth_is_marked():
    """A DM usefulness of -0.032 and an IS success rate of 0.792 [0.233, 1.350] were shown with no note; a risk
    interval [0.000, 0.000] against a truth of 0.297 had no "misses truth" mark (a helper's findings)."""
    from evaluation.data import Metric
    from evaluation.report import _risk_rows, _warnings
    from evaluation.results import Truth

    assert Metric.SUCCESS_RATE.outside(1.35) and Metric.SUCCESS_RATE.outside(-0.01) and not Metric.SUCCESS_RATE.outside(1.0)
    assert Metric.USEFULNESS.outside(-0.032) and not Metric.USEFULNESS.outside(2.5) and not Metric.PROMPTS.outside(None)
    fine = {m: Estimate(0.5, (0.4, 0.6), 0.05) for m in METRICS}
    estimates = {"is": {**fine, Metric.SUCCESS_RATE: Estimate(0.792, (0.233, 1.350), 0.3)},
                 "dm": {**fine, Metric.USEFULNESS: Estimate(-0.032, (-0.035, -0.029), 0.001)}, "wis": fine}
    diagnostics = WeightDiagnostics(50.0, 0.5, 10.0, 1.0, 3.0, 2.0, 0.2, 0.1)
    entry = PolicyEstimates(True, SupportCheck(True, 0, 0.0, "every prompt had a chance"), {"open": 1.0}, diagnostics,
                            estimates, risk={"abandoned": Estimate(0.0, (0.0, 0.0), 0.0), "cvar_usefulness": Estimate(0.1, (0.0, 0.2))})
    entry.truth = Truth({m: 0.5 for m in METRICS}, {}, 100, {}, {}, "open", {"abandoned": 0.297, "cvar_usefulness": 0.15})
    report = EvaluationReport("logs", 100, 400, None, {}, {}, 1.0, {"p": entry})
    notes = [n for n in _warnings(report) if "not clipped" in n]
    assert notes == ["Estimates are not clipped: with large importance weights or a Q model's extrapolation, an estimate "
                     "or its interval can read outside what the metric can be ([0, 1] for a rate, >= 0 otherwise): here "
                     "p is success_rate, p dm usefulness."]
    assert _risk_rows(report) == [["p", "abandoned", "0.000 [0.000, 0.000]", "0.297 (misses truth)"],
                                  ["p", "cvar_usefulness", "0.100 [0.000, 0.200]", "0.150"]]


def test_the_behaviour_policy_of_logs_read_together_is_each_folders_own(small_logs, tmp_path):
    """Simulated logs read with chats were reported as logged with exploration 0.3 and seed 1, the chats too."""
    from evaluation.evaluate import _logging_policy
    from logs.collect import CollectionSettings, collect

    assert _logging_policy([small_logs]) == {"exploration": 0.3, "temperature": 1.0, "seed": 7}
    other = tmp_path / "other"
    collect(other, CollectionSettings(conversations=20, seed=8, part_size=10, exploration=0.5), workers=1)
    mixed = _logging_policy([small_logs, other])
    assert mixed == {"mixed": [{"logs": str(small_logs), "parts": 2, "exploration": 0.3, "temperature": 1.0, "seed": 7},
                               {"logs": str(other), "parts": 2, "exploration": 0.5, "temperature": 1.0, "seed": 8}]}
