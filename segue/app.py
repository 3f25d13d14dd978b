"""The Typer application, its consoles and small output helpers shared by the commands."""

from __future__ import annotations

import json
import sys

import typer
import typer.core
from rich.console import Console

__all__ = ["app", "logs_app", "catalog_app", "policy_app", "embeddings_app", "bench_app", "nlu_app", "out", "err", "print_json"]

def _flags_take_no_value() -> None:
    """typer 0.29's rich help prints a flag's type (``--json <bool>``) as if the flag took a value; its plain help
    does not (``TyperOption.get_help_record``: ``if not self.is_flag``). Flags show no type here either."""
    option = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_segue_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) and self.metavar is None else shown(self, ctx)

    display_type_rich._segue_flags = True
    option.display_type_rich = display_type_rich


_flags_take_no_value()

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Segue: a conversational music recommender with an offline-RL dialogue policy.")
logs_app = typer.Typer(no_args_is_help=True, help="Inspect and validate conversation logs.")
catalog_app = typer.Typer(no_args_is_help=True, help="Build and inspect the music catalog.")
policy_app = typer.Typer(no_args_is_help=True, help="Trained policies in the registry.")
app.add_typer(logs_app, name="logs")
app.add_typer(catalog_app, name="catalog")
embeddings_app = typer.Typer(no_args_is_help=True, help="Track and user embeddings for the scorer.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks.")
nlu_app = typer.Typer(no_args_is_help=True, help="Natural-language understanding: parse one utterance, export Rasa data.")
app.add_typer(policy_app, name="policy")
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(bench_app, name="bench")
app.add_typer(nlu_app, name="nlu")

out = Console(width=None if sys.stdout.isatty() else 200)  # tables in a file or a pipe are not cut at 80 columns
err = Console(stderr=True, soft_wrap=True)


def unwrap_command_help(typer_app: typer.Typer | None = None) -> None:
    """typer's rich command list keeps a docstring's line breaks (``rich_utils._make_command_help`` removes them only
    outside rich markup), so ``segue --help`` broke "roll out or / back" mid-sentence. Each command's help becomes its
    docstring with the first paragraph on one line, as the command's own help page already shows it."""
    import inspect

    typer_app = typer_app or app
    for info in typer_app.registered_commands:
        doc = info.help if info.help is not None else getattr(info.callback, "__doc__", None)
        if doc:
            first, *rest = inspect.cleandoc(doc).split("\n\n")
            info.help = "\n\n".join([" ".join(first.split()), *rest])
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            unwrap_command_help(group.typer_instance)


def print_json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
