"""Stopping a run cleanly: SIGTERM/SIGINT in the main thread, ``request_stop`` elsewhere.

The loop checks its ``Stop`` between blocks; a stop flushes, checkpoints and returns.
Signals reach only the main thread, so a run in another thread (a fleet's Dask
worker runs tasks in threads) is stopped by ``request_stop``.

A stop is prompt whatever the run is on: while the loop *waits* for a block
(reading, matching a line, the parse worker's pipe; ``Stop.interruptible``) the
signal handler raises ``StopNow`` there and then, so neither a line that takes
forever to match nor an endless input keeps a run from stopping within a second.
Work that changes state (the engine, the outputs) is never interrupted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopNow(BaseException):
    """Raised by the signal handler inside ``Stop.interruptible`` (a stop, not an error)."""


class Stop:
    """Set by SIGTERM/SIGINT (or ``request_stop``); the loop checks it between blocks and
    shuts down cleanly."""

    def __init__(self) -> None:
        self.requested = False
        self._waiting = 0

    def request(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.requested = True
        if self._waiting and signum:  # a signal, in the main thread: interrupt the wait
            raise StopNow

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Where a stop by signal raises ``StopNow`` at once (waiting for input)."""
        if self.requested:
            raise StopNow
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1


_RUNNING: set[Stop] = set()  # the runs of this process, for request_stop


def request_stop() -> None:
    """Stop every run of this process at its next block, as SIGTERM stops one: flush,
    checkpoint, return. For runs in a thread (a fleet's worker), where signals do not go."""
    for stop in list(_RUNNING):
        stop.request()


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """SIGTERM/SIGINT request a clean stop; only the main thread can take signals, so a
    run in another thread is stopped by ``request_stop``."""
    stop = Stop()
    _RUNNING.add(stop)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, stop.request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _RUNNING.discard(stop)
