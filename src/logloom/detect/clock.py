"""The log's own time going backwards: a clock stepped back, or lines written twice.

Either way the engine sees visits that end before they began (no duration row,
``negative_duration``) or the same cycle twice. ``ClockWatch`` looks at the event
lines' times a block at a time (numpy, no per-line work) and reports each step back
of more than ``STEP_US`` from one event line to the next, and counts every line
earlier than a line before it. Steps become ``time_back`` anomalies; both counts
go to the run summary and the console. The state (the last and the latest time)
is kept in the checkpoint, so a resumed run reports exactly what one run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from logloom.records import Anomaly

STEP_US = 1_000_000  # smaller steps back (loggers' jitter) are counted, not reported one by one
RULE = "time_back"
COMPONENT = "log"  # the component_id of a time_back anomaly: the log itself, not a machine


@dataclass(frozen=True)
class Step:
    index: int  # its place among the event lines scanned
    line_no: int
    ts: int  # the line's time (after the step)
    back_us: int  # how far before the latest earlier time


class ClockWatch:
    """Follows the time of the event lines across blocks."""

    def __init__(self) -> None:
        self.last: int | None = None  # time of the latest event line
        self.latest: int | None = None  # the greatest time so far

    def scan(self, times: np.ndarray, index: np.ndarray, first_line_no: int) -> tuple[list[Step], int]:
        """The steps back among event lines at ``index`` of a block (times ``times``),
        and how many of them are earlier than a line before them."""
        if len(times) == 0:
            return [], 0
        last = times[0] if self.last is None else self.last
        latest = times[0] if self.latest is None else self.latest
        before = np.empty_like(times)
        before[0], before[1:] = last, times[:-1]
        so_far = np.maximum.accumulate(np.concatenate(([latest], times)))[:-1]
        behind = int(np.count_nonzero(times < so_far))
        steps = [
            Step(int(i), first_line_no + int(index[i]), int(times[i]), int(so_far[i] - times[i]))
            for i in np.flatnonzero(times < before - STEP_US).tolist()
        ]
        self.last, self.latest = int(times[-1]), int(max(latest, so_far[-1], times[-1]))
        return steps, behind

    def to_dict(self) -> dict[str, Any]:
        return {"last": self.last, "latest": self.latest}

    def restore(self, data: dict[str, Any] | None) -> None:
        data = data or {}
        self.last = None if data.get("last") is None else int(data["last"])
        self.latest = None if data.get("latest") is None else int(data["latest"])


def step_anomaly(step: Step, source: str) -> Anomaly:
    """The anomaly row of a step back: value in seconds (negative), the line in
    ``state_context``."""
    back = -round(step.back_us / 1_000_000, 6)
    return Anomaly(step.ts, COMPONENT, "log_time", back, "s", f"{source}:{step.line_no}", 0.0, 0.0, 0.0, back, RULE)


def describe(step: Step, source: str) -> str:
    return (f"{source}:{step.line_no}: the log's time went back {step.back_us / 1_000_000:,.3f} s "
            "(a clock set back, or lines written twice)")
