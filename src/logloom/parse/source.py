"""Reading a log file as byte blocks of whole lines, with exact byte offsets.

Lines are split on b"\\n" only; a UTF-8 byte order mark at the start of a file (or
stream) is dropped from its first line; a line longer than ``max_line_bytes`` is never held
whole: its first bytes are kept for the rejected-lines log and the rest skipped.
A file is known by its ``Identity`` (device, inode and a hash of its first line),
never by how its path is spelt. A gzip file (a rotated log) reads as its content;
a stream (FIFO, character device) reads from where it is, without seeking.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from logloom.errors import InputError

BLOCK = 1 << 20
KEEP_OF_LONG_LINE = 200
TAIL = 256  # bytes before an offset whose digest tells that the file still holds what was read
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which Windows writers put at the start of a file
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Identity:
    """What tells a log file apart from its replacement (SPEC 7)."""

    device: int
    inode: int
    head: str  # sha256 of the first line (up to 4 KiB), "" for an empty file

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "inode": self.inode, "head": self.head}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identity:
        return cls(int(d["device"]), int(d["inode"]), str(d["head"]))


def open_log(path: Path) -> BinaryIO:
    """``path`` opened for reading; InputError (exit 2) naming what is wrong otherwise."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: log file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def identify(path: Path) -> Identity:
    with open_source(path) as fh:
        return identity_of(fh)


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError:
        return False


class _GzipLog(gzip.GzipFile):
    """A gzip log whose damage (cut short, corrupt) is the user's to fix: InputError (exit 2)
    naming the file, never an EOFError, which the command line would take for Ctrl-D."""

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(f"{self.name}: the compressed log is damaged (cut short or corrupt) after {self.tell()} "
                             f"bytes of its content: {exc}") from None


