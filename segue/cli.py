"""The ``segue`` command line: ``segue --help`` lists the commands."""

from __future__ import annotations

import difflib
import sys

import typer
from rich.markup import escape

from core.errors import SegueError
from core.threads import quiet_openmp

quiet_openmp()  # before torch (or anything with OpenMP) is imported by a command: see core.threads

from . import cmd_chat, cmd_data, cmd_embed, cmd_eval, cmd_policy, cmd_voice  # noqa: E402,F401  (they register their commands)
from .app import app, err, unwrap_command_help  # noqa: E402

unwrap_command_help()  # every command is registered now

__all__ = ["app", "main", "usage_error"]

# typer >= 0.20 carries its own copy of click: its exception classes, whichever click typer uses
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
NoArgsIsHelpError = getattr(sys.modules[UsageError.__module__], "NoArgsIsHelpError", None)
NoSuchOption = getattr(sys.modules[UsageError.__module__], "NoSuchOption", None)


def main() -> None:
    """Entry point: a user's mistake is one line on stderr and exit code 2, never a traceback.

    ``SegueError`` is every error Segue raises on purpose; ``OSError`` is what the system says about a path
    the user gave (a folder that cannot be written, a full disk), reported with the path.
    """
    try:
        code = app(standalone_mode=False)  # click's usage errors come here too, as one line (``usage_error``)
    except tuple(filter(None, [NoArgsIsHelpError])):  # ``segue logs`` alone: typer has printed its help, as asked
        sys.exit(0)
    except UsageError as exc:
        err.print(f"[bold red]error:[/] {escape(usage_error(exc, sys.argv[1:]))}", highlight=False)
        sys.exit(2)
    except typer.Abort:  # end of input at a prompt
        err.print("aborted")
        sys.exit(1)
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
    if code == 130:  # typer turns Ctrl-C into exit code 130
        err.print("interrupted")
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def usage_error(exc: UsageError, argv: list[str]) -> str:
    """One line for a command-line mistake click found: its message, the value given when click's message lacks
    it (``--conversations ten``), and where the help is, e.g. ``Invalid value for '--conversations' / '-n': Input
    should be a valid integer ..., got 'ten' (see 'segue simulate --help')``."""
    message = " ".join(exc.format_message().split())
    if NoSuchOption is not None and isinstance(exc, NoSuchOption) and exc.ctx is not None:
        message = _no_such_option(exc.option_name, exc.ctx.command)
    if isinstance(exc, typer.BadParameter) and exc.param is not None:
        given = _given_value(exc.param, argv)
        if given is not None and repr(given) not in message:
            message += f", got {given!r}"
    path = exc.ctx.command_path if exc.ctx is not None and exc.ctx.parent is not None else _command_path(argv)
    return f"{message} (see '{path} --help')"


def _command_path(argv: list[str]) -> str:
    """``segue`` and the (sub)command names that start ``argv`` ("segue logs summary"): where the help is when click's
    error carries no command context (an option missing its value: ``segue simulate --out``)."""
    command, path = typer.main.get_command(app), ["segue"]
    for word in argv:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, [*path, word]
    return " ".join(path)


def _no_such_option(name: str, command) -> str:
    """"No such option: NAME", with the command's options close to it: a spelling at least 70% alike
    (difflib's ratio, leading dashes left out) or one name the start of the other. click's own list compares the
    names with their dashes at 60%, which offered --out for --bogus."""
    typed = name.lstrip("-")
    scored = []
    for param in command.params:
        for option in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
            if not option.startswith("--"):
                continue
            bare = option[2:]
            ratio = difflib.SequenceMatcher(None, typed, bare).ratio()
            prefix = min(len(typed), len(bare)) >= 3 and (typed.startswith(bare) or bare.startswith(typed))
            if ratio >= 0.7 or prefix:
                scored.append((-ratio, option))
    ranked = sorted(set(scored))
    close = [option for score, option in ranked if score <= ranked[0][0] + 0.1][:3] if ranked else []  # near the best
    if not close:
        return f"No such option: {name}"
    return f"No such option: {name} (did you mean {close[0]}?)" if len(close) == 1 else \
        f"No such option: {name} (possible options: {', '.join(close)})"


def _given_value(param, argv: list[str]) -> str | None:
    """The last value given on the command line to ``param`` (``--opt value`` or ``--opt=value``), if it is there."""
    names = getattr(param, "opts", []) + getattr(param, "secondary_opts", [])
    found = None
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                found = argv[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                found = arg[len(name) + 1:]
    return found


if __name__ == "__main__":
    main()
