"""The exception tree. The CLI turns every ``LogloomError`` into one message and exit 2.

    LogloomError            the user's input is wrong; no traceback
    ├── ConfigError         a config file (one report listing every problem)
    ├── InputError          a log file, an option, a missing path
    │   └── DataDirBusy     another process writes the data directory
    ├── StateFileError      a checkpoint, snapshot or baseline that cannot be read, or
    │                       that no longer fits the outputs it counts
    └── OutputError         a file in --data that cannot be written (read-only, full
                            disk, a symlink): the environment, not a bug

Anything else escaping the pipeline is a bug: exit 1 after a crash snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass


class LogloomError(Exception):
    """Base of every error caused by the user's input."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file."""

    file: str
    path: str  # key path such as machines.clamp.transitions[0].to
    message: str
    line: int | None = None
    hint: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return ("warning: " if self.warning else "") + text


class ConfigError(LogloomError):
    """The configs have errors; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = sum(not p.warning for p in problems)
        warnings = len(problems) - count
        head = "1 config error" if count == 1 else f"{count} config errors"
        if warnings:
            head += " and 1 warning" if warnings == 1 else f" and {warnings} warnings"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in problems))


class InputError(LogloomError):
    """A log file, an option value or a path the user gave is unusable."""


class DataDirBusy(InputError):
    """The data directory's lock is held by another process (one writer at a time)."""


class StateFileError(LogloomError):
    """A state file (checkpoint, snapshot, baseline) is corrupt or of an unknown version."""


class OutputError(LogloomError):
    """A file in the data directory cannot be written: read-only, full disk, a symlink.

    The message names the file and the OS error; ``monitor`` adds what state the
    outputs are in.
    """
