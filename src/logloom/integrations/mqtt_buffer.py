"""The MQTT publisher's limits: a bounded buffer, and a CPU budget.

``MessageBuffer``: whole blocks in, single messages out.

A block's records go in as one list (no per-record work on the processing
thread); each record gets the next sequence number, so a subscriber sees a gap
where messages were dropped. When the buffer holds more than ``capacity``, the
oldest records are dropped and counted: after an outage the freshest state wins.
``CpuBudget``: publishing costs about 50 µs of CPU a message (paho), so what the
publisher may spend is tied to what the processing thread spends.
Neither is thread-safe by itself; the publisher holds its lock around every call.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any


class MessageBuffer:
    """At most ``capacity`` records waiting, in order, each with its sequence number."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the buffer holds at least one message")
        self.capacity = capacity
        self._chunks: deque[tuple[int, list[Any]]] = deque()  # (sequence number of list[0], records)
        self._head = 0  # records of the first chunk already taken or dropped
        self._size = 0
        self.next_seq = 1
        self.dropped = 0

    def __len__(self) -> int:
        return self._size

    def put(self, records: list[Any]) -> int:
        """Append a block's records (the list is kept, not copied); return how many were dropped."""
        if not records:
            return 0
        self._chunks.append((self.next_seq, records))
        self.next_seq += len(records)
        self._size += len(records)
        over = self._size - self.capacity
        if over <= 0:
            return 0
        self._drop_oldest(over)
        return over

    def skip(self, n: int) -> None:
        """Count ``n`` records that were never put (dropped before they were made): their
        sequence numbers are used up, so a subscriber sees the gap."""
        self.next_seq += n
        self.dropped += n

    def _drop_oldest(self, n: int) -> None:
        self._size -= n
        self.dropped += n
        while n:
            _, records = self._chunks[0]
            left = len(records) - self._head
            if left <= n:
                self._chunks.popleft()
                self._head = 0
                n -= left
            else:
                self._head += n
                n = 0

    def take(self, n: int) -> list[tuple[int, Any]]:
        """Up to ``n`` of the oldest records, as (sequence number, record)."""
        out: list[tuple[int, Any]] = []
        while n > 0 and self._chunks:
            seq, records = self._chunks[0]
            end = min(len(records), self._head + n)
            out += zip(range(seq + self._head, seq + end), records[self._head : end], strict=True)
            n -= end - self._head
            if end == len(records):
                self._chunks.popleft()
                self._head = 0
            else:
                self._head = end
        self._size -= len(out)
        return out

    def trim(self, keep: int) -> int:
        """Drop (and count) all but the newest ``keep``; return how many were dropped."""
        n = max(self._size - keep, 0)
        if n:
            self._drop_oldest(n)
        return n


class CpuBudget:
    """How much CPU publishing may take: a share of what the processing thread spends,
    plus a small share of one core while that thread waits (following a live log).

    The processing thread notes its CPU time once a block (``note_main``), which also
    tells how busy it is: the share of the wall time since its previous note that it
    spent on a CPU (a batch run or a catch-up: near 1; following a live log: near 0;
    no block for ``IDLE_AFTER`` seconds: 0). The idle allowance shrinks to nothing as
    that share reaches one half. All the CPU the rest of the process spends counts as
    publishing (paho's network thread included, anything else too: the estimate errs
    on the safe side). Unused credit is kept up to ``cap`` CPU seconds, for a burst.
    """

    IDLE_AFTER = 0.5

    def __init__(self, *, share: float = 0.01, idle: float = 0.02, cap: float = 0.02,
                 process_cpu: Callable[[], float] = time.process_time,
                 thread_cpu: Callable[[], float] = time.thread_time,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.share, self.idle, self.cap = share, idle, cap
        self._process_cpu, self._thread_cpu, self._wall = process_cpu, thread_cpu, wall
        self.main_cpu = thread_cpu()  # constructed on the processing thread
        self._main_at = wall()
        self._busy = 0.0
        self._credit = cap
        self._main_seen, self._wall_seen = self.main_cpu, self._main_at
        self._other_seen = process_cpu() - self.main_cpu

    def note_main(self) -> None:
        """On the processing thread, once a block: its CPU time so far."""
        cpu, now = self._thread_cpu(), self._wall()
        if now > self._main_at:
            self._busy = min(1.0, (cpu - self.main_cpu) / (now - self._main_at))
        self.main_cpu, self._main_at = cpu, now

    @property
    def busy(self) -> bool:
        """The processing thread spends most of its time computing (a batch run, or a
        catch-up), not waiting for lines."""
        return self._wall() - self._main_at <= self.IDLE_AFTER and self._busy > 0.5

    def credit(self) -> float:
        """CPU seconds publishing may spend now (<= 0: wait ``wait_s``)."""
        main, now = self.main_cpu, self._wall()
        other = self._process_cpu() - main
        busy = 0.0 if now - self._main_at > self.IDLE_AFTER else self._busy
        earned = self.share * (main - self._main_seen) + self.idle * (now - self._wall_seen) * max(0.0, 1 - 2 * busy)
        self._credit = min(self.cap, self._credit + earned - (other - self._other_seen))
        self._main_seen, self._wall_seen, self._other_seen = main, now, other
        return self._credit

    def wait_s(self) -> float:
        """A while to wait before asking again: 0.05 to 0.2 s (each wake-up costs the loop the GIL)."""
        return min(0.2, max(0.05, -self._credit / self.idle))
