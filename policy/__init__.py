"""Prompt-selection policies: the rule-based baseline and the randomized logging policy."""

from .base import ConstantPolicy, Decision, Policy, UniformPolicy, decide, masked_softmax, sample_prompt
from .rule import BASE_PREFERENCE, RULE_BONUS, RandomizedPolicy, RuleBasedPolicy

__all__ = [
    "Decision",
    "Policy",
    "UniformPolicy",
    "ConstantPolicy",
    "decide",
    "sample_prompt",
    "masked_softmax",
    "RuleBasedPolicy",
    "RandomizedPolicy",
    "BASE_PREFERENCE",
    "RULE_BONUS",
]
