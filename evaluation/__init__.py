"""Evaluation of policies: simulated A/B tests (off-policy estimators, the gate and reports come next)."""

from .ab import AB_SALT, ABSettings, run_ab, simulate_policy

__all__ = ["ABSettings", "run_ab", "simulate_policy", "AB_SALT"]
