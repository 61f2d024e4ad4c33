"""State files as versioned JSON: atomic writes, validated loads, migrations, the lock.

A checkpoint (``machine_state.json``) or crash snapshot is a dict with
``schema_version`` and a ``checksum`` of its own content; ``load_state`` migrates
older versions forward and refuses anything it does not understand, or that was
edited by hand, with a ``StateFileError`` that says what to do.

Nothing here writes through a symlink: files are replaced by ``rename`` (which
replaces a link, never its target) or opened with ``O_NOFOLLOW``, and a directory
logloom makes inside ``--data`` must not be a link. A write the environment refuses
(read-only, full disk) is an ``OutputError`` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logloom.errors import DataDirBusy, OutputError, StateFileError

SCHEMA_VERSION = 2
CHECKPOINT = "machine_state.json"
SNAPSHOT_DIR = "snapshots"
SNAPSHOT = "crash_state.json"
LOCK = ".logloom.lock"
TAIL_BYTES = 256  # the bytes before a recorded end whose digest a checkpoint keeps

_REQUIRED = ("source", "engine", "outputs", "stats", "written_at")
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def output_error(path: Path, exc: OSError) -> OutputError:
    """The one-line error of a write the environment refused."""
    if exc.errno == errno.ELOOP:
        return OutputError(f"{path}: is a symlink; logloom never writes through a link in its data "
                           "directory (remove the link)")
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def open_for_write(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` for writing that refuses a symlink and anything but a regular file."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as exc:
        raise output_error(path, exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputError(f"{path}: not a regular file; logloom writes only regular files there (move it away)")
    os.set_blocking(fd, True)
    return fd


def ensure_dir(path: Path) -> Path:
    """Create the directory ``path`` (and its parents); refuse it if it is a symlink."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: exists and is not a directory") from None
    except OSError as exc:
        raise output_error(path, exc) from None
    if path.is_symlink():
        raise OutputError(f"{path}: is a symlink; logloom never writes through a link in its data "
                          "directory (remove the link)")
    return path


def tail_digest(data: bytes) -> str:
    """The digest a checkpoint keeps of the bytes just before a recorded end."""
    return hashlib.sha256(data[-TAIL_BYTES:]).hexdigest()


def state_checksum(data: dict[str, Any]) -> str:
    """sha256 of a state's canonical JSON without its ``checksum`` key."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, allow_nan=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint or snapshot atomically, sealed with its checksum."""
    write_json_atomic(path, {**state, "checksum": state_checksum(state)})


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new file.

    A temp file in the same directory, fsync, rename, then fsync of the directory.
    The rename replaces a symlink at ``path`` itself, never what it points at. An
    ``OSError`` (read-only, full disk) becomes an ``OutputError`` naming ``path``.
    """
    tmp: str | None = None
    try:
        fd, tmp = _create_temp(path)
        with os.fdopen(fd, "wb", buffering=0) as fh:
            view = memoryview(payload)
            while view:
                view = view[fh.write(view) or 0 :]
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise output_error(path, exc) from None
    except BaseException:
        _discard(tmp)
        raise
    fsync_dir(path.parent)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new temp file beside ``path``, with the permissions the umask gives a new file
    (``tempfile.mkstemp`` makes it private, 0600, and the rename would keep that)."""
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new directory in ``parent`` with the permissions the umask gives (``tempfile.mkdtemp``
    makes it private, 0700, and renaming it into place would keep that)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


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


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds digests of the bytes before each recorded end (source and outputs)
    and the checksum; a version 1 state has none, so none are checked."""
    source = dict(data.get("source", {}))
    source.setdefault("tail", None)
    return {**data, "source": source, "output_tails": {}, "schema_version": 2}


# version -> function turning a dict of that version into the next one. A new
# version adds its step here and a fixture of the old one under tests/fixtures/.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def load_state(path: Path) -> dict[str, Any]:
    """Read and validate a checkpoint or snapshot, migrating it to the current version."""
    how_out = START_OVER.format(state=path)
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
    if version >= 2 and data.get("checksum") != state_checksum(data):
        raise StateFileError(f"{path}: edited since logloom wrote it (its checksum does not match), so it "
                             f"cannot be trusted to say where the log and the outputs stand; restore it, or {how_out}")
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
    for key in ("offset", "line_no"):
        if int(src[key]) < 0:
            raise ValueError(f"negative {key} {src[key]}")
    str(src["path"])
    for comp in data["engine"]["components"]:
        str(comp["id"])
        str(comp["state"])
        if comp["entered"] is not None:
            int(comp["entered"])
    for name, size in data["outputs"].items():
        if not isinstance(name, str) or int(size) < 0:
            raise ValueError(f"bad output length {name}={size}")
    for name, digest in data["output_tails"].items():
        if name not in data["outputs"] or not isinstance(digest, str):
            raise ValueError(f"bad output digest {name}={digest}")


START_OVER = ("to start over, run `logloom monitor --from-start`: it moves {state} and the outputs beside it "
              "to runs/<time>/ (nothing is deleted) and reads the log from its start")


class DataLock:
    """One writer per data directory: an advisory OS lock, released when the process dies.

    Only one file descriptor of the lock file may be opened per process: closing any
    of them drops a POSIX lock. The lock file is opened with ``O_NOFOLLOW``: a symlink
    planted in its place is refused, never truncated through.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_dir(self.path.parent)
        fd = open_for_write(self.path, os.O_RDWR | os.O_CREAT)
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
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise output_error(self.path, exc) from None
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


def lock_holder(data_dir: Path) -> int | None:
    """The pid of the process that holds ``data_dir``'s lock, or None when it is free.

    Only for a process that does not hold the lock itself (closing the descriptor
    opened here would drop its own lock).
    """
    try:
        fd = os.open(Path(data_dir) / LOCK, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        return None
    finally:
        os.close(fd)
