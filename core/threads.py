"""CPU threads for torch and OpenMP, chosen so that a busy machine slows training down gracefully.

Two things made training 60x slower while another job used the same two cores
(measured in BENCHMARKS.md, "Training on a busy machine"):

- OpenMP's default wait policy makes a thread that waits at a barrier spin for
  a while before it sleeps. With more runnable threads than cores, the spinning
  threads steal the time the working thread needs. ``OMP_WAIT_POLICY=PASSIVE``
  makes them sleep; it is read once, when the OpenMP runtime loads, so
  ``quiet_openmp()`` must run before torch is imported (the CLI does it first).
- Small networks (Segue's learners are 2 x 256 units) gain nothing from a second
  intra-op thread, and every extra thread is one more to be descheduled.
  ``torch_threads(n)`` sets torch's intra-op threads for a block and restores
  them after; inter-op parallelism is set to one thread once per process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ConfigError

__all__ = ["quiet_openmp", "torch_threads", "resolve_threads"]


def quiet_openmp() -> None:
    """Let waiting OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose a policy.

    Call it before torch is imported: the OpenMP runtime reads the variable once, when it loads.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def resolve_threads(requested: int, *, default: int) -> int:
    """``requested`` threads, or ``default`` when it is 0; never more than the machine's cores.

    Raises ``ConfigError`` for a negative count.
    """
    if requested < 0:
        raise ConfigError(f"threads must be >= 0 (0: the default, {default}), got {requested}")
    cores = os.cpu_count() or 1
    return max(1, min(requested or default, cores))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (and one inter-op thread), then restore the previous count."""
    import torch

    if n < 1:
        raise ConfigError(f"torch threads must be >= 1, got {n}")
    previous = torch.get_num_threads()
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first inter-op work of the process; then it stays as it is
        pass
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
