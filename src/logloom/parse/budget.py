"""A bound on the time matching a line may take (``max_match_seconds``).

A pattern such as ``(a+)+b`` backtracks exponentially on a line that almost
matches; ``validate`` warns about such patterns, and this is what holds at run time.
Python's ``re`` checks for signals while it matches, so a timer interrupts it. The
budget is CPU time of the parsing thread (``time.thread_time``: not time spent
waiting, stopped or on other threads, whatever the machine's load): a wall-clock
timer (``ITIMER_REAL``, which fires reliably, unlike the kernel's tick-sampled CPU
timers on a busy machine) goes off after the budget, and the handler raises only
when the thread has really used it, else sets itself for the rest.

A block is parsed under one timer, so a block costs a few system calls, not a few a
line. When the block's time runs out, it is parsed again a line at a time, each line
under its own timer; a line that runs out is tried once more (the first time may
have been a garbage collection) and then rejected with that reason; the others give
exactly what they would have. A block's time is twice a line's, or eight times what
blocks took on this machine lately, whichever is more; a block that ran out of time
with no line to blame doubles the first: a slow machine (or a profiler) does not
send every block through the line-by-line path, and a hostile line does not buy the
next one more time. A parser interrupted half-way is thrown away and a fresh one
goes on (its result table restarts, which the reader follows: ``first_new_id == 0``).

The timer needs the main thread (where Python runs signal handlers); elsewhere
blocks are parsed without a bound.
"""

from __future__ import annotations

import signal
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from logloom.parse.log_parser import ParsedBlock
from logloom.parse.parsers import block_parser
from logloom.parse.source import Block

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns
    from logloom.parse.rules import ParseRules

BLOCK_BUDGET_FACTOR = 2  # a whole block may take this many lines' budgets before lines are timed one by one
SLOW_FACTOR = 8  # ... or this many times what a block of its size has taken here lately (a slow machine)
MAX_BLOCK_S = 60.0  # what doubling the floor after blocks that were only slow stops at

T = TypeVar("T")


class OutOfTime(Exception):
    """The timer ran out while a bounded call ran."""


_deadline: float | None = None  # time.thread_time() at which the armed budget runs out
_MIN_WAIT_S = 0.005


def _on_timer(signum: int, frame: FrameType | None) -> None:
    if _deadline is None:
        return
    left = _deadline - time.thread_time()
    if left > 0:  # waiting, stopped or preempted: not computing
        signal.setitimer(signal.ITIMER_REAL, max(left, _MIN_WAIT_S))
        return
    raise OutOfTime


def can_bound() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _cpu_budget(seconds: float) -> Iterator[None]:
    global _deadline
    _deadline = time.thread_time() + seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        _deadline = None
        signal.setitimer(signal.ITIMER_REAL, 0)


def _install() -> bool:
    if not can_bound():
        return False
    if signal.getsignal(signal.SIGALRM) is not _on_timer:
        signal.signal(signal.SIGALRM, _on_timer)
    return True


def out_of_time(seconds: float) -> str:
    return (f"matching took over {seconds:g} s of CPU (max_match_seconds); a pattern that backtracks? "
            "see `logloom validate`")


def bounded(seconds: float, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)``; ``OutOfTime`` when it takes more than ``seconds`` of CPU."""
    if not _install():
        return fn(*args)
    with _cpu_budget(seconds):
        return fn(*args)


class BoundedParser:
    """A block parser (text or JSON lines: ``parsers.block_parser``) with a bound per line;
    ``parse`` gives one ParsedBlock or, after a block ran out of time, several (the lines
    that ran out each on their own)."""

    def __init__(self, spec: LogPatterns | ParseRules, last_ts: int | None = None) -> None:
        self.spec = spec
        self.seconds = spec.max_match_seconds
        self.parser = block_parser(spec, last_ts)
        self._bounded = _install()
        self.rate = 0.0  # CPU seconds a byte of a block took lately
        self.floor = self.seconds * BLOCK_BUDGET_FACTOR

    def parse(self, block: Block) -> list[ParsedBlock]:
        if not self._bounded:
            return [self.parser.parse(block)]
        last = self._last_ts()
        size = max(1, block.end - block.start)
        started = time.thread_time()
        try:
            with _cpu_budget(max(self.floor, SLOW_FACTOR * self.rate * size)):
                parsed = self.parser.parse(block)
        except OutOfTime:
            self.parser = block_parser(self.spec, last)
            return self._line_by_line(block)
        rate = (time.thread_time() - started) / size
        self.rate = rate if not self.rate else 0.8 * self.rate + 0.2 * rate
        return [parsed]

    def _last_ts(self) -> int:
        return self.parser.parser.timestamps.last

    def _line_by_line(self, block: Block) -> list[ParsedBlock]:
        out: list[ParsedBlock] = []
        group: list[ParsedBlock] = []  # consecutive lines parsed in time, merged into one block
        start = block.start
        blamed = False  # a line ran out of time
        for i, line in enumerate(block.lines):
            size = block.long.get(i, len(line))
            end = block.end if i == len(block.lines) - 1 else start + size + 1
            one = Block(start, [line], {0: block.long[i]} if i in block.long else {}, end, block.written)
            parsed = self._one_line(one)
            if parsed is None:
                blamed = True
                if group:
                    out.append(_merge(group))
                    group = []
                out.append(ParsedBlock(start, end, 1, array("i"), array("i"), array("q"), [], 0,
                                       {0: (out_of_time(self.seconds), one.texts()[0])}, self._last_ts()))
            else:
                if parsed.first_new_id == 0 and group:
                    out.append(_merge(group))
                    group = []
                group.append(parsed)
            start = end
        if group:
            out.append(_merge(group))
        if not blamed:  # only slow: give blocks more time
            self.floor = min(self.floor * 2, MAX_BLOCK_S)
        return out

    def _one_line(self, one: Block) -> ParsedBlock | None:
        """``one`` line parsed in its time, or None when it ran out twice: a first time may be
        a garbage collection or a cache filled on the way, not the line (the parser, maybe
        interrupted half-way, is replaced by a fresh one each time; its table restarts)."""
        last = self._last_ts()
        for _ in range(2):
            try:
                with _cpu_budget(self.seconds):
                    return self.parser.parse(one)
            except OutOfTime:
                self.parser = block_parser(self.spec, last)
        return None


def _merge(group: list[ParsedBlock]) -> ParsedBlock:
    """Consecutive ParsedBlocks of one parser (their ids run on) as one."""
    first = group[0]
    index, codes, times = array(first.index.typecode), array(first.codes.typecode), array(first.times.typecode)
    new = []
    rejects: dict[int, tuple[str, str]] = {}
    lines = 0
    for parsed in group:
        rejects.update({lines + i: r for i, r in parsed.rejects.items()})
        index.extend(lines + i for i in parsed.index)
        codes.extend(parsed.codes)
        times.extend(parsed.times)
        new.extend(parsed.new)
        lines += parsed.lines
    return ParsedBlock(first.start, group[-1].end, lines, index, codes, times, new, first.first_new_id, rejects,
                       group[-1].last_ts)
