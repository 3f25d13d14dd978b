"""Evaluation of policies: simulated A/B tests, off-policy estimators with bootstrap intervals, the simulator's
truth, the deployment gate and reports."""

from .ab import AB_SALT, ABSettings, run_ab, simulate_policy
from .data import METRICS, OPEData
from .estimators import DEFAULT_ESTIMATORS, ESTIMATORS, Estimator, get_estimator
from .gate import GateSettings, gate_decision
from .ope import OPEResult, OPESettings, check_support, evaluate_targets, target_probabilities, weight_diagnostics
from .qmodel import Q_MODELS, FQESettings, fit_q

__all__ = [
    "AB_SALT", "ABSettings", "run_ab", "simulate_policy",
    "METRICS", "OPEData",
    "DEFAULT_ESTIMATORS", "ESTIMATORS", "Estimator", "get_estimator",
    "GateSettings", "gate_decision",
    "OPEResult", "OPESettings", "check_support", "evaluate_targets", "target_probabilities", "weight_diagnostics",
    "Q_MODELS", "FQESettings", "fit_q",
]
