"""Where the user asks an output file to go: its folder must exist.

Every command that writes a file the user names (``--viz-save``, ``report --out``,
``simulate --out``) refuses a folder that does not exist, with the same message,
rather than creating it: a mistyped path must not leave a stray folder behind
(the data directory, logloom's own, is the one that is created).
"""

from __future__ import annotations

from pathlib import Path

from logloom.errors import InputError


def require_folder(path: Path, option: str) -> None:
    """InputError unless the folder ``path`` goes into exists (and ``path`` is no folder)."""
    if path.is_dir():
        raise InputError(f"{option} {path}: is a directory; name a file in it")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise InputError(f"{option} {path}: the folder {folder} {what}; create it first or name another")
