"""Serving a policy to people or simulated users: a randomized share, a fallback, planted faults.

The served distribution (``ExploringPolicy``) mixes the policy with a uniform
share over the valid prompts::

    mu(a | s) = (1 - epsilon) * pi(a | s) + epsilon * mask(a) / |mask|

and the log records ``mu`` at every turn, with the drawn prompt's probability
under ``mu`` as its propensity. Why this gives valid per-decision importance
weights: the prompt really is drawn from ``mu(. | s)`` given the state, so
``E_mu[pi_e(a|s) / mu(a|s) * f(a)] = E_pi_e[f(a)]`` for any target ``pi_e``
whose valid prompts ``mu`` covers, and ``mu(a|s) >= epsilon / |mask| > 0``
for every valid prompt when ``epsilon > 0`` (Precup et al. 2000, per-decision
importance sampling; the seed article's "randomization in a small share of
sessions so that every prompt keeps a known chance"). Logs from several
behaviour policies pool: each turn's weight uses the probability of the
policy that served that turn, which is all per-decision estimators need
(each conversation is an unbiased sample under its own behaviour policy).

``FallbackPolicy`` serves a policy and, when it raises, finishes the
conversation with a fallback (the previous policy): the turns it serves are
logged with the fallback's distribution, the probability they were really
drawn from, so the weights stay valid. ``FaultyPolicy`` raises on a share of
calls: a planted fault for tests and ``segue loop --fault raise@R``.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError, SegueError
from dialogue.policy import Policy

__all__ = ["BaseFeatures", "ExploringPolicy", "FallbackPolicy", "FaultyPolicy", "PlantedFault", "mix_uniform"]


class PlantedFault(SegueError):
    """What a ``FaultyPolicy`` raises: a fault planted on purpose (tests, ``segue loop --fault``)."""


def mix_uniform(probs: np.ndarray, mask: np.ndarray, epsilon: float) -> np.ndarray:
    """``(1 - epsilon) * probs + epsilon * uniform(valid prompts)``; probs float (P,) or (n, P), mask bool alike."""
    mask = np.asarray(mask, dtype=bool)
    uniform = mask / mask.sum(axis=-1, keepdims=True)
    return (1.0 - epsilon) * np.asarray(probs, dtype=np.float64) + epsilon * uniform


class ExploringPolicy:
    """A policy served with a randomized share ``epsilon`` in [0, 1] (module docstring). Raises ``ConfigError``
    for an ``epsilon`` out of range."""

    def __init__(self, policy: Policy, epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ConfigError(f"--exploration must be within [0, 1], got {epsilon}")
        self.policy = policy
        self.epsilon = float(epsilon)
        self.name = f"{getattr(policy, 'name', 'policy')}+uniform({epsilon:g})"

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float64 (P,): the served distribution at one state."""
        return mix_uniform(self.policy.probabilities(features, mask), mask, self.epsilon)

    def batch_probabilities(self, features: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
        """float64 (n, P) at n logged states (the wrapped policy's batch path when it has one)."""
        inner = getattr(self.policy, "batch_probabilities", None)
        probs = inner(features, masks, progress=progress) if inner else np.stack(
            [self.policy.probabilities(f, m) for f, m in zip(features, masks)])
        return mix_uniform(probs, masks, self.epsilon)


class FallbackPolicy:
    """Serve ``primary``; from the first turn it raises, serve ``fallback`` until ``reset()`` (the next conversation).

    ``faults`` counts the conversations that fell back, ``errors`` keeps the first few messages. Any exception of
    the primary counts: a policy that raises must never end a person's conversation.
    """

    def __init__(self, primary: Policy, fallback: Policy) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = getattr(primary, "name", "policy")
        self.faults = 0
        self.errors: list[str] = []
        self._failed = False

    def reset(self) -> None:
        """A new conversation starts with the primary again."""
        self._failed = False

    @property
    def failed(self) -> bool:
        """Whether the current conversation fell back."""
        return self._failed

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if not self._failed:
            try:
                return self.primary.probabilities(features, mask)
            except Exception as exc:  # noqa: BLE001  (any fault of the served policy: fall back, count it)
                self._failed = True
                self.faults += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
        return self.fallback.probabilities(features, mask)


class FaultyPolicy:
    """``policy`` that raises ``PlantedFault`` on a share ``rate`` of its calls (its own seeded draws)."""

    def __init__(self, policy: Policy, rate: float, seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"fault rate must be within [0, 1], got {rate}")
        self.policy = policy
        self.rate = float(rate)
        self.name = getattr(policy, "name", "policy")
        self._rng = np.random.default_rng([0xFA017, seed])

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._rng.random() < self.rate:
            raise PlantedFault(f"planted fault: {self.name} raised while serving (rate {self.rate:g})")
        return self.policy.probabilities(features, mask)


class BaseFeatures:
    """A base-feature policy served from the whole state: it reads the first ``n_base`` features."""

    def __init__(self, policy: Policy, n_base: int) -> None:
        self.policy = policy
        self.n_base = int(n_base)
        self.name = getattr(policy, "name", "policy")

    def probabilities(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.policy.probabilities(features[: self.n_base], mask)

    def __getattr__(self, name: str):
        # ``batch_probabilities`` exists exactly when the wrapped policy has one (rule policies answer row by row)
        if name == "batch_probabilities" and hasattr(self.policy, "batch_probabilities"):
            inner = self.policy.batch_probabilities
            return lambda features, masks, progress=None: inner(features[:, : self.n_base], masks, progress=progress)
        raise AttributeError(name)
