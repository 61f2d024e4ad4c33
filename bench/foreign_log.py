"""A PLC log that logloom did not write, for benchmarks: a screwing line's, noise-heavy.

Nothing like the simulator's log: semicolon fields, a German date with a comma before
the milliseconds, and most lines noise that no pattern matches, nearly all of them
carrying counters or measured values (so few texts ever repeat)::

    21.01.2026 06:00:00,152;ST10;INFO;Screwing done torque=2.41Nm angle=712deg
    21.01.2026 06:00:00,161;PLC;DEBUG;PLC cycle 48213 ok scan=6ms

The line (bench/foreign/config/: a conveyor feeding four stations, each a clamp and a
screwdriver, 12 patterns) runs its cycles with random durations, faults, NOK
screwings and bit changes; between its event lines come noise lines, a share
``--noise`` of all lines (0.63 by default). Seeds and the noise share vary the file;
nothing in logloom knows this generator.

    .venv/bin/python bench/foreign_log.py --out bench/out/foreign.log --lines 1000000 \\
        [--seed 1] [--noise 0.63]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

STATIONS = ("ST10", "ST20", "ST30", "ST40")
START = datetime(2026, 1, 21, 6, 0, 0)
NOISE_SHARE = 0.63

Noise = Callable[[random.Random, list[int]], str]


def _stamp_text() -> Callable[[int], str]:
    """Milliseconds since START -> '21.01.2026 06:00:00,152', the minute's text cached."""
    cache: dict[int, str] = {}

    def text(ms: int) -> str:
        minute, rest = divmod(ms, 60_000)
        head = cache.get(minute)
        if head is None:
            if len(cache) > 4096:
                cache.clear()
            head = cache[minute] = (START + timedelta(minutes=minute)).strftime("%d.%m.%Y %H:%M:")
        sec, milli = divmod(rest, 1000)
        return f"{head}{sec:02d},{milli:03d}"

    return text


# -- noise: what a PLC, an HMI and the network write besides the line's events -------------
NOISE: tuple[Noise, ...] = (
    lambda r, n: f"PLC;DEBUG;PLC cycle {n[0]} ok scan={r.randint(3, 9)}ms",
    lambda r, n: f"{r.choice(STATIONS)};DEBUG;Axis Z pos={r.uniform(0, 250):.2f}mm vel={r.uniform(0, 80):.1f}mm/s",
    lambda r, n: f"{r.choice(STATIONS)};DEBUG;Heartbeat seq={n[1]}",
    lambda r, n: f"OPC;DEBUG;Read ns=2;i={r.randint(1000, 9999)} value={r.uniform(-5, 5):.3f}",
    lambda r, n: f"SYS;INFO;Cabinet temperature {r.uniform(24, 41):.1f}C fan={r.randint(900, 2400)}rpm",
    lambda r, n: f"{r.choice(STATIONS)};WARN;Sensor B{r.randint(1, 12)} debounce count={n[2]}",
    lambda r, n: f"NET;DEBUG;Packet {n[3]} from 10.0.{r.randint(0, 3)}.{r.randint(2, 254)} len={r.randint(64, 1500)}",
    lambda r, n: f"HMI;INFO;Screen {r.choice(('overview', 'alarms', 'recipes', 'trends'))} opened by "
                 f"{r.choice(('op1', 'op2', 'shift_lead'))} session={n[4]}",
    lambda r, n: f"{r.choice(STATIONS)};DEBUG;Screw feeder level={r.randint(5, 100)}% pieces={n[5]}",
    lambda r, n: f"PLC;INFO;Shift counter parts_ok={n[6]} parts_nok={n[6] // 97}",
)


def _station(r: random.Random, st: str, serials: Iterator[int]) -> Iterator[tuple[int, str]]:
    """(ms, message) of the parts at one station, forever, with faults and NOK screwings."""
    t = r.randint(0, 5000)
    while True:
        part = f"SN{next(serials):08d}"
        yield t, f"{st};INFO;Part {part} arrived"
        t += r.randint(300, 1500)
        yield t, f"{st};INFO;Clamp closed pressure={r.gauss(5.5, 0.2):.2f}bar"
        t += r.randint(200, 900)
        yield t, f"{st};INFO;Screwing started program=P{r.randint(1, 6)}"
        if r.random() < 0.03:
            t += r.randint(500, 4000)
            yield t, f"{st};ERROR;Fault E{r.randint(100, 140)}: {r.choice(('torque limit', 'bit slipped', 'no screw'))}"
            t += r.randint(10_000, 240_000)
            yield t, f"{st};INFO;Fault reset by {r.choice(('op1', 'op2', 'shift_lead'))}"
            t += r.randint(500, 2000)
            yield t, f"{st};INFO;Clamp opened"
        else:
            for _ in range(r.choice((0, 0, 0, 0, 0, 0, 1, 2))):
                t += r.randint(400, 2500)
                yield t, f"{st};WARN;Screwing NOK torque={r.gauss(1.6, 0.3):.2f}Nm"
            t += r.randint(2000, 9000)
            yield t, f"{st};INFO;Screwing done torque={r.gauss(2.4, 0.08):.2f}Nm angle={r.randint(650, 780)}deg"
            t += r.randint(200, 800)
            yield t, f"{st};INFO;Clamp opened"
            t += r.randint(300, 1200)
            yield t, f"{st};INFO;Part {part} released"
            if r.random() < 0.01:
                t += r.randint(100, 500)
                yield t, f"{st};INFO;Bit changed after {r.randint(800, 1200)} screws"
        t += r.randint(1000, 20_000)


def _conveyor(r: random.Random) -> Iterator[tuple[int, str]]:
    t = 0
    serial = 0
    while True:
        serial += 1
        yield t, f"CV1;INFO;Conveyor start part=SN{serial:08d}"
        t += r.randint(2000, 6000)
        yield t, "CV1;INFO;Conveyor stop"
        t += r.randint(4000, 25_000)


def events(r: random.Random) -> Iterator[tuple[int, str]]:
    """The line's event lines in time order (ms since START), forever."""
    serials = itertools.count(1)
    return heapq.merge(_conveyor(r), *(_station(r, st, serials) for st in STATIONS))


def write_log(out: Path, lines: int, seed: int, noise: float) -> None:
    """``lines`` lines: the line's events with noise lines between them (share ``noise``)."""
    r = random.Random(seed)
    counters = [r.randint(10_000, 90_000) for _ in range(7)]
    stamp = _stamp_text()
    source = events(r)
    now = 0
    pending = next(source)
    buffer: list[str] = []
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for _ in range(lines):
            if r.random() < noise:
                now = min(now + r.randint(0, 40), max(now, pending[0]))
                for i in range(len(counters)):
                    counters[i] += 1
                buffer.append(f"{stamp(now)};{r.choice(NOISE)(r, counters)}\n")
            else:
                now = max(now, pending[0])
                buffer.append(f"{stamp(now)};{pending[1]}\n")
                pending = next(source)
            if len(buffer) >= 10_000:
                fh.write("".join(buffer))
                buffer.clear()
        fh.write("".join(buffer))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, default=NOISE_SHARE, help="share of lines no pattern matches")
    args = ap.parse_args()
    if not 0 <= args.noise < 1:
        ap.error("--noise must be in [0, 1)")
    write_log(args.out, args.lines, args.seed, args.noise)


if __name__ == "__main__":
    main()
