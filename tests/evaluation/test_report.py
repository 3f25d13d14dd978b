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
