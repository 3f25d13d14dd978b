"""The layout rules of DESIGN.md, checked against the code: who may import whom, and no command calls a command."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the project packages it may import (DESIGN.md, "Layout": arrows point from user to used).
ALLOWED = {
    "core": set(),
    "recommender": {"core"},
    "dialogue": {"core", "recommender"},
    "simulator": {"core", "recommender", "dialogue"},
    "policy": {"core", "recommender", "dialogue"},
    "logs": {"core", "recommender", "dialogue", "simulator", "policy"},
    "evaluation": {"core", "recommender", "dialogue", "simulator", "policy", "logs"},
    "segue": {"core", "recommender", "dialogue", "simulator", "policy", "logs", "evaluation"},
}


def _imports(path: Path) -> set[tuple[str, int]]:
    """Top-level project packages imported by a file (absolute imports), with line numbers."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add((alias.name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return {(name, line) for name, line in found if name in ALLOWED}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down_only(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name, line in _imports(path):
            if name != package and name not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "imports against the layout:\n" + "\n".join(bad)


def test_the_rules_the_issue_names():
    """No simulator under recommender/, no logs under dialogue/ (the two that had crept in)."""
    assert not [p for p in (ROOT / "recommender").rglob("*.py") if any(n == "simulator" for n, _ in _imports(p))]
    assert not [p for p in (ROOT / "dialogue").rglob("*.py") if any(n == "logs" for n, _ in _imports(p))]


def _command_callbacks():
    from segue.cli import app

    def callbacks(typer_app):
        for command in typer_app.registered_commands:
            yield command.callback
        for group in typer_app.registered_groups:
            yield from callbacks(group.typer_instance)

    return list(callbacks(app))


def _imported_names(tree: ast.AST, module) -> dict[str, object]:
    """Every name a file imports, at the top or inside a function (``from .cmd_data import simulate``), resolved."""
    import importlib
    import importlib.util

    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), module.__package__) if node.level \
                else node.module
            try:
                source = importlib.import_module(base)
            except ImportError:
                continue
            for alias in node.names:
                value = getattr(source, alias.name, None)
                if value is None:
                    try:
                        value = importlib.import_module(f"{base}.{alias.name}")
                    except ImportError:
                        continue
                names[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
    return names


def _command_calls(path: Path, module, commands) -> list[str]:
    """Calls in ``path`` (imported as ``module``) of a function that is a registered command, whether the name
    comes from the module's globals or from an import inside a function."""
    tree = ast.parse(path.read_text())
    imported = _imported_names(tree, module)

    def lookup(name: str):
        return getattr(module, name, None) if hasattr(module, name) else imported.get(name)

    names = {cb.__name__ for cb in commands}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in names:
            target = lookup(node.func.id)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in names and isinstance(node.func.value, ast.Name):
            owner = lookup(node.func.value.id)
            target = getattr(owner, node.func.attr, None) if inspect.ismodule(owner) else None
        else:
            continue
        if any(target is cb for cb in commands):
            found.append(f"{path.name}:{node.lineno} calls the command {ast.unparse(node.func)}()")
    return found


def test_no_command_calls_another_command():
    """A command parses options and calls a workflow; calling a Typer command as a function is how `make demo` once
    crashed (an option added to one command reached it as a Typer default object)."""
    import importlib

    commands = _command_callbacks()
    assert len(commands) > 20
    calls = []
    for path in sorted((ROOT / "segue").rglob("*.py")):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        calls += _command_calls(path, module, commands)
    assert not calls, "\n".join(calls)


def test_the_check_finds_a_command_called_as_a_function(tmp_path, monkeypatch):
    """The detector itself, on the shape of the old pipeline: commands imported inside the function and called."""
    import importlib

    source = ("from segue import cmd_policy\n\n\ndef run():\n    from segue.cmd_data import simulate\n\n"
              "    simulate(conversations=1)\n    cmd_policy.train(steps=1)\n")
    (tmp_path / "old_pipeline.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("old_pipeline")
    found = _command_calls(tmp_path / "old_pipeline.py", module, _command_callbacks())
    assert found == ["old_pipeline.py:7 calls the command simulate()", "old_pipeline.py:8 calls the command cmd_policy.train()"]
