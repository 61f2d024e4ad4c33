"""A log file read from an offset, optionally followed like ``tail -F``.

Without ``follow``, ``next_block`` returns None at the end of the file; a final line
without newline is returned only with ``take_partial``. With ``follow`` it returns
None when nothing complete is there *yet*, and notices:

- rotation (the path now names another file): the old file is read to its end
  first, so lines written before the rename are not lost, then the new file is
  read from its start;
- truncation in place (copytruncate), also when the file has grown past the old
  offset again before the next look: the file's first line and the bytes before the
  offset are checked before and after every read, not only its size. The rest of
  the old content is read from the copy when one is found beside it, then the file
  again from its start.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from logloom.parse import rotation
from logloom.parse.source import TAIL, Block, Identity, LineReader, identity_of, open_source, read_range, tail_digest


class Tail:
    """One log: ``path`` is the name followed, ``file`` the file being read now
    (``path`` itself, or a rotated predecessor or copy being finished)."""

    def __init__(self, path: Path, offset: int, *, follow: bool, max_line_bytes: int,
                 notify: Callable[[str], None], take_partial: bool = True, file: Path | None = None,
                 rotated_globs: Sequence[str] = ()) -> None:
        self.path = path
        self.follow = follow
        self.take_partial = take_partial and not follow
        self.max_line = max_line_bytes
        self.notify = notify
        self.globs = rotated_globs
        self.file = file or path
        self.fh: BinaryIO = open_source(self.file)
        self.identity = identity_of(self.fh)
        self.reader = LineReader(self.fh, offset, max_line_bytes)
        self._draining = False  # reading an old file to its end before going back to ``path``
        # an offset read up to, and the bytes before it (to tell a truncated and rewritten file)
        self._mark = (offset, self._bytes_before(offset) if follow else b"")

    @property
    def offset(self) -> int:
        return self.reader.offset

    def next_block(self) -> Block | None:
        if not self.follow:
            return self.reader.read_block(take_partial=self.take_partial)
        if self._draining:
            block = self.reader.read_block(take_partial=True)
            if block is not None:
                return block
            self._open(self.path, 0, draining=False)
            self.notify(f"{self.path}: rotated; reading the new file from its start")
        elif self._rewritten():
            return self._after_truncation()
        block = self.reader.read_block(take_partial=False)
        if block is None:
            return self._check_rotation()
        if self._rewritten():  # truncated while it was read: what was read is not the old content
            return self._after_truncation()
        self._mark = (block.end, self._bytes_before(block.end))
        return block

    def _bytes_before(self, offset: int) -> bytes:
        n = min(offset, TAIL)
        return read_range(self.fh, offset - n, n) if n else b""

    def _rewritten(self) -> bool:
        """True when the open file no longer holds what was read from it (truncated
        in place, perhaps written again past the offset)."""
        offset, before = self._mark
        size = os.fstat(self.fh.fileno()).st_size
        if size < self.reader.offset:
            return True
        if not self.identity.head:
            if size > 0:
                self.identity = identity_of(self.fh)  # the first line has arrived
            return False
        return identity_of(self.fh).head != self.identity.head or self._bytes_before(offset) != before

    def _after_truncation(self) -> Block | None:
        offset, before = self._mark
        digest = hashlib.sha256(before).hexdigest() if len(before) == min(offset, TAIL) else None
        found = rotation.find(rotation.Saved(self.identity, offset, digest), self.path, self.globs)
        if found:
            self.notify(f"{self.path}: truncated; reading the rest of its old content from {found[0]} first")
            self._open(found[0], offset, draining=True)
        else:
            self.notify(f"{self.path}: truncated; reading it again from its start (no copy of its old content "
                        "was found beside it)")
            self._open(self.path, 0, draining=False)
        return None

    def _check_rotation(self) -> Block | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None  # rotated away, the new file not created yet
        mine = os.fstat(self.fh.fileno())
        if (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
            # drain what was written to the old file before its rename, newline or not
            self._draining = True
            return self.next_block()
        return None

    def _open(self, file: Path, offset: int, *, draining: bool) -> None:
        self.fh.close()
        self.file = file
        self.fh = open_source(file)
        self.identity = identity_of(self.fh)
        self.reader = LineReader(self.fh, offset, self.max_line)
        self._draining = draining
        self._mark = (offset, self._bytes_before(offset))

    def read_range(self, start: int, length: int) -> bytes:
        """Bytes of the file being read (for a crash's offset inside a block)."""
        return read_range(self.fh, start, length)

    def tail_digest(self, offset: int) -> str | None:
        return tail_digest(self.fh, offset)

    def identity_of_file(self) -> Identity:
        return self.identity

    def close(self) -> None:
        self.fh.close()
