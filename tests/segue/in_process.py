"""``segue`` run inside the test process: the CLI's entry point (``segue.cli.main``, the same one the installed
``segue`` calls) with its arguments, standard input, output and error, as a ``subprocess.CompletedProcess``.

A subprocess costs 1-5 s of start-up each (Python, then torch, d3rlpy and scikit-learn as a command needs them), and
the suite ran 257 of them: 539 of its 873 test-seconds were spent in subprocesses. Tests of what a command says and
writes run it here; a real process stays where the process is the point: the installed entry point and
``make demo`` (``tests/journeys``), a real terminal, a pipe closed mid-chat, a killed worker or driver
(``tests/segue/test_chat.py``, ``tests/logs/test_collect.py``, ``tests/core/test_engine.py``), and one contract per
work command in ``tests/segue/test_cli.py``."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from unittest import mock


def segue_in_process(*args, stdin: str | None = None, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """``segue ARGS`` through ``segue.cli.main``: returncode (its ``SystemExit`` code), stdout and stderr as text.
    ``stdin``: the text it reads (a pipe, not a terminal: empty when None); ``cwd``: the folder it runs in.
    An exception the entry point lets through is raised here, as it would be a traceback on a terminal."""
    from segue.cli import main

    argv = ["segue", *map(str, args)]
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    with (mock.patch.object(sys, "argv", argv), mock.patch.object(sys, "stdin", io.StringIO(stdin or "")),
          contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr),
          contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())
