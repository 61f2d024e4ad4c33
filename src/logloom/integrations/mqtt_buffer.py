"""The MQTT publisher's bounded buffer: whole blocks in, single messages out.

A block's records go in as one list (no per-record work on the processing
thread); each record gets the next sequence number, so a subscriber sees a gap
where messages were dropped. When the buffer holds more than ``capacity``, the
oldest records are dropped and counted: after an outage the freshest state wins.
Not thread-safe by itself; the publisher holds its lock around every call.
"""

from __future__ import annotations

from collections import deque
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

    def clear(self) -> int:
        """Drop everything left (counted); return how many."""
        n = self._size
        if n:
            self._drop_oldest(n)
        return n
