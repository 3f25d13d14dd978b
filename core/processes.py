"""Worker processes that are safe to start from a process that has trained models.

Python 3.11 on Linux forks worker processes by default. A fork copies the
parent's memory but not its threads: when the parent has run torch, d3rlpy or
scikit-learn (their OpenMP and intra-op thread pools), a lock held by one of
those threads at the moment of the fork stays held forever in the child, and
the worker hangs before its first task. ``segue loop`` trains, then simulates
the next round in worker processes, and hung exactly so. Workers here come
from a fork server instead: a small clean process, started once, that forks
each worker (``multiprocessing`` "forkserver"). The modules named in
``preload`` are imported once in the server, so a worker starts in
milliseconds rather than importing them again.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool"]

_PRELOAD = ["numpy", "pyarrow", "logs.collect", "evaluation.ab"]
_context = None


def process_pool(workers: int, initializer: Callable, initargs: tuple) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked by a clean fork server, each running ``initializer(*initargs)`` first."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=_context, initializer=initializer, initargs=initargs)
