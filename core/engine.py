"""Where Segue's parallel work runs: local worker processes, or Ray tasks on a cluster.

Collection parts (``logs.collect``) and chunks of A/B and truth rollouts
(``evaluation.ab``) are independent calls ``fn(*args)`` that each need a
per-process state built once (``initializer(*initargs)``: the catalog, the
simulator, the policies). ``run_tasks`` runs them:

- ``local`` (the default, no Ray needed): a pool of worker processes forked by
  a clean fork server (``core.processes``), or this process for one worker;
- ``ray``: one Ray task per call, on a cluster at ``address`` ("auto", or
  "host:port" of a head started with ``ray start --head``), or on a Ray
  started for this run on this machine when ``address`` is None. Each Ray
  worker process builds the state once per ``(initializer, initargs)`` and
  reuses it for every task it runs. A task whose worker process dies (killed,
  out of memory, a node lost) is retried by Ray (``MAX_RETRIES``); tasks are
  deterministic functions of their arguments and write their results
  atomically, so a retry writes the same bytes and nothing twice.

Results come back as they complete, whatever the engine; callers place them
by their own index, so the output never depends on the engine, the number of
workers or nodes. Ray: Moritz et al., "Ray: A Distributed Framework for
Emerging AI Applications", OSDI 2018.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = ["ENGINES", "EngineSettings", "run_tasks", "connect", "MAX_RETRIES", "set_default_engine", "default_engine"]

ENGINES = ("local", "ray")
#: how many times Ray re-runs a task whose worker process died
MAX_RETRIES = 3


@dataclass(frozen=True)
class EngineSettings:
    """``name``: "local" or "ray"; ``address``: the Ray cluster ("auto", "host:port"; None: start Ray on this
    machine for the run; refused with the local engine). Raises ``ConfigError`` naming the option."""

    name: str = "local"
    address: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {self.name!r}")
        if self.address is not None and self.name != "ray":
            raise ConfigError(f"--address {self.address} needs --engine ray (the local engine runs on this machine)")
        if self.address is not None and not self.address.strip():
            raise ConfigError("--address must be 'auto' or host:port, got an empty value")

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def check_reachable(self, timeout: float = 3.0) -> None:
        """For a host:port address, that something listens there (Ray itself would retry for minutes). Raises
        ``ConfigError`` naming the address when nothing does; "auto" and no address are not checked here."""
        if self.address is None or self.address == "auto":
            return
        host, sep, port = self.address.removeprefix("ray://").rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"--address must be 'auto' or host:port, got {self.address!r}")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as exc:
            raise ConfigError(f"--address {self.address}: no Ray cluster answers there ({exc.strerror or exc}); start one "
                              "with `ray start --head` or check the address") from None


_DEFAULT = EngineSettings()


def set_default_engine(engine: EngineSettings) -> None:
    """The engine of this process's parallel work when a caller names none (the CLI sets it from ``--engine`` and
    ``--address``, once, before a command runs)."""
    global _DEFAULT
    _DEFAULT = engine


def default_engine() -> EngineSettings:
    return _DEFAULT


def run_tasks(engine: EngineSettings | None, initializer: Callable, initargs: tuple, fn: Callable, calls: Sequence[tuple],
              *, workers: int) -> Iterator[Any]:
    """``fn(*call)`` for every call, each in a process where ``initializer(*initargs)`` ran first (``engine`` None:
    the process's default, ``set_default_engine``); yields the results as they complete (any order). ``workers``:
    local processes (1: this process), or the CPUs of the Ray started for the run (ignored on an existing cluster:
    Ray schedules on all its CPUs). Module-level functions only (they travel by reference); with Ray, ``initargs``
    go to the object store once and every task reads them from there. Raises ``ConfigError`` when Ray is asked for
    and not installed or the cluster cannot be reached; a task's own exception is raised here as it would be
    locally."""
    if not calls:
        return
    engine = engine or _DEFAULT
    if engine.is_local:
        yield from _run_local(initializer, initargs, fn, calls, workers)
    else:
        yield from _run_ray(engine, initializer, initargs, fn, calls, workers)


def _run_local(initializer, initargs, fn, calls, workers) -> Iterator[Any]:
    if workers <= 1:
        initializer(*initargs)
        for call in calls:
            yield fn(*call)
        return
    from .processes import process_pool

    with process_pool(workers, initializer, initargs) as pool:
        futures = [pool.submit(fn, *call) for call in calls]
        for future in as_completed(futures):
            yield future.result()


# ------------------------------------------------------------------ Ray
_STATE_KEY: str | None = None  # in a Ray worker process: which (initializer, initargs) its state was built for


def _call_in_worker(key: str, initializer: Callable, initargs: tuple, fn: Callable, args: tuple) -> Any:
    """The body of every Ray task: build the worker's state when it was built for other work, then call."""
    global _STATE_KEY
    if _STATE_KEY != key:
        initializer(*initargs)
        _STATE_KEY = key
    return fn(*args)


def connect(engine: EngineSettings, workers: int | None = None):
    """``ray`` connected to the engine's cluster (started here with ``workers`` CPUs, default all cores, when no
    address was given); a no-op when this process is already connected. Raises ``ConfigError`` when Ray is not
    installed or the cluster cannot be reached."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'segue[ray]' (make test installs it)") from None
    if ray.is_initialized():
        return ray
    engine.check_reachable()
    _errors_to_stderr()
    try:  # the workers import Segue as the driver does: the project is installed in the environment Ray runs
        if engine.address is None:
            ray.init(num_cpus=max(1, workers or os.cpu_count() or 1), include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     object_store_memory=256 << 20)
        else:
            ray.init(address=engine.address, log_to_driver=False, logging_level="ERROR")
    except ConnectionError as exc:
        raise ConfigError(f"--address {engine.address}: cannot reach a Ray cluster there ({exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--address {engine.address}: {exc}") from None
    return ray


def _errors_to_stderr() -> None:
    """Ray's driver prints its raylet's error messages ("a worker died ...", when a task is retried) on stdout, where
    a command's ``--json`` result goes: send them to stderr (Ray's own printer, told they are errors)."""
    try:
        from ray._private import worker
    except ImportError:  # a Ray without that module: nothing to redirect
        return
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_segue_stderr", False):
        return

    def to_stderr(data, ignore_prefix):
        return original({**data, "is_err": True}, ignore_prefix)

    to_stderr._segue_stderr = True
    worker.print_to_stdstream = to_stderr


def _run_ray(engine: EngineSettings, initializer, initargs, fn, calls, workers) -> Iterator[Any]:
    ray = connect(engine, workers)
    key = hashlib.sha256(pickle.dumps((initializer.__module__, initializer.__qualname__, initargs))).hexdigest()
    task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False, num_cpus=1)(_call_in_worker)
    shared = ray.put(initargs)  # once in the object store (a bootstrap's arrays), not once per task
    pending = [task.remote(key, initializer, shared, fn, call) for call in calls]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                raise exc.as_instanceof_cause() from None
    finally:
        for ref in pending:  # the caller stopped early (an error, Ctrl-C): nothing keeps running for it
            ray.cancel(ref, force=True)
