"""Meaning representation, prompt catalogue, state tracking, featurization, usefulness labels."""

from .acts import ENERGY_VALUES, Act, DialogueAct, Slot, UserTurn
from .context import CandidateView, Conversation
from .features import FEATURE_VERSION, VARIANTS, FeatureLayout, Featurizer
from .prompts import ASK_PROMPTS, N_PROMPTS, PROMPT_CATALOGUE_VERSION, PROMPTS, PromptId, PromptSpec, SystemPrompt, prompt_index
from .state import CONFIDENT, DialogueState, SlotBelief, StateTracker
from .usefulness import act_consistent, label_usefulness

__all__ = [
    "Act", "Slot", "DialogueAct", "UserTurn", "ENERGY_VALUES",
    "CandidateView", "Conversation",
    "FEATURE_VERSION", "VARIANTS", "FeatureLayout", "Featurizer",
    "ASK_PROMPTS", "N_PROMPTS", "PROMPT_CATALOGUE_VERSION", "PROMPTS", "PromptId", "PromptSpec", "SystemPrompt", "prompt_index",
    "CONFIDENT", "DialogueState", "SlotBelief", "StateTracker",
    "act_consistent", "label_usefulness",
]
