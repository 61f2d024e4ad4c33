"""Reading and parsing in a second process, so the engine has a core of its own.

The worker is a fresh interpreter that imports the parse stage only (numpy,
Hyperscan, ``logloom.parse``): not a fork of the main process, whose pydantic
models, engine and outputs it would carry for nothing (its memory counts with the
run's). It gets its job (``ParseRules``, the file, the offset, the timestamp
parser's memory) pickled on stdin, reads the log from that offset, runs the same
parser as the serial path (``BoundedParser``: the matching bound included) and
writes each ``ParsedBlock`` pickled to stdout, then None; a traceback (a str) if it
fails. Machine logs repeat their texts, so most lines cost two integers on the
wire. The pipe is the backpressure: a block or two in flight, whatever the log's
length.

The worker never outlives the process that started it: only that process holds
the pipe's reading end (so a write fails once it is gone), Linux sends the worker
SIGKILL when it dies (``PR_SET_PDEATHSIG``), and the worker ignores SIGTERM and
SIGINT, which the main process handles for both (a service manager signals the
whole group).

A run that will want a worker can start one before it loads its configs
(``prestart``): the new interpreter imports numpy and Hyperscan meanwhile and waits
for its job; a standby no run took is ended (``discard_standby``). This module
imports the parse stage only in the worker, so starting one costs the caller nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import stat
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from logloom.parse.rules import ParseRules

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns
    from logloom.parse.log_parser import ParsedBlock

PARALLEL_MIN_BYTES = 8 << 20  # below this a second process costs more than it saves
PR_SET_PDEATHSIG = 1
FIRST_BLOCK = 64 << 10  # the engine waits for the first blocks: small ones start it ~25 ms sooner
PIPE_BYTES = 1 << 20  # the pipe holds a parsed block or so: the worker runs a little ahead
GC_YOUNG = 50_000
_F_SETPIPE_SZ = 1031  # fcntl's F_SETPIPE_SZ (Linux)
_HERE = str(Path(__file__).resolve().parents[2])  # the directory this logloom was imported from
# -P: no working directory on the path; this logloom first if the interpreter would not find it;
# the signals ignored before anything is imported
_SERVE = ("import signal\nfor s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
          f"import sys\nif {_HERE!r} not in sys.path: sys.path.insert(0, {_HERE!r})\n"
          "from logloom.parse.parse_worker import serve\nserve(int(sys.argv[1]))")


def _produce(rules: ParseRules, path: Path, offset: int, last_ts: int, take_partial: bool) -> Iterator[ParsedBlock]:
    from logloom.parse.budget import BoundedParser
    from logloom.parse.source import LineReader, open_source

    parser = BoundedParser(rules, last_ts)
    with open_source(path) as fh:
        reader = LineReader(fh, offset, rules.max_line_bytes)
        for block in reader.blocks(take_partial=take_partial, first=FIRST_BLOCK):
            yield from parser.parse(block)


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies (Linux); elsewhere the broken pipe ends the worker."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request was made
        os._exit(0)


def serve(parent: int, source: IO[bytes] | None = None, sink: IO[bytes] | None = None) -> None:
    """The worker's main: the job from ``source`` (stdin), the parsed blocks to ``sink`` (stdout,
    kept for them alone: anything a library prints goes to stderr)."""
    _die_with_parent(parent)
    source = source or sys.stdin.buffer
    if sink is None:
        sink = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    import logloom.parse.budget  # noqa: F401  (numpy, Hyperscan: a standby loads them before its job comes)

    # the parser makes a tuple and a dict per new text: what start-up built is kept out of
    # every collection, and the young generation is collected every GC_YOUNG objects, not
    # 700 (as the main process does: lifecycle/feed.py)
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])

    try:
        job = pickle.load(source)
    except EOFError:
        return  # a standby no run took
    try:
        rules, path, offset, last_ts, take_partial = job
        for parsed in _produce(rules, path, offset, last_ts, take_partial):
            pickle.dump(parsed, sink, pickle.HIGHEST_PROTOCOL)
            sink.flush()
        pickle.dump(None, sink)
        sink.flush()
    except BrokenPipeError:
        pass  # the main process is gone or stopped reading: nothing left to do
    except BaseException:
        with contextlib.suppress(BrokenPipeError):
            pickle.dump(traceback.format_exc(), sink)
            sink.flush()


class WorkerFailed(RuntimeError):
    """The parse worker raised, or ended without finishing; carries its traceback."""


_standby: subprocess.Popen[bytes] | None = None


def _spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-P", "-c", _SERVE, str(os.getpid())], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)


def prestart(path: Path, *, parallel: bool | None, follow: bool) -> None:
    """Start a worker for ``path`` now if a run of it will likely want one (a regular file
    of ``PARALLEL_MIN_BYTES`` or more, 2+ cores, not followed; or ``--parallel``)."""
    global _standby
    if _standby is not None or parallel is False or follow:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        return
    if parallel or (st.st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2):
        _standby = _spawn()


def discard_standby() -> None:
    """End a standby worker no run took (its job never comes: it reads the end of stdin)."""
    global _standby
    proc, _standby = _standby, None
    if proc is not None:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _take() -> subprocess.Popen[bytes]:
    """The standby worker if there is one still waiting, else a new one."""
    global _standby
    proc, _standby = _standby, None
    if proc is not None and proc.poll() is None:
        return proc
    return _spawn()


class ParsedBlocks:
    """``ParsedBlock``s of ``path`` from ``offset``, parsed in a worker process."""

    def __init__(self, patterns: LogPatterns | ParseRules, path: Path, offset: int, last_ts: int,
                 max_line: int | None = None, *, take_partial: bool) -> None:
        rules = ParseRules.of(patterns, max_line)
        self._proc = _take()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._out = self._proc.stdout
        _widen(self._out)
        with self._proc.stdin as stdin:
            pickle.dump((rules, Path(path).absolute(), offset, last_ts, take_partial), stdin,
                        pickle.HIGHEST_PROTOCOL)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The worker's exit status once it ended (after ``close``), else None."""
        return self._proc.returncode

    def __iter__(self) -> Iterator[ParsedBlock]:
        while True:
            try:
                item = pickle.load(self._out)
            except (EOFError, pickle.UnpicklingError):
                raise WorkerFailed(f"the parse worker ended unexpectedly (exit status {self._proc.wait()})") \
                    from None
            if item is None:
                return
            if isinstance(item, str):
                raise WorkerFailed("the parse worker failed:\n" + item)
            yield item

    def close(self) -> None:
        self._out.close()
        if self._proc.poll() is None:
            self._proc.kill()  # it ignores SIGTERM; it has nothing to save
        self._proc.wait(timeout=5)


def _widen(pipe: Any) -> None:
    """A larger pipe buffer where the OS allows it (Linux); the default 64 KiB also works."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError):
        pass
