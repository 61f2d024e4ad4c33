"""What the user sees on the terminal: notices, warnings and the progress bar.

Progress is drawn only when stderr is a terminal and ``--quiet`` is off; notices
go to stderr so that stdout stays clean for data (``parse`` prints JSON there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, TextIO

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


PIPED_WIDTH = 1000  # a table written to a file or pipe is as wide as its content


def _width(stream: TextIO) -> int | None:
    """The console width: the terminal's (None: rich asks it), or, written to a file or a
    pipe, room for any table, so that nothing is cut at rich's default of 80 columns
    (``COLUMNS`` still decides when it is set)."""
    if stream.isatty() or os.environ.get("COLUMNS"):
        return None
    return PIPED_WIDTH


class UI:
    """Console output for one command.

    rich is loaded when the first thing is drawn on a terminal, not before: it is
    about 20 ms of start-up, and a run whose stderr is a file or a pipe prints plain
    lines.
    """

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, width=_width(sys.stderr))

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False, width=_width(sys.stdout))

    def notify(self, message: str) -> None:
        if not self.quiet:
            self._say(message)

    def always(self, message: str) -> None:
        """A notice that matters even under --quiet (where to connect a viewer)."""
        self._say(message)

    def warn(self, message: str) -> None:
        self._say(f"warning: {message}", style="yellow")

    def _say(self, message: str, style: str | None = None) -> None:
        """To a terminal through rich; to a file or pipe as one plain line per notice
        (what a log collector expects, and no rich to load)."""
        if sys.stderr.isatty():
            self.err.print(message, style=style, markup=False)
        else:
            sys.stderr.write(message + "\n")

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
