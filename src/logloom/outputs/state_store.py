"""State files as versioned JSON: atomic writes, validated loads, migrations, the lock.

A checkpoint (``machine_state.json``) or crash snapshot is a dict with
``schema_version``; ``load_state`` migrates older versions forward and refuses
anything it does not understand with a ``StateFileError`` that says what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logloom.errors import DataDirBusy, StateFileError

SCHEMA_VERSION = 1
CHECKPOINT = "machine_state.json"
SNAPSHOT_DIR = "snapshots"
SNAPSHOT = "crash_state.json"
LOCK = ".logloom.lock"

_REQUIRED = ("source", "engine", "outputs", "stats", "written_at")


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new file.

    A temp file in the same directory, fsync, rename, then fsync of the directory.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any, *, sort_keys: bool = True, allow_nan: bool = True) -> None:
    """``write_bytes_atomic`` of ``data`` as indented JSON with a final newline."""
    text = json.dumps(data, indent=1, sort_keys=sort_keys, allow_nan=allow_nan) + "\n"
    write_bytes_atomic(Path(path), text.encode("utf-8"))


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (where the platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# version -> function turning a dict of that version into the next one. A new
# version adds its step here and a fixture of the old one under tests/fixtures/.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def load_state(path: Path) -> dict[str, Any]:
    """Read and validate a checkpoint or snapshot, migrating it to the current version."""
    how_out = f"move {path} aside to start from the beginning of the log"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateFileError(f"{path}: unreadable state file ({exc}); {how_out}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("schema_version"), int):
        raise StateFileError(f"{path}: not a logloom state file (no schema_version); {how_out}")
    version = data["schema_version"]
    if version > SCHEMA_VERSION:
        raise StateFileError(
            f"{path}: schema_version {version} is newer than this logloom understands "
            f"({SCHEMA_VERSION}); upgrade logloom or {how_out}"
        )
    while version < SCHEMA_VERSION:
        migrate = _MIGRATIONS.get(version)
        if migrate is None:
            raise StateFileError(f"{path}: schema_version {version} cannot be migrated; {how_out}")
        data = migrate(data)
        version = data["schema_version"]
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise StateFileError(f"{path}: missing {', '.join(missing)}; {how_out}")
    try:
        _check_shape(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFileError(f"{path}: malformed state ({exc!r}); {how_out}") from exc
    return data


def _check_shape(data: dict[str, Any]) -> None:
    src = data["source"]
    int(src["offset"])
    int(src["line_no"])
    str(src["path"])
    for comp in data["engine"]["components"]:
        str(comp["id"])
        str(comp["state"])
        if comp["entered"] is not None:
            int(comp["entered"])
    for name, size in data["outputs"].items():
        if not isinstance(name, str) or int(size) < 0:
            raise ValueError(f"bad output length {name}={size}")


class DataLock:
    """One writer per data directory: an advisory OS lock, released when the process dies.

    Only one file descriptor of the lock file may be opened per process: closing any
    of them drops a POSIX lock.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # a POSIX record lock belongs to this process alone: a forked parse worker
            # does not inherit it, so a killed monitor never leaves it held
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise DataDirBusy(
                f"{self.path.parent} is in use by another logloom process"
                + (f" (pid {holder})" if holder else "")
                + "; stop it first or use another --data directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
