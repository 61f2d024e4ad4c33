"""A source's logs: a path or a glob, its files in time order, and which are done.

Rotated logs carry dates or numbers in their names that sort in no agreed way, so
files are ordered by the first timestamp among their first lines (read with the
source's own timestamp pattern), then by modification time and name. A file with no
readable timestamp near its start goes by modification time. A gzip file (``FILE.2.gz``)
is read as its content, as ``monitor`` reads it; a ``.gz`` whose uncompressed twin is
matched too (logrotate compressing it) is left out, as ``parse.rotation`` does.

``fleet monitor`` reads the files one after another with ``main.monitor``. Each
file it finished is written down in ``<data>/<name>/fleet_files.json`` (its identity
and the offset the checkpoint reached), so the next run skips it and resumes only
the one that grew; a file renamed by rotation keeps its identity (device, inode,
first line) and is not read twice; one compressed since (a new file) is known by its
first line and the bytes before that offset (``rotation.holds``), and taken into the
ledger under its own identity.
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
from logloom.parse import rotation
from logloom.parse.parsers import line_parser
from logloom.parse.source import Identity, identify, is_gzip, open_source, tail_digest

LEDGER = "fleet_files.json"
LEDGER_VERSION = 2  # 2: the digest of the bytes before each file's offset (``tail``)
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
    files = [p for key, p in found.items() if not (key.endswith(".gz") and key[:-3] in found)]
    return sorted(files, key=lambda p: _order(p, config))


def _order(path: Path, config: Config) -> tuple[float, int, str]:
    parser = line_parser(config.patterns)  # text or JSON lines
    try:
        with open_source(path) as fh:  # a gzip file's content
            head = fh.read(HEAD_BYTES)
        mtime = path.stat().st_mtime_ns
    except rotation.UNREADABLE as exc:
        raise InputError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
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
        # identity -> (offset reached, digest of the bytes before it; None: unknown)
        self.done: dict[tuple[int, int, str], tuple[int, str | None]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        how_out = f"move {self.path} aside to read every file again (with its data directory)"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("schema_version") not in (1, LEDGER_VERSION):  # 1: without ``tail``
                raise StateFileError(f"{self.path}: schema_version {data.get('schema_version')!r} is not "
                                     f"{LEDGER_VERSION}; {how_out}")
            for entry in data["files"]:
                ident = Identity.from_dict(entry["identity"])
                tail = entry.get("tail")
                self.done[ident.device, ident.inode, ident.head] = (int(entry["offset"]),
                                                                     None if tail is None else str(tail))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"{self.path}: unreadable ({exc!r}); {how_out}") from None

    def _reached(self, path: Path) -> int | None:
        """The offset a finished run reached in ``path``, or in the file it is a copy of
        (compressed since: then taken in under its own identity); None: never read to its end."""
        ident = identify(path)
        key = (ident.device, ident.inode, ident.head)
        if key in self.done:
            return self.done[key][0]
        copied = next((done for (device, inode, head), done in self.done.items() if head and head == ident.head
                       and rotation.holds(path, rotation.Saved(Identity(device, inode, head), *done))), None)
        if copied is None:
            return None
        self._write(key, *copied)
        return copied[0]

    def pending(self, path: Path) -> bool:
        """Whether ``path`` has bytes after the offset a finished run reached in it (a gzip
        file, rotated and compressed, does not grow)."""
        reached = self._reached(path)
        return reached is None or (not is_gzip(path) and path.stat().st_size > reached)

    def new(self, path: Path) -> bool:
        """Whether ``path`` was never read to its end (under any name, compressed or not)."""
        return self._reached(path) is None

    def finish(self, path: Path, offset: int) -> None:
        ident = identify(path)
        with open_source(path) as fh:
            tail = tail_digest(fh, offset)
        self._write((ident.device, ident.inode, ident.head), offset, tail)

    def _write(self, key: tuple[int, int, str], offset: int, tail: str | None) -> None:
        self.done[key] = (offset, tail)
        files: list[dict[str, Any]] = [{"identity": Identity(d, i, h).to_dict(), "offset": o, "tail": t}
                                       for (d, i, h), (o, t) in self.done.items()]
        write_json_atomic(self.path, {"schema_version": LEDGER_VERSION, "files": files})
