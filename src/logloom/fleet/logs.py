"""A source's logs: a path or a glob, its files in time order, and which are done.

Rotated logs carry dates or numbers in their names that sort in no agreed way, so
files are ordered by the first timestamp among their first lines (read with the
source's own timestamp pattern), then by modification time and name. A file with no
readable timestamp near its start goes by modification time.

``fleet monitor`` reads the files one after another with ``main.monitor``. Each
file it finished is written down in ``<data>/<name>/fleet_files.json`` (its identity
and the offset the checkpoint reached), so the next run skips it and resumes only
the one that grew; a file renamed by rotation keeps its identity (device, inode,
first line) and is not read twice.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Any

from logloom.config.load import Config
from logloom.errors import InputError, StateFileError
from logloom.outputs.state_store import write_json_atomic
from logloom.parse.parsers import line_parser
from logloom.parse.source import Identity, identify

LEDGER = "fleet_files.json"
LEDGER_VERSION = 1
HEAD_BYTES = 64 << 10
_GLOB = re.compile(r"[*?\[]")


def expand(patterns: tuple[str, ...], config: Config) -> list[Path]:
    """The files of ``patterns``, each once, in time order; InputError when one matches nothing."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        if _GLOB.search(pattern):
            matches = [Path(p) for p in glob.glob(pattern) if os.path.isfile(p)]
            if not matches:
                raise InputError(f"{pattern}: no log file matches")
        else:
            matches = [Path(pattern)]
            if not matches[0].is_file():
                what = "is not a file" if matches[0].exists() else "log file not found"
                raise InputError(f"{pattern}: {what}")
        for path in matches:
            found.setdefault(str(path.resolve()), path.resolve())
    return sorted(found.values(), key=lambda p: _order(p, config))


def _order(path: Path, config: Config) -> tuple[float, int, str]:
    parser = line_parser(config.patterns)  # text or JSON lines
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    parser.timestamps.written_by(mtime // 1000)  # a time without a year is placed by it
    for raw in head.split(b"\n")[:1000]:
        split = parser.split(raw.decode("utf-8", "replace"))
        if not isinstance(split, str):
            return (float(split[0]), mtime, str(path))
    return (float("inf"), mtime, str(path))


class Ledger:
    """The files of a source that ``fleet monitor`` read to their end (versioned JSON)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LEDGER
        self.done: dict[tuple[int, int, str], int] = {}  # identity -> offset reached
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        how_out = f"move {self.path} aside to read every file again (with its data directory)"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("schema_version") != LEDGER_VERSION:
                raise StateFileError(f"{self.path}: schema_version {data.get('schema_version')!r} is not "
                                     f"{LEDGER_VERSION}; {how_out}")
            for entry in data["files"]:
                ident = Identity.from_dict(entry["identity"])
                self.done[ident.device, ident.inode, ident.head] = int(entry["offset"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"{self.path}: unreadable ({exc!r}); {how_out}") from None

    def pending(self, path: Path) -> bool:
        """Whether ``path`` has bytes after the offset a finished run reached in it."""
        ident = identify(path)
        reached = self.done.get((ident.device, ident.inode, ident.head))
        return reached is None or path.stat().st_size > reached

    def new(self, path: Path) -> bool:
        """Whether ``path`` was never read to its end (under any name)."""
        ident = identify(path)
        return (ident.device, ident.inode, ident.head) not in self.done

    def finish(self, path: Path, offset: int) -> None:
        ident = identify(path)
        self.done[ident.device, ident.inode, ident.head] = offset
        files: list[dict[str, Any]] = [
            {"identity": Identity(d, i, h).to_dict(), "offset": o} for (d, i, h), o in self.done.items()
        ]
        write_json_atomic(self.path, {"schema_version": LEDGER_VERSION, "files": files})
