"""The ``segue`` command line: ``segue --help`` lists the commands."""

from __future__ import annotations

import sys

from rich.markup import escape

from core.errors import SegueError
from core.threads import quiet_openmp

quiet_openmp()  # before torch (or anything with OpenMP) is imported by a command: see core.threads

from . import cmd_chat, cmd_data, cmd_embed, cmd_eval, cmd_policy, cmd_voice  # noqa: E402,F401  (they register their commands)
from .app import app, err  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: a user's mistake is one line on stderr and exit code 2, never a traceback.

    ``SegueError`` is every error Segue raises on purpose; ``OSError`` is what the system says about a path
    the user gave (a folder that cannot be written, a full disk), reported with the path.
    """
    try:
        app()  # click handles usage errors itself (usage line, exit code 2)
    except SegueError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        err.print(f"[bold red]error:[/] {escape(str(exc.strerror or exc) + where)}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
