"""The canary's sequential test: a candidate serves a share of real traffic beside the current policy.

After each look (a batch of conversations in both arms) the test computes,
for the difference canary - current in success rate and in prompts per
conversation, an always-valid confidence sequence: the normal-mixture
boundary of the mixture sequential probability ratio test (mSPRT),

    half-width = sqrt( V (V + tau^2) / tau^2 * (log((V + tau^2) / V) + 2 log(1 / alpha)) ),
    V = s_canary^2 / n_canary + s_current^2 / n_current,

(Johari, Koomen, Pekelis, Walsh, "Always valid inference: continuous
monitoring of A/B tests", Operations Research 2022; Robbins 1970 for the
normal mixture). The interval holds at every look at once with probability
at least ``1 - alpha``, so the canary may stop as soon as it is decisive,
peeking included. Decisions, in order:

- ``rollback`` at once when the canary raised while serving (an online
  guardrail: those conversations were finished by the current policy);
- ``rollback`` as soon as the success interval lies below zero (worse) or
  the prompts interval lies above ``prompts_margin`` (longer conversations);
- ``rollout`` as soon as the success interval lies above zero and the
  prompts interval's upper end is within ``prompts_margin``;
- at the last look, ``rollout`` when the canary is non-inferior (success
  lower end >= ``-success_margin``, prompts upper end <= ``prompts_margin``),
  else ``rollback``: not shown as successful as the current policy.

The normal approximation of a difference of means is used for Bernoulli
successes and prompt counts alike; with a few hundred conversations per arm
it is accurate (``tests/evaluation/test_canary.py`` checks the error rate
under the null on synthetic streams).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from core.errors import ConfigError
from core.records import check_keys

__all__ = ["CanarySettings", "ArmFigures", "CanaryLook", "confidence_sequence", "canary_look"]


@dataclass(frozen=True)
class CanarySettings:
    """share: of each canary round's users the candidate serves, in (0, 1); looks: how many times the test looks
    (>= 1, the last at the end of the round); alpha: error level of the always-valid intervals, in (0, 1);
    tau_success, tau_prompts: mixture scales (> 0, about the effect worth detecting); success_margin,
    prompts_margin: non-inferiority margins (>= 0). Raises ``ConfigError`` naming the option."""

    share: float = 0.25
    looks: int = 4
    alpha: float = 0.05
    tau_success: float = 0.05
    tau_prompts: float = 0.5
    success_margin: float = 0.03
    prompts_margin: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.share < 1:
            raise ConfigError(f"--canary-share must be within (0, 1), got {self.share}")
        if not 1 <= self.looks <= 100:
            raise ConfigError(f"--canary-looks must be between 1 and 100, got {self.looks}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"canary alpha must be within (0, 1), got {self.alpha}")
        for name in ("tau_success", "tau_prompts"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"canary {name} must be > 0, got {getattr(self, name)}")
        for name in ("success_margin", "prompts_margin"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"canary {name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CanarySettings":
        check_keys(cls, data, "canary settings")
        return cls(**data)


@dataclass(frozen=True)
class ArmFigures:
    """One arm's conversations so far: count, successes, sum and sum of squares of prompts, fallbacks."""

    conversations: int = 0
    successes: int = 0
    prompts: float = 0.0
    prompts_sq: float = 0.0
    fallbacks: int = 0

    @classmethod
    def of(cls, success: np.ndarray, prompts: np.ndarray, fallbacks: int = 0) -> "ArmFigures":
        """From per-conversation arrays: success bool (n,), prompts (n,)."""
        prompts = np.asarray(prompts, dtype=np.float64)
        return cls(len(success), int(np.sum(success)), float(prompts.sum()), float((prompts**2).sum()), int(fallbacks))

    def __add__(self, other: "ArmFigures") -> "ArmFigures":
        return ArmFigures(self.conversations + other.conversations, self.successes + other.successes,
                          self.prompts + other.prompts, self.prompts_sq + other.prompts_sq, self.fallbacks + other.fallbacks)

    @property
    def success_rate(self) -> float:
        return self.successes / self.conversations if self.conversations else float("nan")

    @property
    def mean_prompts(self) -> float:
        return self.prompts / self.conversations if self.conversations else float("nan")

    def success_var(self) -> float:
        p = self.success_rate
        return p * (1 - p)

    def prompts_var(self) -> float:
        n = self.conversations
        return max(0.0, (self.prompts_sq - self.prompts**2 / n) / (n - 1)) if n > 1 else 0.0

    def to_dict(self) -> dict:
        return {"conversations": self.conversations, "success_rate": self.success_rate, "mean_prompts": self.mean_prompts,
                "fallback_conversations": self.fallbacks}


