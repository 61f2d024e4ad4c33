"""The ground truth: every state visit the simulated line really made, as metric rows.

``Truth`` follows each component through the events the simulator generated (written
or dropped), in the order the log presents them, and writes on every exit the rows
that SPEC 4 step 7 defines, in process_metrics.csv's exact text. Beside it runs an
``EngineView`` of what an engine reading only the written lines believes. Wherever
the two part, the visits involved are written to the affected list, so a test can
compare everything else row for row.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from logloom.simulator.engine_view import EngineView
from logloom.simulator.model import LineModel, Machine
from logloom.simulator.texts import Clock

Fields = tuple[tuple[str, float], ...] | None
Marks = tuple[tuple[str, str, str], ...] | None  # (metric_name, kind, factor text)

_AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "last": lambda v: v[-1],
    "first": lambda v: v[0],
    "min": min,
    "max": max,
    "mean": lambda v: math.fsum(v) / len(v),
}
_DURATION, _VALUE, _COUNT = 0, 1, 2


def value_text(agg: str, values: list[float]) -> str:
    """A value metric's text in process_metrics.csv: ``values`` aggregated by ``agg``."""
    return repr(round(float(_AGGREGATE[agg](values)), 6))
_KINDS = {"duration": _DURATION, "value": _VALUE, "count": _COUNT}


