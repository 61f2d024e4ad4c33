"""The MQTT publisher's limits on their own: the bounded buffer and the CPU budget."""

from __future__ import annotations

import pytest

from logloom.integrations.mqtt_buffer import CpuBudget, MessageBuffer


def test_the_buffer_drops_the_oldest_and_counts_them() -> None:
    buf = MessageBuffer(5)
    assert buf.put(["a", "b", "c"]) == 0
    assert buf.take(2) == [(1, "a"), (2, "b")]
    assert buf.put(["d", "e", "f", "g", "h"]) == 1  # c d e f g h: six for five places
    assert (len(buf), buf.dropped) == (5, 1)
    assert buf.take(2) == [(4, "d"), (5, "e")]
    assert buf.put(list("ijklmnop")) == 6  # f g h i j k l m n o p: keeps l..p
    assert buf.take(10) == [(12, "l"), (13, "m"), (14, "n"), (15, "o"), (16, "p")]
    assert (len(buf), buf.dropped, buf.next_seq) == (0, 7, 17)
    assert buf.put(["q", "r"]) == 0 and buf.trim(0) == 2 and buf.dropped == 9
    with pytest.raises(ValueError):
        MessageBuffer(0)


def test_sequence_numbers_leave_a_gap_exactly_as_large_as_the_drops() -> None:
    buf = MessageBuffer(7)
    seen: list[int] = []
    for block in range(40):
        buf.put([block] * (block % 9))
        seen += [seq for seq, _ in buf.take(block % 4)]
    seen += [seq for seq, _ in buf.take(100)]
    assert len(seen) + buf.dropped == buf.next_seq - 1
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


class _Clocks:
    def __init__(self) -> None:
        self.wall = self.main = self.other = 0.0

    def budget(self) -> CpuBudget:
        return CpuBudget(share=0.05, idle=0.02, cap=0.05, process_cpu=lambda: self.main + self.other,
                         thread_cpu=lambda: self.main, wall=lambda: self.wall)


def test_while_the_loop_is_busy_publishing_gets_a_share_of_its_cpu() -> None:
    c = _Clocks()
    budget = c.budget()
    spent = 0.0
    for _ in range(1000):  # a catch-up: the processing thread on a CPU all the time
        c.wall += 0.01
        c.main += 0.01
        budget.note_main()
        while budget.credit() > 0:  # publish while there is credit; a message costs 100 µs
            c.other += 1e-4
            spent += 1e-4
    assert spent == pytest.approx(0.05 * 10 + 0.05, abs=2e-3)  # 5 % of its 10 s, plus the first burst


def test_while_the_loop_waits_publishing_gets_two_percent_of_a_core() -> None:
    c = _Clocks()
    budget = c.budget()
    spent = 0.0
    for _ in range(1000):  # following a live log: a block every 0.1 s, 1 ms of work each
        c.wall += 0.1
        c.main += 0.001
        budget.note_main()
        while budget.credit() > 0:
            c.other += 1e-4
            spent += 1e-4
    assert spent == pytest.approx(0.02 * 100 * (1 - 2 * 0.01) + 0.05 * 1 + 0.05, rel=0.02)