def confidence_sequence(diff: float, variance: float, tau: float, alpha: float) -> tuple[float, float]:
    """The always-valid ``1 - alpha`` interval for a difference of means (module docstring).

    diff: the observed difference; variance: its variance V (> 0; 0 gives a zero-width interval at ``diff``);
    tau: the normal mixture's scale. Source: Johari et al. 2022, eq. for the normal-mixture mSPRT."""
    if variance <= 0:
        return (diff, diff)
    t2 = tau * tau
    half = math.sqrt(variance * (variance + t2) / t2 * (math.log((variance + t2) / variance) + 2 * math.log(1 / alpha)))
    return (diff - half, diff + half)


@dataclass(frozen=True)
class CanaryLook:
    """The test at one look: the arms so far, the intervals, the decision (None: keep going) and why."""

    look: int
    current: ArmFigures
    canary: ArmFigures
    success_diff: float
    success_cs: tuple[float, float]
    prompts_diff: float
    prompts_cs: tuple[float, float]
    decision: str | None
    reason: str

    def to_dict(self) -> dict:
        return {"look": self.look, "current": self.current.to_dict(), "canary": self.canary.to_dict(),
                "success_diff": self.success_diff, "success_cs": list(self.success_cs), "prompts_diff": self.prompts_diff,
                "prompts_cs": list(self.prompts_cs), "decision": self.decision, "reason": self.reason}


def canary_look(look: int, current: ArmFigures, canary: ArmFigures, settings: CanarySettings) -> CanaryLook:
    """The decision after look ``look`` (0-based) on the cumulative arms (module docstring for the rules).

    Raises ``ConfigError`` when an arm has no conversation."""
    if current.conversations < 1 or canary.conversations < 1:
        raise ConfigError("the canary test needs conversations in both arms")
    last = look >= settings.looks - 1
    ds = canary.success_rate - current.success_rate
    vs = canary.success_var() / canary.conversations + current.success_var() / current.conversations
    s_lo, s_hi = confidence_sequence(ds, vs, settings.tau_success, settings.alpha)
    dp = canary.mean_prompts - current.mean_prompts
    vp = canary.prompts_var() / canary.conversations + current.prompts_var() / current.conversations
    p_lo, p_hi = confidence_sequence(dp, vp, settings.tau_prompts, settings.alpha)
    level = f"{1 - settings.alpha:.0%}"
    figures = (f"success {canary.success_rate:.3f} vs {current.success_rate:.3f} ({ds:+.3f}, {level} always-valid "
               f"[{s_lo:+.3f}, {s_hi:+.3f}]), prompts {canary.mean_prompts:.2f} vs {current.mean_prompts:.2f} ({dp:+.2f}, "
               f"[{p_lo:+.2f}, {p_hi:+.2f}]) after {canary.conversations:,} + {current.conversations:,} conversations")
    if canary.fallbacks:
        return CanaryLook(look, current, canary, ds, (s_lo, s_hi), dp, (p_lo, p_hi), "rollback",
                          f"online guardrail: the canary raised while serving in {canary.fallbacks:,} conversations "
                          "(each finished by the current policy); " + figures)
    if s_hi < 0:
        decision, reason = "rollback", "worse: the success interval lies below zero; "
    elif p_lo > settings.prompts_margin:
        decision, reason = "rollback", f"longer: the prompts interval lies above the margin +{settings.prompts_margin:g}; "
    elif s_lo > 0 and p_hi <= settings.prompts_margin:
        decision, reason = "rollout", "better: the success interval lies above zero, prompts within the margin; "
    elif last:
        ok = s_lo >= -settings.success_margin and p_hi <= settings.prompts_margin
        decision = "rollout" if ok else "rollback"
        reason = (f"non-inferior at the last look (success margin -{settings.success_margin:g}, prompts margin "
                  f"+{settings.prompts_margin:g}); " if ok else
                  f"not shown non-inferior by the last look (success margin -{settings.success_margin:g}, prompts margin "
                  f"+{settings.prompts_margin:g}); ")
    else:
        decision, reason = None, "undecided; "
    return CanaryLook(look, current, canary, ds, (s_lo, s_hi), dp, (p_lo, p_hi), decision, reason + figures)
