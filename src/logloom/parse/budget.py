"""A bound on the time matching a line may take (``max_match_seconds``).

A pattern such as ``(a+)+b`` backtracks exponentially on a line that almost
matches; ``validate`` warns about such patterns, and this is what holds at run time.
Python's ``re`` checks for signals while it matches, so a CPU-time timer
(``ITIMER_VIRTUAL``: time spent computing, not waiting or stopped, whatever the
machine's load) interrupts it. A block is parsed under one timer, so a block costs
two system calls, not two a line. When the block's time runs out, the block is
parsed again a line at a time, each line under its own timer; a line that runs out
is rejected with that reason and the others give exactly what they would have.
A parser interrupted half-way is thrown away and a fresh one goes on (its result
table restarts, which the reader follows: ``first_new_id == 0``).

The timer needs the main thread (where Python runs signal handlers); elsewhere
blocks are parsed without a bound.
"""

from __future__ import annotations

import signal
import threading
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

T = TypeVar("T")


class OutOfTime(Exception):
    """The timer ran out while a bounded call ran."""


_armed = False


def _on_timer(signum: int, frame: FrameType | None) -> None:
    if _armed:
        raise OutOfTime


def can_bound() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _cpu_budget(seconds: float) -> Iterator[None]:
    global _armed
    _armed = True
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def _install() -> bool:
    if not can_bound():
        return False
    if signal.getsignal(signal.SIGVTALRM) is not _on_timer:
        signal.signal(signal.SIGVTALRM, _on_timer)
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

    def parse(self, block: Block) -> list[ParsedBlock]:
        if not self._bounded:
            return [self.parser.parse(block)]
        last = self._last_ts()
        try:
            with _cpu_budget(self.seconds * BLOCK_BUDGET_FACTOR):
                return [self.parser.parse(block)]
        except OutOfTime:
            self.parser = block_parser(self.spec, last)
            return self._line_by_line(block)

    def _last_ts(self) -> int:
        return self.parser.parser.timestamps.last

    def _line_by_line(self, block: Block) -> list[ParsedBlock]:
        out: list[ParsedBlock] = []
        group: list[ParsedBlock] = []  # consecutive lines parsed in time, merged into one block
        start = block.start
        for i, line in enumerate(block.lines):
            size = block.long.get(i, len(line))
            end = block.end if i == len(block.lines) - 1 else start + size + 1
            one = Block(start, [line], {0: block.long[i]} if i in block.long else {}, end)
            last = self._last_ts()
            try:
                with _cpu_budget(self.seconds):
                    parsed = self.parser.parse(one)
            except OutOfTime:
                if group:
                    out.append(_merge(group))
                    group = []
                self.parser = block_parser(self.spec, last)  # its table restarts: first_new_id == 0
                out.append(ParsedBlock(start, end, 1, array("i"), array("i"), array("q"), [], 0,
                                       {0: (out_of_time(self.seconds), one.texts()[0])}, last))
            else:
                if parsed.first_new_id == 0 and group:
                    out.append(_merge(group))
                    group = []
                group.append(parsed)
            start = end
        if group:
            out.append(_merge(group))
        return out


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
