"""Conversations of a policy with simulated users: Segue's rollout loops.

``run_conversations`` runs many at once on the vector env
(``simulator.vector.MusicUserVectorEnv``): collection (``logs.collect``),
simulated A/B tests and truth rollouts (``evaluation.ab``) use it.
``run_conversation`` runs one on the single env (the chat's env, the reference
the vector loop is tested against). Both: the policy's distribution at each
state, one prompt drawn from it with ``dialogue.policy.sample_prompt``, the env
stepped, and the whole conversation returned as a
``dialogue.records.ConversationRecord``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.errors import ConfigError
from dialogue.features import FeatureVariant
from dialogue.policy import Policy, sample_prompt
from dialogue.records import ConversationRecord, TurnRecord

from .env import MusicUserEnv
from .vector import MusicUserVectorEnv

__all__ = ["run_conversation", "run_conversations"]


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


def _batch_probabilities(policy: Policy, n_base: int | None):
    """``policy``'s many-states path ((n, F), (n, P) -> (n, P)), or None when it has none (then row by row)."""
    batch = getattr(policy, "batch_probabilities", None)
    if batch is None:
        return None
    if n_base is None:
        return batch
    return lambda features, masks: batch(features[:, :n_base], masks)


def run_conversations(venv: MusicUserVectorEnv, policy: Policy | None, variant: FeatureVariant, *, seeds: list[int],
                      rngs: list[np.random.Generator], slot_policies: list[Policy] | None = None,
                      on_record: Callable[[int, ConversationRecord], None] | None = None) -> list[ConversationRecord]:
    """Conversation ``j`` of ``policy`` with the user of simulator seed ``seeds[j]`` (prompts drawn from
    ``rngs[j]``), ``venv.num_envs`` at a time: the same records as ``run_conversation`` on each (seed, rng).

    The policy is asked once per step for every running conversation when it has ``batch_probabilities``
    (learned policies: one forward pass for the batch), else row by row. ``slot_policies``: one policy per
    sub-env instead of ``policy``, for policies with per-conversation state (``reset()`` is called as each
    conversation starts; e.g. ``policy.serving.FallbackPolicy``); then they are asked row by row.
    ``on_record(j, record)`` is called as conversation ``j`` ends. ``venv`` must have ``autoreset=False``.
    Raises ``ConfigError`` as ``run_conversation`` does, or for mismatched seeds and generators.
    """
    if venv.autoreset:
        raise ConfigError("run_conversations needs a vector env made with autoreset=False (it seeds every conversation)")
    if len(seeds) != len(rngs):
        raise ConfigError(f"one generator per seed: got {len(seeds)} seeds and {len(rngs)} generators")
    layout = venv.featurizer.layout
    base_only = FeatureVariant(variant) is FeatureVariant.BASE
    if not base_only and layout.variant is not FeatureVariant.HISTORY:
        raise ConfigError("a history-feature policy needs an env that featurizes the history variant (features='history')")
    n_base = layout.n_base
    slots = venv.num_envs
    policies = list(slot_policies) if slot_policies is not None else [policy] * slots
    if len(policies) != slots:
        raise ConfigError(f"one policy per sub-env: got {len(policies)} for {slots}")
    batch = _batch_probabilities(policy, n_base if base_only else None) if slot_policies is None else None
    records: list[ConversationRecord | None] = [None] * len(seeds)
    conv = np.full(slots, -1, dtype=np.int64)  # the conversation each sub-env runs (-1: idle)
    turns: list[list[TurnRecord]] = [[] for _ in range(slots)]
    opening: list[tuple] = [()] * slots
    next_conv = 0
    obs = np.zeros((slots, layout.size), dtype=np.float32)

    def start(free: np.ndarray) -> None:
        nonlocal next_conv
        mask = np.zeros(slots, dtype=bool)
        seed_list: list[int | None] = [None] * slots
        for i in free:
            if next_conv >= len(seeds):
                conv[i] = -1
                continue
            conv[i], seed_list[i], mask[i] = next_conv, seeds[next_conv], True
            next_conv += 1
        if not mask.any():
            return
        new_obs, _ = venv.reset(seed=seed_list, options={"reset_mask": mask})
        for i in np.flatnonzero(mask):
            obs[i] = new_obs[i]
            info = venv.env_infos[i]
            opening[i] = (int(info["user_id"]), str(info["persona"]), tuple(info["user_acts"]), float(info["sentiment"]),
                          float(info["confidence"]))
            turns[i] = []
            reset = getattr(policies[i], "reset", None)
            if reset is not None:
                reset()

    start(np.arange(slots))
    while (conv >= 0).any():
        active = np.flatnonzero(conv >= 0)
        masks = np.stack([venv.env_infos[i]["action_mask"] for i in active])
        states = obs[active]
        if batch is not None:
            probs = batch(states, masks)
        else:
            probs = [policies[i].probabilities(states[j][:n_base] if base_only else states[j], masks[j]) for j, i in enumerate(active)]
        actions = np.zeros(slots, dtype=np.int64)
        decisions = []
        for j, i in enumerate(active):
            decision = sample_prompt(probs[j], rngs[conv[i]])
            actions[i] = decision.prompt
            decisions.append(decision)
        obs, _, terminated, truncated, _ = venv.step(actions)
        ended = []
        for j, i in enumerate(active):
            info = venv.env_infos[i]
            turns[i].append(TurnRecord(prompt=info["prompt"], distribution=np.asarray(probs[j]), mask=masks[j],
                                       propensity=decisions[j].probability, features=states[j],
                                       acts=tuple(info["user_acts"]), sentiment=float(info["sentiment"]),
                                       confidence=float(info["confidence"])))
            if terminated[i] or truncated[i]:
                user_id, persona, acts, sentiment, confidence = opening[i]
                record = ConversationRecord(turns=tuple(turns[i]), labels=tuple(float(x) for x in info["usefulness"]),
                                            success=bool(info["success"]), abandoned=bool(info["abandoned"]),
                                            truncated=bool(truncated[i]), played_track=info["played_track"], user_id=user_id,
                                            persona=persona, opening=acts, opening_sentiment=sentiment,
                                            opening_confidence=confidence)
                records[conv[i]] = record
                if on_record is not None:
                    on_record(int(conv[i]), record)
                ended.append(i)
        if ended:
            start(np.array(ended))
    return records  # type: ignore[return-value]
