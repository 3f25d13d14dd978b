"""Evaluation of policies: simulated A/B tests, off-policy estimators with intervals and high-confidence bounds,
risks, off-policy selection, the simulator's truth, the deployment gate and reports. Results are typed records (``evaluation.results``, ``evaluation.ab``)."""

from .ab import AB_SALT, ABPolicyResult, ABReport, ABSettings, run_ab, simulate_policy
from .data import METRICS, Metric, OPEData
from .estimators import DEFAULT_ESTIMATORS, ESTIMATORS, Estimator, get_estimator
from .gate import GATE_BOUNDS, GateSettings, gate_decision
from .intervals import INTERVALS
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
from .risk import RISKS
from .selection import RANKERS, select

__all__ = [
    "AB_SALT", "ABSettings", "ABReport", "ABPolicyResult", "run_ab", "simulate_policy",
    "METRICS", "Metric", "OPEData",
    "DEFAULT_ESTIMATORS", "ESTIMATORS", "Estimator", "get_estimator",
    "GATE_BOUNDS", "GateSettings", "gate_decision", "INTERVALS", "RISKS", "RANKERS", "select",
    "OPEResult", "OPESettings", "check_support", "evaluate_targets", "target_probabilities", "weight_diagnostics",
    "Q_MODELS", "FQESettings", "fit_q",
    "Estimate", "EvaluationReport", "GateCondition", "GateDecision", "Improvement", "PolicyEstimates", "SupportCheck",
    "Truth", "WeightDiagnostics",
]
