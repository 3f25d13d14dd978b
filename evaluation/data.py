"""What off-policy evaluation reads from the logs: turn-level arrays, checked.

``OPEData`` holds, for every logged prompt (turn), the conversation it
belongs to, its index in that conversation, the prompt asked (action), the
logging policy's probability of it (propensity) and its whole distribution
(behaviour), the valid-prompt mask, the state features, and the usefulness
label; per conversation, the outcome (success) and the user's segment.

The three metrics are sums of per-turn rewards over a conversation:

- ``usefulness``: the sum of the prompt-usefulness labels (what the policies
  optimize), credited on the conversation's last turn: a prompt's label is
  decided in hindsight by the music finally played, so it depends on the
  prompts that came after it, and per-decision estimators (which ignore the
  weights of later prompts) would be biased if each label counted at its
  own turn;
- ``success_rate``: 1 on the last turn of a conversation that ended with
  music played, else 0;
- ``prompts``: 1 on every turn (the expected number of prompts).

A conversation that was cut at the simulator's ``max_turns`` ends there for
evaluation too: that is where it ended in the world.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property

import numpy as np
import pyarrow as pa

from core.errors import ConfigError
from dialogue.features import FeatureVariant
from dialogue.prompts import N_PROMPTS, PROMPTS
from logs.errors import LogValidationError
from logs.store import feature_names, fixed_column, read_logs, segue_metadata

__all__ = ["METRICS", "Metric", "OPEData", "UNCLIPPED_NOTE"]


class Metric(StrEnum):
    """What a policy is measured by, per conversation (see the module docstring)."""

    USEFULNESS = "usefulness"
    SUCCESS_RATE = "success_rate"
    PROMPTS = "prompts"

    @classmethod
    def parse(cls, value: "str | Metric", *, option: str = "--metric") -> "Metric":
        """The metric named ``value``; raises ``ConfigError`` naming ``option`` otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"{option} must be one of {', '.join(m.value for m in cls)}, got {value!r}") from None

    def outside(self, value: float | None) -> bool:
        """Whether ``value`` lies outside what the metric can be ([0, 1] for the success rate, >= 0 for usefulness
        and prompts per conversation): an unclipped estimate or interval bound (large importance weights, a Q
        model's extrapolation) can."""
        if value is None:
            return False
        return not 0.0 <= value <= 1.0 if self is Metric.SUCCESS_RATE else value < 0.0


#: what the tables say when an estimate or interval reads outside its metric's range (``Metric.outside``)
UNCLIPPED_NOTE = ("estimates are not clipped: with large importance weights or a Q model's extrapolation, an estimate "
                  "or its interval can read outside what the metric can be ([0, 1] for a rate, >= 0 otherwise)")

METRICS = tuple(Metric)
_PROMPT_INDEX = {p.id.value: i for i, p in enumerate(PROMPTS)}
_PROPENSITY_TOLERANCE = 1e-5


