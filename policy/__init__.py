"""Prompt-selection policies: the rule-based baseline, the randomized logging policy, the learners and the registry.

The ``Policy`` protocol, ``Decision`` and ``sample_prompt`` are defined in ``dialogue.policy`` and re-exported.
"""

from .base import ConstantPolicy, Decision, Policy, UniformPolicy, decide, masked_softmax, sample_prompt
from .errors import PolicyError
from .learners import LEARNERS, TRAINABLE, LearnerConfig, learner_config, register_learner
from .rule import BASE_PREFERENCE, RULE_BONUS, RandomizedPolicy, RuleBasedPolicy

__all__ = [
    "Decision",
    "Policy",
    "PolicyError",
    "UniformPolicy",
    "ConstantPolicy",
    "decide",
    "sample_prompt",
    "masked_softmax",
    "RuleBasedPolicy",
    "RandomizedPolicy",
    "BASE_PREFERENCE",
    "RULE_BONUS",
    "LEARNERS",
    "TRAINABLE",
    "LearnerConfig",
    "learner_config",
    "register_learner",
]