def open_source(path: Path) -> BinaryIO:
    """The file's bytes: a gzip file decompressed, anything else as it is (a pipe is
    never peeked into)."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = False
    if regular and is_gzip(path):
        return _GzipLog(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_range(fh: BinaryIO, start: int, length: int) -> bytes:
    """``length`` bytes of the (decompressed) file from ``start``, without moving ``fh``."""
    if isinstance(fh, gzip.GzipFile):
        with _GzipLog(fh.name, "rb") as again:
            again.seek(start)
            return again.read(length)
    return os.pread(fh.fileno(), length, start)


def tail_digest(fh: BinaryIO, offset: int) -> str | None:
    """A digest of the ``TAIL`` bytes before ``offset`` (None: fewer are there, or a gzip
    file, where reading them back means decompressing from the start)."""
    if isinstance(fh, gzip.GzipFile):
        return None
    n = min(offset, TAIL)
    data = read_range(fh, offset - n, n)
    return hashlib.sha256(data).hexdigest() if len(data) == n else None


@dataclass
class Block:
    """Consecutive whole lines (without b"\\n") starting at byte ``start``.

    ``long`` maps the index of an over-long line to its real length in bytes
    (``lines[i]`` then holds only its first bytes).
    """

    start: int
    lines: list[bytes]
    long: dict[int, int] = field(default_factory=dict)
    end: int = 0  # byte offset after the last line
    written: int | None = None  # UTC µs by which the lines were written (a year-less timestamp's anchor)
    raw: bytes | None = None  # the lines joined by b"\\n", when the reader has them so (saves a join)

    def joined(self) -> bytes:
        """The lines joined by b"\\n"."""
        return self.raw if self.raw is not None else b"\n".join(self.lines)

    def texts(self) -> list[str]:
        """The lines decoded (invalid UTF-8 replaced), a trailing ``\\r`` dropped.

        Decoding the block at once is several times faster than line by line, and the
        same: a newline is never part of an invalid UTF-8 sequence.
        """
        text = self.joined().decode("utf-8", "replace")
        texts = text.split("\n")
        if len(texts) != len(self.lines):  # cannot happen: lines hold no newline
            raise AssertionError("line split mismatch")
        if "\r\n" in text or text.endswith("\r"):
            texts = [t[:-1] if t.endswith("\r") else t for t in texts]
        return texts


class LineReader:
    """Yields ``Block``s from ``offset`` on. At EOF a final line with no newline is
    returned only when ``take_partial`` (batch runs); follow mode leaves it for later.
    """

    def __init__(self, fh: BinaryIO, offset: int = 0, max_line_bytes: int = 1 << 20) -> None:
        self.fh = fh
        self.offset = offset
        self.max_line = max_line_bytes
        self._pending = b""  # bytes read past the last newline
        self._skipping = 0  # > 0: inside an over-long line, this many bytes seen
        self._long_head = b""
        if offset:
            fh.seek(offset)  # a stream starts where it is (offset 0)

    def read_block(self, *, take_partial: bool, size: int = BLOCK) -> Block | None:
        """The next block of whole lines, or None when nothing complete is there yet."""
        start = self.offset
        consumed = 0  # bytes from ``start`` that the block's lines (and newlines) cover
        lines: list[bytes] = []
        long: dict[int, int] = {}
        raw: bytes | None = None  # the lines joined, where they come from one piece
        while not lines:
            chunk = self.fh.read(size)
            if not chunk:
                break
            if self._skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    self._skipping += len(chunk)
                    continue
                long[0] = self._skipping + nl
                consumed += self._skipping + nl + 1
                lines.append(self._long_head)
                self._skipping = 0
                chunk = chunk[nl + 1 :]
            data = self._pending + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                self._pending = data
            else:
                self._pending = data[cut + 1 :]
                head = data[:cut]
                raw = head if not lines else None
                lines.extend(head.split(b"\n"))
                consumed += cut + 1
            # a byte order mark at the file's start is not the first line's (it is dropped below)
            mark = len(BOM) if start + consumed == 0 and self._pending.startswith(BOM) else 0
            if len(self._pending) - mark > self.max_line:
                self._skipping = len(self._pending)
                self._long_head = self._pending[: KEEP_OF_LONG_LINE + mark]
                self._pending = b""
        bom_only = start == 0 and self._pending == BOM  # a file of a byte order mark: no line yet
        if not lines and take_partial and (self._pending or self._skipping) and not bom_only:
            if self._skipping:
                long[0] = consumed = self._skipping
                lines.append(self._long_head)
                self._skipping = 0
            else:
                consumed = len(self._pending)
                lines.append(self._pending)
                raw = self._pending
            self._pending = b""
        if not lines:
            return None
        if start == 0 and lines[0].startswith(BOM):
            lines[0] = lines[0][len(BOM):]  # not text of the first line (its bytes still count in the offsets)
            raw = None
        if (raw is None or len(raw) > self.max_line) and max(map(len, lines)) > self.max_line:
            raw = None
            for i, line in enumerate(lines):
                if len(line) > self.max_line and i not in long:
                    long[i] = len(line)
                    lines[i] = line[:KEEP_OF_LONG_LINE]
        self.offset = end = start + consumed
        return Block(start, lines, long, end, _written(self.fh), raw)

    def blocks(self, *, take_partial: bool = True, first: int = BLOCK) -> Iterator[Block]:
        """Every block to the end. The first reads ``first`` bytes and each next one 10 %
        more, up to ``BLOCK``: a consumer that waits for the blocks starts sooner, and
        while it works on one block the next, only a little larger, is made."""
        size = first
        while True:
            block = self.read_block(take_partial=take_partial, size=size)
            if block is None:
                return
            yield block
            size = min(BLOCK, size + size // 10)


def _written(fh: BinaryIO) -> int | None:
    """When what was just read from ``fh`` had been written by: a file's modification
    time, or now for a stream (None when ``fh`` is not an OS file)."""
    try:
        st = os.fstat(fh.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return st.st_mtime_ns // 1000 if stat.S_ISREG(st.st_mode) else time.time_ns() // 1000


def identity_of(fh: BinaryIO) -> Identity:
    """The identity of the open file ``fh`` (of its content, for a gzip file)."""
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode):
        return Identity(st.st_dev, st.st_ino, "")
    first = read_range(fh, 0, 4096)
    line, nl, _ = first.partition(b"\n")
    head = hashlib.sha256(line + nl).hexdigest() if nl or len(first) == 4096 else ""
    return Identity(st.st_dev, st.st_ino, head)