def _first_bad(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


@dataclass(frozen=True)
class OPEData:
    """Turn-level arrays (n turns, c conversations; conversations contiguous, turns in order).

    conversation int64 (n,): 0..c-1; turn int64 (n,); actions int64 (n,);
    propensities float64 (n,): the logging policy's probability of the
    logged prompt, in (0, 1]; behaviour float64 (n, N_PROMPTS) or None: the
    logging policy's whole distribution; masks bool (n, N_PROMPTS);
    features float32 (n, F) base and history float32 (n, H) state features;
    rewards float64 (n,): per-prompt usefulness labels; success bool (c,); persona str (c,);
    forced bool (n,) or None: prompts the system did not choose (the person led), which are no decision of any
    policy (``decided``); abandoned bool (c,) or None: the person gave up (``evaluation.risk``).
    """

    conversation: np.ndarray
    turn: np.ndarray
    actions: np.ndarray
    propensities: np.ndarray
    masks: np.ndarray
    features: np.ndarray
    history: np.ndarray
    rewards: np.ndarray
    success: np.ndarray
    persona: np.ndarray
    behaviour: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()  # of features + history, from the logs' metadata
    forced: np.ndarray | None = None
    abandoned: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.actions)
        for name in ("conversation", "turn", "propensities", "masks", "features", "history", "rewards"):
            if len(getattr(self, name)) != n:
                raise LogValidationError(f"OPE input: {name} has {len(getattr(self, name))} rows, actions has {n}")
        if self.forced is not None and self.forced.shape != (n,):
            raise LogValidationError(f"OPE input: forced must have shape ({n},), got {self.forced.shape}")
        if self.behaviour is not None and self.behaviour.shape != (n, N_PROMPTS):
            raise LogValidationError(f"OPE input: behaviour must have shape ({n}, {N_PROMPTS}), got {self.behaviour.shape}")
        if n == 0:
            raise LogValidationError("OPE input: no logged turns")
        if self.masks.shape[1:] != (N_PROMPTS,):
            raise LogValidationError(f"OPE input: masks must have {N_PROMPTS} columns, got shape {self.masks.shape}")
        c = self.n_conversations
        for name in ("success", "persona") + (("abandoned",) if self.abandoned is not None else ()):
            if len(getattr(self, name)) != c:
                raise LogValidationError(f"OPE input: {name} has {len(getattr(self, name))} entries for {c} conversations")
        self._check_order()
        self._check_values()

    # ------------------------------------------------------------------ checks
    def _check_order(self) -> None:
        conv, turn = self.conversation, self.turn
        if conv[0] != 0 or np.any(np.diff(conv) < 0) or np.any(np.diff(conv) > 1):
            raise LogValidationError("OPE input: conversation indices must run 0, 1, 2, ... with each conversation's turns together")
        starts = np.r_[True, conv[1:] != conv[:-1]]
        expected = np.arange(len(conv)) - np.maximum.accumulate(np.where(starts, np.arange(len(conv)), 0))
        if np.any(turn != expected):
            row = _first_bad(turn != expected)
            raise LogValidationError(f"OPE input: turns out of order at row {row} (turn {int(turn[row])}, expected {int(expected[row])})")

    def _check_values(self) -> None:
        p = self.propensities
        bad = ~np.isfinite(p) | ~(p > 0) | ~(p <= 1)
        if bad.any():
            row = _first_bad(bad)
            raise LogValidationError(f"OPE input: propensity must be in (0, 1], found {float(p[row])!r} at row {row}")
        if np.any((self.actions < 0) | (self.actions >= N_PROMPTS)):
            row = _first_bad((self.actions < 0) | (self.actions >= N_PROMPTS))
            raise LogValidationError(f"OPE input: action {int(self.actions[row])} at row {row} is not a prompt index (0..{N_PROMPTS - 1})")
        rows = np.arange(len(self.actions))
        if not self.masks[rows, self.actions].all():
            row = _first_bad(~self.masks[rows, self.actions])
            raise LogValidationError(f"OPE input: row {row} logs prompt {PROMPTS[int(self.actions[row])].id.value} that its mask marks invalid")
        for name in ("rewards", "features", "history"):
            values = getattr(self, name)
            finite = np.isfinite(values)
            if not finite.all():
                row = int(np.argwhere(~finite)[0][0])
                raise LogValidationError(f"OPE input: NaN or infinite value in {name} at row {row}")
        if self.behaviour is not None:
            b = self.behaviour
            if not np.isfinite(b).all() or np.any(b < 0):
                row = int(np.argwhere(~np.isfinite(b) | (b < 0))[0][0])
                raise LogValidationError(f"OPE input: behaviour probabilities at row {row} are not finite and >= 0")
            gap = np.abs(b[rows, self.actions] - p)
            if np.any(gap > _PROPENSITY_TOLERANCE):
                row = _first_bad(gap > _PROPENSITY_TOLERANCE)
                raise LogValidationError(
                    f"OPE input: propensity {p[row]:.6g} at row {row} differs from the logged distribution's "
                    f"{b[row, self.actions[row]]:.6g} for the same prompt"
                )

    # -------------------------------------------------------------- structure
    @property
    def n_turns(self) -> int:
        return len(self.actions)

    @property
    def n_conversations(self) -> int:
        return int(self.conversation[-1]) + 1

    @cached_property  # frozen dataclass: computed once, stored in the instance dict
    def lengths(self) -> np.ndarray:
        """Prompts per conversation, int64 (c,)."""
        return np.bincount(self.conversation, minlength=self.n_conversations)

    @cached_property
    def last(self) -> np.ndarray:
        """True on the last turn of each conversation, bool (n,)."""
        return np.r_[self.conversation[1:] != self.conversation[:-1], True]

    @cached_property
    def first(self) -> np.ndarray:
        return self.turn == 0

    def decided(self, target: np.ndarray) -> np.ndarray:
        """A target policy's distribution at the logged states (float64 (n, N_PROMPTS)) with every forced turn
        replaced by certainty on the logged prompt: there the person led, and any policy would have asked it.
        With the logged distribution also one-hot there (propensity 1), the importance weight of a forced turn
        is 1 for every target, and a Q model's value there is Q(s, the logged prompt)."""
        if self.forced is None or not self.forced.any():
            return target
        out = np.array(target, dtype=np.float64, copy=True)
        rows = np.flatnonzero(self.forced)
        out[rows] = 0.0
        out[rows, self.actions[rows]] = 1.0
        return out

    def base_only(self) -> "OPEData":
        """The same logs without their history features (history (n, 0), the base feature names only): for logs
        made with several scorers, whose history features (affinities) mean different things part by part, so
        neither a Q model nor a policy may read them."""
        return replace(self, history=self.history[:, :0], feature_names=tuple(self.feature_names[: self.features.shape[1]]))

    def state(self, variant: FeatureVariant | str) -> np.ndarray:
        """The state features a policy of that variant reads: base, or base + history."""
        if FeatureVariant(variant) is FeatureVariant.BASE:
            return self.features
        return np.concatenate([self.features, self.history], axis=1)

    def metric_rewards(self, metric: Metric | str) -> np.ndarray:
        """Per-turn rewards float64 (n,) whose sum over a conversation is the metric."""
        metric = Metric.parse(metric, option="metric")
        if metric is Metric.USEFULNESS:
            totals = np.bincount(self.conversation, self.rewards, minlength=self.n_conversations)
            return np.where(self.last, totals[self.conversation], 0.0)
        if metric is Metric.SUCCESS_RATE:
            return (self.last & self.success[self.conversation]).astype(np.float64)
        return np.ones(self.n_turns, dtype=np.float64)

    def on_policy_values(self, metric: Metric | str) -> np.ndarray:
        """The metric of each logged conversation, float64 (c,)."""
        return np.bincount(self.conversation, self.metric_rewards(metric), minlength=self.n_conversations)

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_table(cls, table: pa.Table) -> "OPEData":
        """From a log table (``logs.read_logs``): validated parts, concatenated in order."""
        meta = segue_metadata(table.schema.metadata)
        raw = table["conversation_id"].to_numpy()
        starts = np.r_[True, raw[1:] != raw[:-1]]
        conversation = np.cumsum(starts) - 1
        if len(np.unique(raw[starts])) != int(starts.sum()):
            raise LogValidationError("OPE input: a conversation's turns are split across the logs")
        actions = np.array([_PROMPT_INDEX[p] for p in table["prompt"].to_pylist()], dtype=np.int64)
        success = table["success"].to_numpy(zero_copy_only=False).astype(bool)[starts]
        persona = np.array(table["persona"].fill_null("unknown").to_pylist(), dtype=object)[starts]
        return cls(
            conversation=conversation.astype(np.int64),
            turn=table["turn"].to_numpy().astype(np.int64),
            actions=actions,
            propensities=table["propensity"].to_numpy(zero_copy_only=False).astype(np.float64),
            masks=fixed_column(table, "valid_mask").astype(bool),
            features=fixed_column(table, "features").astype(np.float32),
            history=fixed_column(table, "history_features").astype(np.float32),
            rewards=table["reward"].to_numpy(zero_copy_only=False).astype(np.float64),
            success=success,
            persona=persona,
            behaviour=fixed_column(table, "action_probs").astype(np.float64),
            feature_names=feature_names(meta, "features") + feature_names(meta, "history_features"),
            forced=table["forced"].to_numpy(zero_copy_only=False).astype(bool),
            abandoned=table["abandoned"].to_numpy(zero_copy_only=False).astype(bool)[starts],
        )

    @classmethod
    def from_logs(cls, folders) -> "OPEData":
        """From one log folder or several (``logs.read_logs``)."""
        return cls.from_table(read_logs(folders))
