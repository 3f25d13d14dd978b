"""The rule-based baseline and the randomized logging policy built on it.

The baseline follows a fixed, semi-scripted order with skip rules, the way
the first production systems did:

  1. open question ("Do you have anything in mind?"), once, at the start
  2. the genre: ask it; if the answer did not settle it, suggest two
  3. energy (laid back or upbeat), then mood, unless already known
  4. play a sample; after a rejected sample, suggest an artist once;
     after three rejected samples, offer a station

It reads only base features (it knows no listening history). Each prompt
also has a standing preference; the rule's pick gets a bonus on top, so the
scores say how strongly the script prefers each prompt now. The logging
policy softens them: ``(1 - exploration) * softmax(scores / temperature) +
exploration * uniform(valid prompts)``, so every valid prompt keeps a known,
non-zero probability.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError
from dialogue.features import FeatureLayout
from dialogue.prompts import N_PROMPTS, PROMPTS, PromptId
from dialogue.state import CONFIDENT

from .base import masked_softmax

__all__ = ["RuleBasedPolicy", "RandomizedPolicy", "BASE_PREFERENCE", "RULE_BONUS"]

#: The script's standing preference for each prompt when it is not the rule's pick.
BASE_PREFERENCE: dict[PromptId, float] = {
    PromptId.PLAY_SAMPLE: 1.0, PromptId.ASK_ENERGY: 0.8, PromptId.ASK_GENRE: 0.8,
    PromptId.SUGGEST_GENRES: 0.6, PromptId.ASK_MOOD: 0.5, PromptId.OFFER_STATION: 0.3,
    PromptId.SUGGEST_ARTIST: 0.3, PromptId.OPEN: 0.2, PromptId.ASK_ACTIVITY: 0.2,
    PromptId.ASK_DECADE: 0.1, PromptId.ASK_FAMILIARITY: 0.1,
}
RULE_BONUS = 3.0
_P = {p.id: i for i, p in enumerate(PROMPTS)}


class RuleBasedPolicy:
    """The greedy scripted baseline (deterministic)."""

    name = "rule"

    def __init__(self, layout: FeatureLayout) -> None:
        self.layout = layout
        idx = layout.index
        self._known = {s: idx(f"slot_{s}_known") for s in ("genre", "energy", "mood")}
        self._conf = {s: idx(f"slot_{s}_conf") for s in ("genre", "energy", "mood")}
        self._dontcare = {s: idx(f"slot_{s}_dontcare") for s in ("genre", "energy", "mood")}
        self._asked = np.array([idx(f"asked_{p.id}") for p in PROMPTS])
        self._rejected = idx("rejected")
        self._base = np.array([BASE_PREFERENCE[p.id] for p in PROMPTS], dtype=np.float64)

    def _open(self, f: np.ndarray, slot: str) -> bool:
        """Slot neither known with confidence nor declared unimportant."""
        if f[self._dontcare[slot]] > 0:
            return False
        return not (f[self._known[slot]] > 0 and f[self._conf[slot]] >= CONFIDENT)

    def pick(self, features: np.ndarray, mask: np.ndarray) -> int:
        """The script's prompt for this state (always a valid one)."""
        f = features
        asked = f[self._asked] > 0
        rejected = round(float(f[self._rejected]) * 5)

        def ok(pid: PromptId) -> bool:
            return bool(mask[_P[pid]])

        if ok(PromptId.OPEN) and not asked[_P[PromptId.OPEN]]:
            return _P[PromptId.OPEN]
        if self._open(f, "genre"):
            if ok(PromptId.ASK_GENRE) and not asked[_P[PromptId.ASK_GENRE]]:
                return _P[PromptId.ASK_GENRE]
            if ok(PromptId.SUGGEST_GENRES) and not asked[_P[PromptId.SUGGEST_GENRES]]:
                return _P[PromptId.SUGGEST_GENRES]
        for slot, pid in (("energy", PromptId.ASK_ENERGY), ("mood", PromptId.ASK_MOOD)):
            if self._open(f, slot) and ok(pid) and not asked[_P[pid]]:
                return _P[pid]
        if rejected >= 3 and ok(PromptId.OFFER_STATION):
            return _P[PromptId.OFFER_STATION]
        if rejected >= 1 and ok(PromptId.SUGGEST_ARTIST) and not asked[_P[PromptId.SUGGEST_ARTIST]]:
            return _P[PromptId.SUGGEST_ARTIST]
        if ok(PromptId.PLAY_SAMPLE):
            return _P[PromptId.PLAY_SAMPLE]
        return int(np.argmax(np.where(mask, self._base, -np.inf)))

    def scores(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Preference score per prompt: standing preference + bonus for the rule's pick."""
        scores = self._base.copy()
        scores[self.pick(features, mask)] += RULE_BONUS
        return scores

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        probs = np.zeros(N_PROMPTS, dtype=np.float64)
        probs[self.pick(features, mask)] = 1.0
        return probs


class RandomizedPolicy:
    """The logging policy: the baseline softened, with an exploration floor."""

    def __init__(self, baseline: RuleBasedPolicy, *, exploration: float = 0.3, temperature: float = 1.0) -> None:
        if not 0.0 <= exploration <= 1.0:
            raise ConfigError(f"exploration must be within [0, 1], got {exploration}")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        self.baseline = baseline
        self.exploration = exploration
        self.temperature = temperature
        self.name = f"randomized-rule(exploration={exploration:g},temperature={temperature:g})"

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        soft = masked_softmax(self.baseline.scores(features, mask), mask, self.temperature)
        uniform = mask / mask.sum()
        return (1.0 - self.exploration) * soft + self.exploration * uniform

