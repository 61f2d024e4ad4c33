"""What feeds the loop: the parsed blocks of one file or stream.

``Blocks`` yields ``ParsedBlock``s of one file from an offset (followed or not), or
of a stream as it comes, from the parse worker or parsed here under the matching
bound (``parse.budget``). The loop waits for them inside ``Stop.interruptible``
(``stopping``), so a signal stops the wait at once.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from logloom.config.load import Config
from logloom.lifecycle.resume import Segment
from logloom.parse.budget import BoundedParser
from logloom.parse.log_parser import ParsedBlock
from logloom.parse.parse_worker import PARALLEL_MIN_BYTES
from logloom.parse.source import Identity, read_range
from logloom.parse.stream import Stream, is_stream
from logloom.parse.tail import Tail
from logloom.run import RunOptions

if TYPE_CHECKING:
    from logloom.parse.parse_worker import ParsedBlocks

GC_YOUNG_THRESHOLD = 50_000  # new container objects between collections (CPython's default: 700)


@contextmanager
def long_run_gc() -> Iterator[None]:
    """Garbage collection tuned for the loop, which makes millions of short-lived tuples.

    CPython starts a collection every 700 new container objects and, every so often,
    walks every object alive: the modules, pydantic's models and numpy included.
    That was a third of the main process's time. What start-up built is frozen
    (``gc.freeze``: kept out of every collection), and the young generation is
    collected every 50 000 new objects; reference cycles are still collected.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def file_size(path: Path) -> int:
    """Bytes in ``path`` (0 for a stream, which has no size)."""
    if is_stream(path):
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _use_worker(options: RunOptions, path: Path, remaining: int, follow: bool) -> bool:
    if follow or options.parallel is False or is_stream(path):  # a stream has one reader: this process
        return False
    if options.parallel:
        return True
    return remaining >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2


class Blocks:
    """Parsed blocks of one file from an offset: from the worker, or parsed here.

    ``take_partial``: also a last line that has no newline (record and a rotated
    file do; monitor leaves it on the live file until it is complete, so that a
    growing file is read exactly once). ``tail`` stays open on the file being read
    (for crash offsets and the checkpoint's identity of it). A stream (stdin, a
    pipe) is read as it comes, to its end, and has no offset to come back to.
    """

    def __init__(self, config: Config, options: RunOptions, live: Path, segment: Segment, last_ts: int | None,
                 notify: Callable[[str], None], *, take_partial: bool, follow: bool = False) -> None:
        max_line = config.patterns.max_line_bytes
        self.stream = is_stream(segment.path)
        self.tail: Tail | Stream
        if self.stream:
            self.tail = Stream(segment.path, max_line)
        else:
            self.tail = Tail(live, segment.offset, follow=follow, max_line_bytes=max_line, notify=notify,
                             take_partial=take_partial, file=segment.path, rotated_globs=options.rotated)
        self.file = segment.path
        self.worker: ParsedBlocks | None = None
        if _use_worker(options, segment.path, file_size(segment.path) - segment.offset, follow):
            from logloom.parse.parse_worker import ParsedBlocks  # for large files only

            self.worker = ParsedBlocks(config.patterns, segment.path, segment.offset, last_ts or -(1 << 62),
                                       max_line, take_partial=take_partial)
        self.parser = BoundedParser(config.patterns, last_ts) if self.worker is None else None

    @property
    def identity(self) -> Identity:
        return self.tail.identity

    def position(self, offset: int) -> tuple[Path, Identity, str | None]:
        """The file being read, its identity and the digest of the bytes before ``offset``."""
        if isinstance(self.tail, Stream):
            return self.file, self.tail.identity, None
        return self.tail.file, self.tail.identity, self.tail.tail_digest(offset)

    def read_range(self, start: int, length: int) -> bytes:
        return read_range(self.tail.fh, start, length)

    def __iter__(self) -> Iterator[ParsedBlock | None]:
        """Blocks in order; following, None when nothing new is there yet."""
        if self.worker is not None:
            yield from self.worker
            return
        while True:
            block = self.tail.next_block()
            if block is None and not self.tail.follow:
                return
            if block is None:
                yield None
            else:
                assert self.parser is not None
                yield from self.parser.parse(block)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.tail.close()
