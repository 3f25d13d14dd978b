"""d3rlpy support: a quiet import, and action masks for d3rlpy's discrete learners (d3rlpy has none: its issue #356).

The chosen way: the valid-prompt mask is part of the observation. A learned
policy's observation is the state features followed by ``N_PROMPTS`` 0/1
entries, one per prompt (``observation(features, mask)``). The networks see
it as input, and the algorithm implementations read it back to:

- pick the best action among valid prompts only (``inner_predict_best_action``),
  which is used both at serving and for the double-DQN bootstrap target
  (DQN, CQL, BCQ all compute ``argmax`` with it on the next observation), so a
  target never bootstraps from an invalid prompt;
- restrict CQL's conservative ``logsumexp`` to the valid prompts (an invalid
  prompt is not an unexplored one: it cannot be asked);
- intersect BCQ's behaviour filter with the valid prompts.

``enable_masking(algo)`` swaps the algorithm's implementation class for its
masked subclass, which only overrides those methods and adds no state, so
it works the same after ``create_impl`` and after ``d3rlpy.load_learnable``.
No observation scaler may be used (it would rescale the mask entries).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math

import numpy as np

from dialogue.prompts import N_PROMPTS

from .errors import PolicyError

__all__ = ["observation", "observations", "enable_masking", "valid_from_observation", "import_d3rlpy", "mdp_dataset"]

_NEG = -1e9


def import_d3rlpy():
    """Import d3rlpy quietly: it prints a gym notice on import and logs chattily."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        import d3rlpy  # noqa: PLC0415
    logging.getLogger("d3rlpy").setLevel(logging.WARNING)
    import structlog  # noqa: PLC0415  (comes with d3rlpy)

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    return d3rlpy


def observation(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One policy observation: float32 (n_features + N_PROMPTS,)."""
    return np.concatenate([features.astype(np.float32, copy=False), mask.astype(np.float32)])


def observations(features: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Batch form: features (n, n_features), masks bool (n, N_PROMPTS) -> float32 (n, n_features + N_PROMPTS)."""
    return np.concatenate([features.astype(np.float32, copy=False), masks.astype(np.float32)], axis=1)


def valid_from_observation(x):
    """Bool (batch, N_PROMPTS) mask read back from the observation's last entries."""
    return x[:, -N_PROMPTS:] > 0.5


def _masked_argmax(values, valid):
    # rows with no valid prompt (zero next-observations of terminal steps) fall back to 0;
    # their target is multiplied by (1 - terminal) = 0 anyway
    return values.masked_fill(~valid, _NEG).argmax(dim=1)


def _classes():
    import torch  # imported here: importing this module (and logs) must not pay for torch
    import torch.nn.functional as F

    import_d3rlpy()
    from d3rlpy.algos.qlearning.torch.bc_impl import DiscreteBCImpl
    from d3rlpy.algos.qlearning.torch.bcq_impl import DiscreteBCQImpl
    from d3rlpy.algos.qlearning.torch.cql_impl import DiscreteCQLImpl
    from d3rlpy.algos.qlearning.torch.dqn_impl import DoubleDQNImpl, DQNImpl

    class MaskedDQNImpl(DQNImpl):
        def inner_predict_best_action(self, x):
            return _masked_argmax(self._q_func_forwarder.compute_expected_q(x), valid_from_observation(x))

        def compute_target(self, batch):
            with torch.no_grad():
                next_values = self._targ_q_func_forwarder.compute_expected_q(batch.next_observations)
                action = _masked_argmax(next_values, valid_from_observation(batch.next_observations))
                return self._targ_q_func_forwarder.compute_target(batch.next_observations, action, reduction="min")

    class MaskedDoubleDQNImpl(DoubleDQNImpl):
        def inner_predict_best_action(self, x):
            return _masked_argmax(self._q_func_forwarder.compute_expected_q(x), valid_from_observation(x))

    class MaskedDiscreteCQLImpl(DiscreteCQLImpl):
        def inner_predict_best_action(self, x):
            return _masked_argmax(self._q_func_forwarder.compute_expected_q(x), valid_from_observation(x))

        def _compute_conservative_loss(self, obs_t, act_t):
            values = self._q_func_forwarder.compute_expected_q(obs_t)
            valid = valid_from_observation(obs_t)
            logsumexp = torch.logsumexp(values.masked_fill(~valid, _NEG), dim=1, keepdim=True)
            one_hot = F.one_hot(act_t.view(-1), num_classes=self.action_size)
            data_values = (values * one_hot).sum(dim=1, keepdim=True)
            return (logsumexp - data_values).mean()

    class MaskedDiscreteBCQImpl(DiscreteBCQImpl):
        def inner_predict_best_action(self, x):
            valid = valid_from_observation(x)
            dist = self._modules.imitator(x)
            log_probs = F.log_softmax(dist.logits.masked_fill(~valid, _NEG), dim=1)
            ratio = log_probs - log_probs.max(dim=1, keepdim=True).values
            keep = (ratio > math.log(self._action_flexibility)) & valid
            keep = torch.where(keep.any(dim=1, keepdim=True), keep, valid)
            value = self._q_func_forwarder.compute_expected_q(x)
            return _masked_argmax(value, keep)

    class MaskedDiscreteBCImpl(DiscreteBCImpl):
        def inner_predict_best_action(self, x):
            return _masked_argmax(self._modules.imitator(x).logits, valid_from_observation(x))

    # most specific first: DiscreteCQLImpl and DiscreteBCQImpl derive from DoubleDQNImpl
    return (
        (DiscreteCQLImpl, MaskedDiscreteCQLImpl),
        (DiscreteBCQImpl, MaskedDiscreteBCQImpl),
        (DoubleDQNImpl, MaskedDoubleDQNImpl),
        (DQNImpl, MaskedDQNImpl),
        (DiscreteBCImpl, MaskedDiscreteBCImpl),
    )


_MASKED: tuple | None = None


def enable_masking(algo) -> None:
    """Make a built d3rlpy discrete algorithm honour the mask in its observations."""
    global _MASKED
    if _MASKED is None:
        _MASKED = _classes()
    impl = algo.impl
    if impl is None:
        raise PolicyError(f"{type(algo).__name__} is not built: build it (create_impl or build_with_dataset) before enabling masks")
    if algo.config.observation_scaler is not None:
        raise PolicyError(f"{type(algo).__name__} has an observation scaler, which would rescale the mask entries of "
                          "its observations: Segue's learners are trained without one")
    masked_classes = {masked for _, masked in _MASKED}
    if type(impl) in masked_classes:
        return
    for base, masked in _MASKED:
        if type(impl) is base:
            impl.__class__ = masked
            return
    raise PolicyError(f"{type(algo).__name__} ({type(impl).__name__}) is not a discrete learner Segue can mask: "
                      "use DiscreteCQL, DiscreteBCQ, DQN, DoubleDQN or DiscreteBC")


def mdp_dataset(transitions, *, with_mask: bool = True):
    """A d3rlpy ``MDPDataset`` from ``policy.data.Transitions``.

    With ``with_mask`` the observations carry the valid-prompt mask in their
    last ``N_PROMPTS`` entries (what the masked learners read).
    """
    d3rlpy = import_d3rlpy()
    obs = observations(transitions.observations, transitions.masks) if with_mask else transitions.observations
    return d3rlpy.dataset.MDPDataset(
        observations=obs,
        actions=transitions.actions,
        rewards=transitions.rewards,
        terminals=transitions.terminals,
        timeouts=transitions.timeouts,
        action_space=d3rlpy.constants.ActionSpace.DISCRETE,
        action_size=N_PROMPTS,
    )
