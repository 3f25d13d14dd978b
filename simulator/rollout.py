"""One conversation of a policy with a simulated user: the one rollout loop of Segue.

Collection (``logs.collect``), simulated A/B tests and truth rollouts
(``evaluation.ab``) and the benchmarks all run conversations through
``run_conversation``: the policy's distribution at each state, one prompt
drawn from it with ``dialogue.policy.sample_prompt``, the env stepped, and the
whole conversation returned as a ``dialogue.records.ConversationRecord``.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError
from dialogue.features import FeatureVariant
from dialogue.policy import Policy, sample_prompt
from dialogue.records import ConversationRecord, TurnRecord

from .env import MusicUserEnv

__all__ = ["run_conversation"]


def run_conversation(env: MusicUserEnv, policy: Policy, variant: FeatureVariant, *, seed: int,
                     rng: np.random.Generator) -> ConversationRecord:
    """Reset ``env`` with ``seed`` (the user and their goal) and let ``policy`` talk until the episode ends.

    ``variant``: the features ``policy`` reads. With an env that featurizes the history variant the record keeps
    the whole state and a base-variant policy reads its first ``n_base`` entries (what collection needs); a
    base-feature env serves base-variant policies only. ``rng`` draws the prompts. Raises ``ConfigError`` for a
    history-variant policy on a base-feature env.
    """
    layout = env.featurizer.layout
    base_only = FeatureVariant(variant) is FeatureVariant.BASE
    if not base_only and layout.variant is not FeatureVariant.HISTORY:
        raise ConfigError("a history-feature policy needs an env that featurizes the history variant (features='history')")
    n_base = layout.n_base
    obs, info = env.reset(seed=seed)
    user_id, persona = int(info["user_id"]), str(info["persona"])
    opening = (tuple(info["user_acts"]), float(info["sentiment"]), float(info["confidence"]))
    turns: list[TurnRecord] = []
    while True:
        mask = info["action_mask"]
        probs = policy.probabilities(obs[:n_base] if base_only else obs, mask)
        decision = sample_prompt(probs, rng)
        state = obs
        obs, _, terminated, truncated, info = env.step(decision.prompt)
        turns.append(TurnRecord(prompt=info["prompt"], distribution=probs, mask=mask, propensity=decision.probability,
                                features=state, acts=tuple(info["user_acts"]), sentiment=float(info["sentiment"]),
                                confidence=float(info["confidence"])))
        if terminated or truncated:
            return ConversationRecord(turns=tuple(turns), labels=tuple(float(x) for x in info["usefulness"]),
                                      success=bool(info["success"]), abandoned=bool(info["abandoned"]),
                                      truncated=bool(truncated), played_track=info["played_track"], user_id=user_id,
                                      persona=persona, opening=opening[0], opening_sentiment=opening[1],
                                      opening_confidence=opening[2])
