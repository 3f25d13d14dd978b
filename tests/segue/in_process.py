"""``segue`` run inside the test process: the CLI's entry point (``segue.cli.main``, the same one the installed
``segue`` calls) with its arguments, standard output and error captured, as a ``subprocess.CompletedProcess``.

For the refusals the CLI makes before any work: a subprocess costs ~1 s of start-up each (imports), and the suite has
dozens of them. Whatever does the work (simulate, train, evaluate) stays a real subprocess in the tests."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from unittest import mock


def segue_in_process(*args) -> subprocess.CompletedProcess:
    """``segue ARGS`` through ``segue.cli.main``: returncode (its ``SystemExit`` code), stdout and stderr as text.
    An exception the entry point lets through is raised here, as it would be a traceback on a terminal."""
    from segue.cli import main

    argv = ["segue", *map(str, args)]
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    with mock.patch.object(sys, "argv", argv), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())
