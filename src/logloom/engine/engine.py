"""The brain: routes events to components, infers sensors, takes transitions, measures.

``Engine.step(event) -> list[MetricRow]`` is a pure step over in-memory state: no
file, clock, thread or print. Its whole state is plain data (``state_dict`` /
``load_state``), so a checkpoint restores it exactly. SPEC 4 is the contract; the
numbered comments below follow its steps. The hot loop (``step_events``) appends a
block's rows to the columns of a ``records.Rows`` instead: no object is made per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from logloom.config.load import Config
from logloom.engine.captures import aggregate, capture
from logloom.engine.inventory import Component, ComponentFactory
from logloom.engine.machine import Machine, Metric, Transition, sensor_ref
from logloom.records import INFERRED_SUFFIX, ComponentStatus, Event, MetricRow, Observer, Pauses, Rows, StateChange

GLOBAL_COUNTERS = ("unknown_target", "unrouted")
# What is known of a visit being left: seen (entered by a line, or the first), or
# synthesised by a jump: in between, or closed by the jump's own event.
_REAL, _INFERRED, _CLOSED = 0, 1, 2
_EMPTY: list[MetricRow] = []
_NO_ENTRY = -(1 << 62)


class Engine:
    """Routes each event to a component and applies SPEC 4 steps 2-7.

    Owns the components and the global counters. Observers see every state change,
    row and refused event, synchronously and in order.
    """

    def __init__(
        self, config: Config, *, strict: bool = False, observers: Iterable[Observer] = ()
    ) -> None:
        settings = config.logic.settings
        self.permissive = settings.permissive and not strict
        self.max_jump = settings.max_jump
        self.machines = {name: Machine(name, spec) for name, spec in config.logic.machines.items()}
        self.components = ComponentFactory(config).build()
        self.by_id = {c.id: c for c in self.components}
        for c in self.components:
            c.machine = self.machines[c.type]
        self.infer: dict[str, tuple[tuple[str | None, str, Any], ...]] = {
            name: tuple((*sensor_ref(k), v) for k, v in spec.infer.items())
            for name, spec in config.logic.events.items()
        }
        self._aliases: dict[str, list[Component]] = {}
        for c in self.components:
            for alias in config.graph.components[c.index].aliases:
                self._aliases.setdefault(alias, []).append(c)
        self._pools: dict[str | None, list[Component]] = {None: self.components}
        for name in self.machines:
            self._pools[name] = [c for c in self.components if c.type == name]
        # the series a row belongs to: (component, metric, unit, state context) of each id
        self.series: list[tuple[str, str, str, str]] = []
        for c in self.components:
            c.exits = {state: tuple((m.kind, m.field, m.agg, m.event, m.per, *self._series_ids(c.id, state, m))
                                    for m in metrics)
                       for state, metrics in c.machine.metrics.items()}
        self._named: dict[tuple[str, str | None, str], Component | None] = {}
        self.counters: dict[str, int] = dict.fromkeys(GLOBAL_COUNTERS, 0)
        self.sequence = 0
        self.failed_at = -1  # the position of the event ``step_events`` last failed on
        # the Rows the steps append their rows to, and its columns (``_fill``)
        self._rows = rows = Rows(self.series)
        self._ts, self._ids, self._values = rows.ts, rows.ids, rows.values
        self.observers = list(observers)

    # -- the step ---------------------------------------------------------------------
    @property
    def observers(self) -> list[Observer]:
        return self._observers

    @observers.setter
    def observers(self, observers: list[Observer]) -> None:
        """Set the plugins; each hook is called only on those that override it."""
        self._observers = observers
        self._on_row = [o for o in observers if type(o).on_row is not Observer.on_row]
        self._on_change = [o.on_state_change for o in observers
                           if type(o).on_state_change is not Observer.on_state_change and o.wants_changes]
        self._on_violation = [o for o in observers if type(o).on_violation is not Observer.on_violation]
        self._on_fault = [o for o in observers if type(o).on_fault_start is not Observer.on_fault_start
                          or type(o).on_fault_end is not Observer.on_fault_end]

    def step(self, ev: Event) -> list[MetricRow]:
        """Apply one event; return the rows it wrote, in order."""
        return self.step_parts(ev[1], ev[2], ev[3], ev[4], ev[5])

    def step_parts(
        self, ts: int, event: str, target: str | None, target_type: str | None, fields: dict[str, Any]
    ) -> list[MetricRow]:
        """``step`` of an Event's parts (no Event is built for it)."""
        comp = self.component_for(event, target, target_type)
        if comp is None:
            return _EMPTY
        return self.step_resolved(ts, comp, event, fields)

    def component_for(self, event: str, target: str | None, target_type: str | None) -> Component | None:
        """2. The component an event reaches: the one its line names, or routed when it
        names none. None (and counted as ``unknown_target`` or ``unrouted``): no component."""
        if target is not None:
            comp = self.resolve(target, target_type, event)
            if comp is None:
                self.counters["unknown_target"] += 1
            return comp
        return self._route(event, target_type)

    def resolve(self, target: str, target_type: str | None, event: str) -> Component | None:
        """The component a named target means (None: unknown); fixed by the config, so cached."""
        key = (target, target_type, event)
        if key not in self._named:
            self._named[key] = self._lookup(target, target_type, event)
        return self._named[key]

    def step_resolved(self, ts: int, comp: Component, event: str, fields: dict[str, Any]) -> list[MetricRow]:
        """Steps 3-7 for an event whose component is known (``resolve``d or routed)."""
        rows = Rows(self.series)
        self._fill(rows)
        self.step_into(ts, comp, event, fields)
        return list(rows)

    def _fill(self, rows: Rows) -> None:
        """Append the rows of the steps that follow to ``rows``."""
        self._rows = rows
        self._ts, self._ids, self._values = rows.ts, rows.ids, rows.values

    def step_events(self, rows: Rows, times: list[int], codes: list[int], table: list[tuple[Any, ...]],
                    lo: int, hi: int, pauses: Pauses | None) -> None:
        """The hot loop: step the events at positions ``lo`` to ``hi - 1`` of a block, each
        ``times[k]`` and ``table[codes[k]]`` (component or None, event, target, target
        type, fields: ``EventTable.resolved``), appending their rows to ``rows`` (whose
        series are this engine's ``series``).

        If an event raises, its rows are taken back out of ``rows``, and ``failed_at``
        is its position: the state is then that of a half step, for the caller to rewind.
        """
        self._fill(rows)
        ids = self._ids
        low, high = (pauses.low, pauses.high) if pauses is not None else (-_INF, _INF)
        pending = pauses.pending if pauses is not None else _EMPTY_PENDING
        k = lo
        before = len(ids)
        try:
            for k in range(lo, hi):
                before = len(ids)
                ts = times[k]
                if not low <= ts <= high and pauses is not None:  # never without a scorer
                    pauses.reached(k, ts, before)
                    low, high = pauses.low, pauses.high
                comp, event, target, target_type, fields = table[codes[k]]
                if comp is None:
                    comp = self.component_for(event, target, target_type)
                if comp is not None:
                    self.step_into(ts, comp, event, fields)
                if pending and pauses is not None:
                    pauses.took(k, before)
        except BaseException:
            rows.truncate(before)
            self.failed_at = k
            raise

    def step_into(self, ts: int, comp: Component, event: str, fields: dict[str, Any]) -> None:
        """``step_resolved`` appending the event's rows to the ``Rows`` being filled."""
        machine: Machine = comp.machine
        if event in machine.counted:
            counts = comp.counts
            counts[event] = counts.get(event, 0) + 1
        infer = self.infer.get(event)
        if infer:  # 3. infer, whatever happens next
            self._apply(infer, comp)
        if fields:
            pallet = fields.get("pallet")
            if pallet is not None:
                comp.pallet = pallet if type(pallet) is str else str(pallet)
        options = machine.table[comp.state].get(event)
        start = len(self._ids)
        if options is None:
            if event not in machine.uses:
                if fields:  # 4. capture on the current visit
                    capture(comp, machine.value_fields, fields)
                comp.data_only += 1
                return
            self._jump(comp, machine, ts, event, fields)  # 6. (it captures)
        else:
            if fields:  # 4. capture on the current visit, before its exit
                capture(comp, machine.value_fields, fields)
            for t in options:  # 5.
                if not t.requires or self._holds(t.requires, comp):
                    self._transit(comp, machine, t, ts, _REAL)
                    break
            else:
                comp.guard_blocked += 1
                self._violation(ts, comp, "guard_blocked")
                return
        if self._on_row and len(self._ids) > start:
            for row in self._rows[start:]:
                for obs in self._on_row:
                    obs.on_row(row)

    # -- 2. resolve the target --------------------------------------------------------
    def _route(self, event: str, target_type: str | None) -> Component | None:
        """A line that names no component: first in, first out (SPEC 4.2)."""
        pool = self._pools.get(target_type, _NO_POOL)
        best: Component | None = None
        best_key = 0
        for c in pool:
            if event in c.machine.table[c.state]:
                key = _NO_ENTRY if c.entered is None else c.entered
                if best is None or key < best_key:
                    best, best_key = c, key
        if best is not None:
            return best
        if not any(event in c.machine.uses for c in pool):
            latest = max(pool, key=_last_transition, default=None)
            if latest is not None and latest.last_transition > 0:
                return latest
        self.counters["unrouted"] += 1
        return None

    def _lookup(self, name: str, target_type: str | None, event: str) -> Component | None:
        """A raw name -> its component: an id, else an alias (of ``target_type``)."""
        comp = self.by_id.get(name)
        if comp is not None:
            return comp
        found = self._aliases.get(name, [])
        if target_type is not None:
            found = [c for c in found if c.type == target_type]
        if len(found) > 1:  # a station name shared by several types: the one that uses the event
            users = [c for c in found if event in c.machine.uses]
            return users[0] if users else found[0]
        return found[0] if found else None

    # -- 3./4. ---------------------------------------------------------------------------
    def _apply(self, infer: tuple[tuple[str | None, str, Any], ...], comp: Component) -> None:
        for cid, sensor, value in infer:
            owner = comp if cid is None else self.by_id[cid]
            if sensor in owner.sensors:
                owner.sensors[sensor] = value

    def _holds(self, requires: tuple[tuple[str | None, str, Any], ...], comp: Component) -> bool:
        for cid, sensor, value in requires:
            owner = comp if cid is None else self.by_id[cid]
            if owner.sensors.get(sensor) != value:
                return False
        return True

    # -- 5./6./7. -------------------------------------------------------------------------
    def _jump(self, comp: Component, machine: Machine, ts: int, event: str, fields: dict[str, Any]) -> None:
        """6. A permissive jump: synthesised steps, then the event's own transition.

        The event's fields are a measurement of the visit its final transition closes
        (the last synthesised state), not of the stale visit the jump leaves.
        """
        path = machine.jump_path(comp.state, event, self.max_jump) if self.permissive else None
        if path is None:
            if fields:  # no change: the fields stay on the current visit
                capture(comp, machine.value_fields, fields)
            comp.invalid_transition += 1
            self._violation(ts, comp, "invalid_transition")
            return
        comp.jumps += 1
        comp.inferred_steps += len(path) - 1
        own_infer = self.infer.get(event)
        last = len(path) - 1
        for i, t in enumerate(path):
            if i < last:
                step_infer = self.infer.get(t.event)
                if step_infer:
                    self._apply(step_infer, comp)
                if own_infer:
                    self._apply(own_infer, comp)
            elif fields:
                capture(comp, machine.value_fields, fields)
            visit = _REAL if i == 0 else _INFERRED if i < last else _CLOSED
            self._transit(comp, machine, t, ts, visit, i < last)

    def _transit(
        self, comp: Component, machine: Machine, t: Transition, ts: int, visit: int, synthesised_to: bool = False,
    ) -> None:
        """Leave the current state by ``t`` at ``ts``, appending its rows (7.) to the ``Rows``;
        ``visit`` says what is known of the visit left (_REAL, or a synthesised one:
        _INFERRED, _CLOSED by the event).

        A synthesised visit writes its durations as ``0.0`` with ``STATE:inferred`` and
        no counts; the one the event closes (_CLOSED) also writes its values, which the
        event's own line measured (the plain state name: they are real).
        """
        state = comp.state
        entered = comp.entered
        cid = comp.id
        ts_out, ids_out, values_out = self._ts, self._ids, self._values
        for kind, field_name, agg, event, per, sid, inferred in comp.exits[state]:  # 7.
            if kind == "duration":
                if visit:
                    ts_out.append(ts)
                    ids_out.append(inferred)
                    values_out.append(0.0)
                elif entered is None:
                    pass  # the visit's start was never seen
                elif ts < entered:
                    comp.negative_duration += 1
                else:
                    # whole µs / 10^6, 10^3 or 1 is already the nearest float to a 6-decimal number
                    value = (ts - entered) / per
                    if per > 1_000_000:  # minutes, hours
                        value = round(value, 6)
                    ts_out.append(ts)
                    ids_out.append(sid)
                    values_out.append(value)
            elif kind == "value":
                if visit == _INFERRED:
                    continue  # nothing of this visit was seen: no value to miss either
                acc = comp.captures.get(field_name or "")
                if acc is None:
                    comp.missing_value += 1
                    continue
                ts_out.append(ts)
                ids_out.append(sid)
                values_out.append(aggregate(acc, agg))
            elif not visit:
                ts_out.append(ts)
                ids_out.append(sid)
                values_out.append(float(comp.counts.get(event or "", 0)))
        to = t.to
        comp.previous = state
        comp.state = to
        comp.entered = ts
        if comp.captures:
            comp.captures = {}
        if comp.counts:
            comp.counts = {}
        self.sequence += 1
        comp.last_transition = self.sequence
        comp.transitions += 1
        if self._on_change:
            change = _new_row(StateChange, (ts, cid, state, to, t.event, synthesised_to))
            for on_change in self._on_change:
                on_change(change)
        faults = machine.faults
        if faults and self._on_fault and (state in faults or to in faults):
            for obs in self._on_fault:
                if state in faults:
                    obs.on_fault_end(ts, cid, state, entered)
                if to in faults:
                    obs.on_fault_start(ts, cid, to)

    def _series_ids(self, cid: str, state: str, metric: Metric) -> tuple[int, int]:
        """The series of a metric's rows of leaving ``state``, and of its ``STATE:inferred``
        rows (durations only; else -1), registered in ``series``."""
        contexts = (state, state + INFERRED_SUFFIX) if metric.kind == "duration" else (state,)
        first = len(self.series)
        self.series += [(cid, metric.name, metric.unit, context) for context in contexts]
        return first, first + 1 if len(contexts) > 1 else -1

    def _violation(self, ts: int, comp: Component, kind: str) -> None:
        for obs in self._on_violation:
            obs.on_violation(ts, comp.id, kind)

    # -- state as plain data ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "components": [c.to_dict() for c in self.components],
            "counters": dict(self.counters),
            "sequence": self.sequence,
        }

    def load_state(self, data: dict[str, Any]) -> None:
        """Restore ``state_dict``; components are matched by id, new ones keep their start."""
        saved = {c["id"]: c for c in data["components"]}
        for comp in self.components:
            entry = saved.get(comp.id)
            if entry is not None and entry["state"] in comp.machine.table:
                comp.load(entry)
        self.counters = {**dict.fromkeys(GLOBAL_COUNTERS, 0), **data["counters"]}
        self.sequence = int(data["sequence"])

    def component_counters(self) -> dict[str, dict[str, int]]:
        return {c.id: c.report() for c in self.components}

    def statuses(self) -> tuple[ComponentStatus, ...]:
        """Each component's state, entry time and counters (observers get them once a block)."""
        return tuple(ComponentStatus(c.id, c.state, c.entered, c.report()) for c in self.components)


_NO_POOL: list[Component] = []
_EMPTY_PENDING: list[Any] = []
_INF = float("inf")
_new_row = tuple.__new__  # MetricRow(...) through NamedTuple.__new__ costs twice as much


def _last_transition(c: Component) -> int:
    return c.last_transition
