"""Progress of long work, visible whether or not stderr is a terminal.

On a terminal, each long step shows a live bar (rich). Elsewhere (``make demo
> demo.log``, CI, a pipe) the same calls print plain lines: one when a stage
starts, one when it ends with its elapsed time, and one per quarter of a long
step, so a log file shows where the time went. Workflows take a ``Reporter``;
``Reporter.silent()`` reports nothing (tests, library use).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["Reporter", "Update", "StageUpdate", "format_seconds"]

Update = Callable[..., None]                 # update(done, total=None)
StageUpdate = Callable[[str, int, int], None]  # update(stage, done, total)


def format_seconds(value: float) -> str:
    """``12.3 s`` or ``4 min 5 s``."""
    return f"{value:.1f} s" if value < 120 else f"{int(value // 60)} min {value % 60:.0f} s"


class _Lines:
    """Plain-text progress of one step: a line at the first quarter mark reached after each update (25%, 50%, 75%)
    and one at the end, with the elapsed time; steps shorter than ``QUIET_SECONDS`` print nothing of their own."""

    QUIET_SECONDS = 2.0

    def __init__(self, reporter: "Reporter", description: str, total: int | None) -> None:
        self.reporter, self.description, self.total = reporter, description, total
        self.start = time.perf_counter()
        self.quarter = 0
        self.finished = False

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        if not self.total or self.finished or done >= self.total:
            return
        quarter = int(4 * done / self.total)
        elapsed = time.perf_counter() - self.start
        if quarter > self.quarter and elapsed >= self.QUIET_SECONDS:
            self.quarter = quarter
            self.reporter.line(f"  {self.description}: {done:,}/{self.total:,} ({100 * done / self.total:.0f}%, "
                               f"{format_seconds(elapsed)})")

    def end(self) -> None:
        if self.finished:
            return
        self.finished = True
        elapsed = time.perf_counter() - self.start
        if elapsed >= self.QUIET_SECONDS:
            self.reporter.line(f"  {self.description}: done in {format_seconds(elapsed)}")


class Reporter:
    """Stages and progress bars on ``console`` (stderr by default).

    ``live``: rich bars (default: when the console is a terminal); otherwise plain lines. ``enabled=False``
    reports nothing.
    """

    def __init__(self, console: Console | None = None, *, live: bool | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.live = self.console.is_terminal if live is None else live
        self.enabled = enabled

    @classmethod
    def silent(cls) -> "Reporter":
        return cls(live=False, enabled=False)

    def line(self, text: str) -> None:
        """One line as it is (no markup)."""
        if self.enabled:
            self.console.print(escape(text), highlight=False)

    def note(self, text: str) -> None:
        """A remark the person should read (markup allowed)."""
        if self.enabled:
            self.console.print(text, highlight=False)

    def note_unread(self, folders) -> None:
        """A note per log folder holding Parquet files it does not read (not parts of its manifest: a stray copy,
        a leftover), so validating, summarizing, training, evaluating or exporting never skips one silently."""
        from logs.store import unlisted_files

        for folder in folders:
            ignored = unlisted_files(folder)
            if ignored:
                self.note(unread_note(folder, ignored))

    @contextmanager
    def stage(self, title: str) -> Iterator[None]:
        """A named stage: a line when it starts and one with its elapsed time when it ends (or fails)."""
        start = time.perf_counter()
        if self.enabled:
            self.console.print(f"[bold]{escape(title)}[/]", highlight=False)
        ok = False
        try:
            yield
            ok = True
        finally:
            if self.enabled:
                took = format_seconds(time.perf_counter() - start)
                short = " ".join(title.split()[:2]).rstrip(":,;")  # "round 0/1: serve rule" -> "round 0/1"
                self.console.print(f"[dim]  {'done in' if ok else 'stopped after'} {took} ({escape(short)})[/]", highlight=False)

    @contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Update]:
        """One long step: yields ``update(done, total=None)``."""
        if not self.enabled:
            yield lambda done, total=None: None
            return
        if not self.live:
            lines = _Lines(self, description, total)
            yield lines
            lines.end()
            return
        with self._progress() as progress:
            task = progress.add_task(escape(description), total=total)
            yield lambda done, total_=None: progress.update(task, completed=done, **({"total": total_} if total_ else {}))

    @contextmanager
    def stages(self) -> Iterator[StageUpdate]:
        """Several steps reported by name: yields ``update(stage, done, total)``; each new name gets its own bar."""
        if not self.enabled:
            yield lambda stage, done, total: None
            return
        if not self.live:
            seen: dict[str, _Lines] = {}

            def update(stage: str, done: int, total: int) -> None:
                if stage not in seen:
                    for other in seen.values():  # a new step starts: the previous ones are over
                        other.end()
                    seen[stage] = _Lines(self, stage, total)
                seen[stage](done, total)

            yield update
            for lines in seen.values():
                lines.end()
            return
        with self._progress() as progress:
            tasks: dict[str, int] = {}

            def update(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(escape(stage), total=total)
                progress.update(tasks[stage], completed=done, total=total)

            yield update

    def _progress(self) -> Progress:
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=self.console, transient=False)


def unread_note(folder, names) -> str:
    """The note (markup) that a log folder holds Parquet files ``names`` it does not read: not among the parts its
    manifest names, or, in a folder with no manifest, not named part-NNNNN.parquet."""
    from logs.store import MANIFEST

    why = (f"no part of {folder}'s manifest" if (Path(folder) / MANIFEST).is_file()
           else f"{folder} has no {MANIFEST}: only part-NNNNN.parquet files are read")
    return f"[yellow]note:[/] not read ({escape(why)}): {escape(', '.join(names))}"


def plural(word: str, n: int) -> str:
    """``word`` for one, ``word + "s"`` for any other count ("1 part", "2 parts")."""
    return word if n == 1 else word + "s"
