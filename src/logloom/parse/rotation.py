"""A log's rotated files: where the file a checkpoint was reading went, and what followed it.

logrotate and its kin rename the live file (``FILE.1``, ``FILE-20260121``, with the
extension kept: ``machine-20260121.log``), compress it later (``FILE.2.gz``) or copy
it and truncate the original (copytruncate). The file a checkpoint was reading is
found again by its identity: the same device and inode (renamed), or, for a copy or
a compressed file, the same first line and the same bytes before the checkpoint's
offset. Files rotated after it are taken in the order of their modification times.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logloom.parse.source import TAIL, Identity, identify, open_source

# after the live file's name: ".1", "-20260121", ".2026-01-21_0300", each optionally ".gz"
_AFTER_NAME = re.compile(r"[._-][0-9][0-9._T:-]*(\.gz)?")
_NUMBERED = re.compile(r"\.([0-9]+)(\.gz)?")
UNREADABLE = (OSError, EOFError, zlib.error)  # what reading a damaged .gz raises


@dataclass(frozen=True)
class Saved:
    """What a checkpoint knows of the file it was reading."""

    identity: Identity
    offset: int
    tail: str | None  # digest of the bytes before ``offset`` (source.tail_digest); None: unknown


def candidates(live: Path, globs: Sequence[str] = ()) -> list[Path]:
    """Regular files that may be rotated copies of ``live``, oldest first.

    Looked for beside ``live`` (and beside the file it links to) under the usual
    names, and wherever ``globs`` (relative to ``live``'s folder) point. A ``.gz``
    whose uncompressed twin is still there is skipped (logrotate compressing it).
    """
    found: dict[tuple[int, int], Path] = {}
    bases = {Path(os.path.abspath(live)), live.resolve()}
    for base in sorted(bases):
        for path in _named_like(base):
            _add(found, path)
        for pattern in globs:
            for path in sorted(base.parent.glob(pattern)) if not os.path.isabs(pattern) else _abs_glob(pattern):
                _add(found, path)
    live_id = _dev_ino(live)
    paths = [p for key, p in found.items() if key != live_id]
    names = {p.name for p in paths}
    paths = [p for p in paths if not (p.name.endswith(".gz") and p.name[:-3] in names)]
    return sorted(paths, key=_age_key)


def _named_like(base: Path) -> list[Path]:
    name, stem, ext = base.name, base.stem, base.suffix
    out = []
    try:
        entries = os.listdir(base.parent)
    except OSError:
        return []
    for entry in entries:
        if entry == name:
            continue
        if entry.startswith(name) and _AFTER_NAME.fullmatch(entry[len(name) :]):
            out.append(base.parent / entry)
        elif ext and entry.startswith(stem) and (entry.endswith(ext) or entry.endswith(ext + ".gz")):
            middle = entry[len(stem) :].removesuffix(".gz").removesuffix(ext)
            if middle and _AFTER_NAME.fullmatch(middle):
                out.append(base.parent / entry)
    return out


def _abs_glob(pattern: str) -> list[Path]:
    anchor = Path(pattern).anchor
    return sorted(Path(anchor).glob(pattern[len(anchor) :]))


def _add(found: dict[tuple[int, int], Path], path: Path) -> None:
    try:
        st = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        found.setdefault((st.st_dev, st.st_ino), path)


def _dev_ino(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _age_key(path: Path) -> tuple[int, int, str]:
    """Oldest first: by modification time, then ``.3`` before ``.2``, then by name."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0
    m = _NUMBERED.search(path.name)
    return mtime, -int(m.group(1)) if m else 0, path.name


def holds(path: Path, saved: Saved) -> bool:
    """True when ``path`` is (or is a copy of) the file ``saved`` describes, still
    holding the bytes it had before ``saved.offset``."""
    try:
        st = os.stat(path)
        same_file = (st.st_dev, st.st_ino) == (saved.identity.device, saved.identity.inode)
        if not same_file and not saved.identity.head:
            return False  # nothing to recognise a copy by
        if saved.identity.head and identify(path).head != saved.identity.head:
            return False
        n = min(saved.offset, TAIL)
        with open_source(path) as fh:
            fh.seek(saved.offset - n)
            before = fh.read(n)
    except UNREADABLE:
        return False
    if len(before) < n:
        return False
    if saved.tail is None:  # an older checkpoint: it stopped after a whole line
        return not n or before.endswith(b"\n")
    return hashlib.sha256(before).hexdigest() == saved.tail


def find(saved: Saved, live: Path, globs: Sequence[str] = (), also: Sequence[Path] = ()) -> list[Path] | None:
    """The file ``saved`` was reading, then every file rotated after it, oldest first;
    None when it cannot be found. ``also``: more places to look (the checkpoint's own
    path, when that was not ``live``)."""
    pool = candidates(live, globs)
    extra = [p for p in also if p.is_file() and _dev_ino(p) not in {_dev_ino(q) for q in [*pool, live]}]
    ordered = sorted([*pool, *extra], key=_age_key)
    # the same file (renamed) first, a copy only when the file itself is gone
    by_inode = [p for p in ordered if _dev_ino(p) == (saved.identity.device, saved.identity.inode)]
    for path in [*by_inode, *ordered]:
        if holds(path, saved):
            later = ordered[ordered.index(path) + 1 :]
            return [path, *later]
    return None
