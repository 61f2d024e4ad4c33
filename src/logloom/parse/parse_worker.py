"""Reading and parsing in a second process, so the engine has a core of its own.

The worker reads the log from an offset and runs the same ``BlockParser`` as the
serial path, sending each ``ParsedBlock`` through a pipe. Machine logs repeat
their texts, so most lines cost two integers on the wire. The pipe's buffer is the
backpressure: a block or two in flight, whatever the log's length.

The worker never outlives the process that started it: it holds no copy of the
pipe's reading end (so a write fails once the parent is gone), asks Linux for
SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and ignores SIGTERM and SIGINT,
which the parent handles for both (a service manager signals the whole group).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from logloom.config.schema import LogPatterns
from logloom.parse.budget import BoundedParser
from logloom.parse.log_parser import ParsedBlock
from logloom.parse.source import LineReader, open_source

PR_SET_PDEATHSIG = 1

FIRST_BLOCK = 64 << 10  # the engine waits for the first blocks: small ones start it ~25 ms sooner


def _produce(patterns: LogPatterns, path: Path, offset: int, last_ts: int, max_line: int,
             take_partial: bool) -> Iterator[ParsedBlock]:
    parser = BoundedParser(patterns, last_ts)
    with open_source(path) as fh:
        for block in LineReader(fh, offset, max_line).blocks(take_partial=take_partial, first=FIRST_BLOCK):
            yield from parser.parse(block)


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies (Linux); elsewhere the broken pipe ends the worker."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request was made
        os._exit(0)


def _work(conn: Connection, parent_end: Connection, parent: int, patterns: LogPatterns, path: Path, offset: int,
          last_ts: int, max_line: int, take_partial: bool) -> None:
    parent_end.close()  # a copy of the reading end here would keep the pipe open after the parent's death
    _die_with_parent(parent)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)  # the main process decides when to stop
    try:
        for parsed in _produce(patterns, path, offset, last_ts, max_line, take_partial):
            conn.send(parsed)
        conn.send(None)
    except BaseException:
        conn.send(traceback.format_exc())
    finally:
        conn.close()


class WorkerFailed(RuntimeError):
    """The parse worker raised; carries its traceback."""


class ParsedBlocks:
    """``ParsedBlock``s of ``path`` from ``offset``, parsed in a forked process."""

    def __init__(self, patterns: LogPatterns, path: Path, offset: int, last_ts: int, max_line: int,
                 *, take_partial: bool) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        args = (child, self._conn, os.getpid(), patterns, path, offset, last_ts, max_line, take_partial)
        self._proc = ctx.Process(target=_work, args=args, daemon=True)
        self._proc.start()
        child.close()

    def __iter__(self) -> Iterator[ParsedBlock]:
        while True:
            try:
                item = self._conn.recv()
            except EOFError:
                raise WorkerFailed("the parse worker ended unexpectedly") from None
            if item is None:
                return
            if isinstance(item, str):
                raise WorkerFailed("the parse worker failed:\n" + item)
            yield item

    def close(self) -> None:
        self._conn.close()
        if self._proc.is_alive():
            self._proc.kill()  # it ignores SIGTERM; it has nothing to save
        self._proc.join(timeout=5)
