"""A log that can be read only once, as it comes: stdin (``--logs -``) or a pipe.

A stream has no byte offset to come back to, no identity and no rotation: a run
reads it to its end and cannot be resumed from a checkpoint (``main`` says so).
``Stream`` has the interface of ``source.Tail`` that the loop uses: ``next_block``
returns None while nothing complete has arrived yet, and ``follow`` turns False
once the stream has ended and every line (the last one without its newline too)
has been handed out.

Reading never blocks for long: it waits at most ``WAIT_S`` for data, so the loop
checks its stop flag (SIGTERM) in between, and what is there is read at once, up
to a block, so a fast producer (``zcat big.log.gz |``) is read in large blocks.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from logloom.parse.source import BLOCK, Block, Identity, LineReader

STDIN = Path("-")
STDIN_NAME = "<stdin>"
WAIT_S = 0.25


def is_stdin(path: Path) -> bool:
    return str(path) == "-"


def is_stream(path: Path) -> bool:
    """``-``, or a path naming something other than a regular file (a named pipe, a
    character device such as /dev/stdin on a pipe): read as it comes, never sought."""
    if is_stdin(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # opening it reports the error
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def source_name(path: Path) -> str:
    """How a source is named in rejected lines and summaries."""
    return STDIN_NAME if is_stdin(path) else path.name


class _Pipe:
    """The raw file descriptor behind the binary-file methods ``LineReader`` calls.

    ``read`` returns b"" both when nothing has arrived within ``WAIT_S`` and at the
    end of the stream; ``ended`` tells them apart.
    """

    def __init__(self, fd: int, owned: bool) -> None:
        self.fd = fd
        self.owned = owned
        self.ended = False

    def seek(self, offset: int) -> int:
        if offset:
            raise OSError("a stream cannot be sought")
        return 0

    def read(self, size: int = BLOCK) -> bytes:
        if self.ended or not _ready(self.fd, WAIT_S):
            return b""
        chunks: list[bytes] = []
        got = 0
        while got < size:
            data = os.read(self.fd, size - got)
            if not data:
                self.ended = True
                break
            chunks.append(data)
            got += len(data)
            if not _ready(self.fd, 0):
                break
        return b"".join(chunks)

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)


def _ready(fd: int, timeout: float) -> bool:
    readable, _, _ = select.select([fd], [], [], timeout)
    return bool(readable)


class Stream:
    """Blocks of whole lines from a stream, in the shape of ``source.Tail``."""

    seekable = False

    def __init__(self, path: Path, max_line_bytes: int) -> None:
        self.path = path
        if is_stdin(path):
            self._pipe = _Pipe(sys.stdin.fileno(), owned=False)
        else:
            self._pipe = _Pipe(os.open(path, os.O_RDONLY), owned=True)
        st = os.fstat(self._pipe.fd)
        self.identity = Identity(st.st_dev, st.st_ino, "")
        self.reader = LineReader(self._pipe, 0, max_line_bytes)  # type: ignore[arg-type]
        self.follow = True  # until the stream has ended and its last line is out

    @property
    def fh(self) -> BinaryIO:
        return self._pipe  # type: ignore[return-value]

    @property
    def offset(self) -> int:
        return self.reader.offset

    def next_block(self) -> Block | None:
        block = self.reader.read_block(take_partial=self._pipe.ended)
        if block is None and self._pipe.ended:
            block = self.reader.read_block(take_partial=True)  # the last line, without its newline
            if block is None:
                self.follow = False
        return block

    def close(self) -> None:
        self._pipe.close()
