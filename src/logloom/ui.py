"""What the user sees on the terminal: notices, warnings and the progress bar.

Progress is drawn only when stderr is a terminal and ``--quiet`` is off; notices
go to stderr so that stdout stays clean for data (``parse`` prints JSON there).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class Bar(Protocol):
    def advance(self, n: int) -> None: ...


class _NoBar:
    def advance(self, n: int) -> None:
        pass


class _RichBar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int) -> None:
        self._progress.update(self._task, advance=n)


class UI:
    """Console output for one command.

    rich is loaded when the first thing is printed, not before: it is about 15 ms of
    start-up, and a quiet run with nothing to report prints nothing.
    """

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False)

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False)

    def notify(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False)

    def always(self, message: str) -> None:
        """A notice that matters even under --quiet (where to connect a viewer)."""
        self.err.print(message, markup=False)

    def warn(self, message: str) -> None:
        self.err.print(f"warning: {message}", style="yellow", markup=False)

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[Bar]:
        if self.quiet or not sys.stderr.isatty():
            yield _NoBar()
            return
        from rich.progress import (  # loaded only for a bar that is drawn (see UI)
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.err, transient=True) as progress:
            task = progress.add_task(label, total=total)
            yield _RichBar(progress, task)
