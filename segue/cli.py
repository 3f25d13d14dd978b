"""The ``segue`` command line: ``segue --help`` lists the commands."""

from __future__ import annotations

import sys

from recommender.errors import SegueError

from . import cmd_chat, cmd_data, cmd_embed, cmd_eval, cmd_policy, cmd_voice  # noqa: F401  (they register their commands)
from .app import app, err

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: a user's mistake is one line on stderr and exit code 2, never a traceback."""
    try:
        app()  # click handles usage errors itself (usage line, exit code 2)
    except SegueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