class Truth:
    """True visits per component, their metric rows, and the visits an engine sees differently.

    ``rows``, ``anomalies`` and ``affected`` are text buffers the caller drains.
    """

    def __init__(self, model: LineModel, clock: Clock, *, track_engine: bool) -> None:
        comps = model.components
        machines = [model.machine_of(c) for c in comps]
        self._clock = clock
        self._ids = [c.id for c in comps]
        self.state = [m.initial for m in machines]
        self.entry: list[int | None] = [None] * len(comps)
        self._caps: list[dict[str, list[float]]] = [{} for _ in comps]
        self._counts: list[dict[str, int]] = [{} for _ in comps]
        self._next = [_transition_table(m) for m in machines]
        self._metrics = [_metric_table(m, c.id) for m, c in zip(machines, comps, strict=True)]
        self._captured = [{d.field for ds in m.metrics.values() for d in ds if d.kind == "value"}
                          for m in machines]
        self._counted = [{d.event for ds in m.metrics.values() for d in ds if d.kind == "count"}
                         for m in machines]
        # Without lost or misrouted lines the engine believes the truth: share its lists.
        self.view = EngineView(model, self.state, self.entry, share=not track_engine)
        self._tainted = [False] * len(comps)
        # collect: instead of rows, gather (metric, value text) per component (the
        # undisturbed run); reference: such gathered values to compare against.
        self.collect: list[deque[tuple[str, str]]] | None = None
        self.reference: list[deque[tuple[str, str]]] | None = None
        self.rows: list[str] = []
        self.anomalies: list[str] = []
        self.affected: list[str] = []

    # -- the truth --------------------------------------------------------------

    def apply(self, comp: int, event: str, t: int, fields: Fields, marks: Marks) -> str | None:
        """Feed one true event; returns the state it exited, if any."""
        if event in self._counted[comp]:
            counts = self._counts[comp]
            counts[event] = counts.get(event, 0) + 1
        if fields is not None:
            captured = self._captured[comp]
            caps = self._caps[comp]
            for name, value in fields:
                if name in captured:
                    caps.setdefault(name, []).append(value)
        old = self.state[comp]
        new = self._next[comp].get((old, event))
        if new is None:
            return None
        self._write_rows(comp, old, t, marks)
        if marks:
            self._write_marks(comp, t, marks)
        self.state[comp] = new
        self.entry[comp] = t
        if self._caps[comp]:
            self._caps[comp] = {}
        if self._counts[comp]:
            self._counts[comp] = {}
        return old

    def _write_rows(self, comp: int, state: str, t: int, marks: Marks) -> None:
        specs = self._metrics[comp].get(state)
        if not specs:
            return
        collect, reference = self.collect, self.reference
        stamp = self._clock.iso(t) if collect is None else ""
        entry = self.entry[comp]
        for kind, key, aggregate, prefix, suffix, name in specs:
            if kind == _DURATION:
                if entry is None:
                    continue
                text = repr((t - entry) / 1000)  # whole milliseconds: round(x, 6) gives x back
            elif kind == _VALUE:
                values = self._caps[comp].get(key)
                if not values:
                    continue
                text = repr(round(float(aggregate(values)), 6))
            else:
                text = repr(float(self._counts[comp].get(key, 0)))
            if collect is not None:
                collect[comp].append((name, text))
                continue
            self.rows.append(f"{stamp}{prefix}{text}{suffix}")
            if reference is not None:
                self._compare(reference[comp], comp, name, text, stamp, marks)

    def _compare(self, queue: deque[tuple[str, str]], comp: int, name: str, text: str,
                 stamp: str, marks: Marks) -> None:
        """List a row that differs from the undisturbed run's, unless it was injected."""
        reference_name, reference_text = queue.popleft()
        if reference_name != name:
            raise RuntimeError(f"reference run out of step at {stamp} {self._ids[comp]}")
        if reference_text == text or (marks and any(m[0] == name for m in marks)):
            return
        undisturbed = float(reference_text)
        factor = repr(round(float(text) / undisturbed, 6)) if undisturbed else ""
        self.anomalies.append(f"{stamp},{self._ids[comp]},{name},consequence,{factor}\n")

    def _write_marks(self, comp: int, t: int, marks: tuple[tuple[str, str, str], ...]) -> None:
        stamp = self._clock.iso(t)
        for metric, kind, factor in marks:
            self.anomalies.append(f"{stamp},{self._ids[comp]},{metric},{kind},{factor}\n")

    # -- the engine view ----------------------------------------------------------

    def route(self, event: str, candidates: list[int]) -> int | None:
        """Where an engine routes a line without a station (first in, first out)."""
        return self.view.route(event, candidates)

    def line(self, comp: int, event: str, t: int, fields: Fields, marks: Marks,
             engine_target: int | None) -> None:
        """Feed one event and what the engine does with it.

        ``engine_target`` is the component the engine applies the line to: ``comp`` for a
        named line, the FIFO winner (or None) for a sparse one, None for a dropped one.
        """
        if engine_target == comp and not self._differs(comp):
            # the common case, a named line on an engine that is in step
            engine_exit = self.view.step(comp, event, t)
            true_exit = self.apply(comp, event, t, fields, marks)
            if engine_exit == true_exit and not self._differs(comp) and not self._tainted[comp] \
                    and self.view.closed is None:
                return  # both left the same visit, or neither left any
            marked = len(self.affected)
            self._settle(comp, t, engine_exit, true_exit, before=False)
            self._mark_closed(comp, t, marked)
            return
        touched = {comp} if engine_target is None else {comp, engine_target}
        before = {c: self._differs(c) for c in touched}
        engine_exit = None
        if engine_target is not None:
            engine_exit = self.view.step(engine_target, event, t)
        marked = len(self.affected)
        true_exit = self.apply(comp, event, t, fields, marks)
        for c in touched:
            after = self._differs(c)
            if c == comp and true_exit is not None:
                if before[c] or after or self._tainted[c]:
                    self._mark(c, t, true_exit)
                self._tainted[c] = after
            elif after:
                self._tainted[c] = True
            same_key = c == comp and engine_exit == true_exit
            if c == engine_target and engine_exit is not None and (before[c] or after) \
                    and not same_key:
                self._mark(c, t, engine_exit)
        if engine_target is not None:
            self._mark_closed(engine_target, t, marked)

    def _settle(self, comp: int, t: int, engine_exit: str | None, true_exit: str | None, *,
                before: bool) -> None:
        """Mark what a named line left differently in the engine and in the truth."""
        after = self._differs(comp)
        if true_exit is not None:
            if before or after or self._tainted[comp]:
                self._mark(comp, t, true_exit)
            self._tainted[comp] = after
        elif after:
            self._tainted[comp] = True
        if engine_exit is not None and (before or after) and engine_exit != true_exit:
            self._mark(comp, t, engine_exit)

    def _mark_closed(self, comp: int, t: int, marked: int) -> None:
        """After a jump: mark the last synthesised visit, whose values the engine writes
        from the line under the plain state name (SPEC 4 step 6), unless this line
        marked that key already (``marked``: the length of ``affected`` before it)."""
        state = self.view.closed
        if state is None or not any(spec[0] == _VALUE for spec in self._metrics[comp].get(state, ())):
            return
        key = f"{self._clock.iso(t)},{self._ids[comp]},{state}\n"
        if key not in self.affected[marked:]:
            self.affected.append(key)

    def _differs(self, comp: int) -> bool:
        view = self.view
        return view.state[comp] != self.state[comp] or view.entry[comp] != self.entry[comp]

    def _mark(self, comp: int, t: int, state: str) -> None:
        self.affected.append(f"{self._clock.iso(t)},{self._ids[comp]},{state}\n")


def _transition_table(machine: Machine) -> dict[tuple[str, str], str]:
    table = {}
    events = {tr.event for tr in machine.transitions}
    for state in machine.states:
        for event in events:
            target = machine.direct(state, event)
            if target is not None:
                table[(state, event)] = target
    return table


def _metric_table(machine: Machine, component_id: str) -> dict[str, tuple[tuple[Any, ...], ...]]:
    table = {}
    for state, defs in machine.metrics.items():
        table[state] = tuple(
            (
                _KINDS[d.kind],
                d.field if d.kind == "value" else d.event,
                _AGGREGATE[d.agg],
                f",{component_id},{d.name},",
                f",{d.unit},{state}\n",
                d.name,
            )
            for d in defs
        )
    return table
