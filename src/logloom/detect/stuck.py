"""The ``stuck`` rule: a component that stays in a state longer than that state's limit.

A visit (component, state, time it entered the state) is flagged once, at the first
event line whose log time is past entry + the limit, while the component is still
in the state. ``StuckWatch`` finds that line without any work on a state change:

* in a block of lines whose times never go back, after the block: the visits that
  ended in it are read from their duration rows, the open ones from the engine's
  components, and a binary search over the block's times finds each line;
* otherwise line by line: ``reached`` before every event line whose time leaves the
  window [low, high], in which no deadline can pass.

Both give the same line, so where blocks are cut (a checkpoint, a crash, a resume)
changes nothing. The anomaly itself is built by the caller (``flag``), which owns
the baseline's models and the run's tallies.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from logloom.records import Anomaly, MetricRow, Rows

# (component, state, entered) of a visit
VisitKey = tuple[str, str, int]


class Visit(Protocol):
    """What the stuck rule reads of a component (the engine's ``Component``)."""

    id: str
    state: str
    entered: int | None


class StuckWatch:
    """Follows the visits of ``watch``ed components against ``after``: (component, state)
    -> microseconds a visit may last. ``flag(ts, component, state, entered)`` makes the
    anomaly of a visit found stuck at log time ``ts``."""

    def __init__(self, after: Mapping[tuple[str, str], int], flag: Callable[[int, str, str, int], Anomaly],
                 *, exact_rows: bool = True) -> None:
        self._after = dict(after)
        self._min_after = min(self._after.values(), default=0)
        self._flag = flag
        self._exact_rows = exact_rows  # duration rows give entry times to the µs (see ended)
        self._order: dict[str, int] = {}  # component -> its place among the visits
        self._watched: list[Visit] = []
        self.flagged: dict[str, tuple[str, int]] = {}  # component -> (state, entered) flagged
        self._ended: list[VisitKey] = []  # visits of this block's rows that outlasted the limit
        self._block: tuple[np.ndarray, np.ndarray] | None = None  # see begin_block
        self.low: float = -math.inf  # no visit can pass its deadline while low <= time <= high
        self.high: float = math.inf

    def watch(self, visits: Sequence[Visit]) -> None:
        """Follow these components' visits (the engine's components, read live)."""
        self._order = {v.id: i for i, v in enumerate(visits)}
        tracked = {component for component, _ in self._after}
        self._watched = [v for v in visits if v.id in tracked]
        self.reset()

    def reset(self) -> None:
        """Forget the window (after a restore): the next ``reached`` looks at every visit."""
        self.low, self.high = (math.inf, -math.inf) if self._watched else (-math.inf, math.inf)
        self._block = None

    # -- line by line ------------------------------------------------------------------
    def reached(self, ts: int) -> list[Anomaly]:
        """Log time is ``ts`` (outside [low, high]): flag the visits that outlasted their limit.

        ``high`` is at most the earliest deadline of a visit not yet flagged, and any
        visit that starts at or after ``low`` ends its limit no earlier than ``low`` +
        the shortest limit. A log whose time goes back lowers ``low``.
        """
        if ts <= self.high:  # time went back (below low): no deadline passed
            self.low, self.high = ts, min(self.high, ts + self._min_after)
            return []
        due: list[tuple[int, int, VisitKey]] = []
        high = ts + self._min_after
        for visit in self._open():
            component, state, entered = visit
            deadline = entered + self._after[component, state]
            if deadline < ts:
                due.append((deadline, self._order[component], visit))
            elif deadline < high:
                high = deadline
        self.low, self.high = ts, high
        return [self._flagged_at(ts, visit) for *_, visit in sorted(due)]

    def _open(self) -> list[VisitKey]:
        """The current visits the rule follows and has not flagged."""
        out = []
        for v in self._watched:
            state, entered = v.state, v.entered
            if entered is not None and (v.id, state) in self._after and self.flagged.get(v.id) != (state, entered):
                out.append((v.id, state, entered))
        return out

    def _flagged_at(self, ts: int, visit: VisitKey) -> Anomaly:
        component, state, entered = visit
        self.flagged[component] = (state, entered)
        return self._flag(ts, component, state, entered)

    # -- a block at a time --------------------------------------------------------------
    def begin_block(self, times: np.ndarray, lines: np.ndarray) -> None:
        """Before a block, with the times and line numbers of its event lines.

        Where those times never go back, ``after_block`` finds the block's stuck visits;
        otherwise ``reached`` must see every event line outside [low, high] before it
        steps the engine.
        """
        self._ended = []
        if self._watched and self._exact_rows and not (times[1:] < times[:-1]).any():
            self._block = (times, lines)
            self.low, self.high = -math.inf, math.inf
        else:
            self.reset()

    def ended(self, after_of: Mapping[str, int], per_unit: float, where: np.ndarray, x: np.ndarray,
              rows: Sequence[MetricRow]) -> None:
        """Note the visits whose duration rows (``x``, in units of ``per_unit`` µs, at
        ``where`` in ``rows``) say they outlasted their state's limit (``after_of``); only
        a block begun in time order needs them."""
        if self._block is None:
            return
        us = np.rint(x * per_unit)
        for j in np.flatnonzero(us > min(after_of.values())).tolist():
            row = rows[int(where[j])]
            after = after_of.get(row.state_context)
            if after is not None and us[j] > after:
                self._ended.append((row.component_id, row.state_context, row.ts - int(us[j])))

    def after_block(self, rows: Rows) -> list[tuple[int, int, Anomaly]]:
        """The stuck anomalies of a block begun in time order, once its rows went through
        ``ended``: (line, number of rows before that line, anomaly), in line order."""
        if self._block is None:
            return []
        times, lines = self._block
        self._block = None
        due: list[tuple[int, int, int, VisitKey]] = []
        for visit in self._ended + self._open():
            component, state, entered = visit
            if component not in self._order or self.flagged.get(component) == (state, entered):
                continue  # not watched, or flagged in an earlier block
            deadline = entered + self._after[component, state]
            j = int(np.searchsorted(times, deadline, side="right"))  # the first line past it
            if j < len(times):
                due.append((j, deadline, self._order[component], visit))
        out = []
        for j, *_, visit in sorted(due):
            ts = int(times[j])
            out.append((int(lines[j]), bisect_left(rows.ts, ts), self._flagged_at(ts, visit)))
        return out

    # -- state ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {c: list(visit) for c, visit in self.flagged.items()}

    def restore(self, flagged: Mapping[str, Any]) -> None:
        self.flagged = {str(c): (str(s), int(e)) for c, (s, e) in flagged.items()}
        self.reset()
