"""Evaluation of policies: simulated A/B tests, off-policy estimators with bootstrap intervals, the simulator's
truth, the deployment gate and reports. Results are typed records (``evaluation.results``, ``evaluation.ab``)."""

from .ab import AB_SALT, ABPolicyResult, ABReport, ABSettings, run_ab, simulate_policy
from .data import METRICS, Metric, OPEData
from .estimators import DEFAULT_ESTIMATORS, ESTIMATORS, Estimator, get_estimator
from .gate import GateSettings, gate_decision
from .ope import OPEResult, OPESettings, check_support, evaluate_targets, target_probabilities, weight_diagnostics
from .qmodel import Q_MODELS, FQESettings, fit_q
from .results import (
    Estimate,
    EvaluationReport,
    GateCondition,
    GateDecision,
    Improvement,
    PolicyEstimates,
    SupportCheck,
    Truth,
    WeightDiagnostics,
)

__all__ = [
    "AB_SALT", "ABSettings", "ABReport", "ABPolicyResult", "run_ab", "simulate_policy",
    "METRICS", "Metric", "OPEData",
    "DEFAULT_ESTIMATORS", "ESTIMATORS", "Estimator", "get_estimator",
    "GateSettings", "gate_decision",
    "OPEResult", "OPESettings", "check_support", "evaluate_targets", "target_probabilities", "weight_diagnostics",
    "Q_MODELS", "FQESettings", "fit_q",
    "Estimate", "EvaluationReport", "GateCondition", "GateDecision", "Improvement", "PolicyEstimates", "SupportCheck",
    "Truth", "WeightDiagnostics",
]
