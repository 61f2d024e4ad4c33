"""A machine type of process_logic.yaml compiled into lookup tables: its metrics per
state, its transitions per (state, event), and the jump paths of SPEC 4 step 6."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

from logloom.config.schema import DURATION_UNITS


class Metric(NamedTuple):
    """A metric of a state, compiled (a tuple: the hot loop unpacks it)."""

    name: str
    kind: str  # duration | value | count
    unit: str
    field: str | None
    agg: str
    event: str | None
    per: int  # duration: µs per unit (1 µs to 1 h); 0 otherwise


@dataclass(frozen=True, slots=True)
class Transition:
    source: str  # a state or "*"
    event: str
    to: str
    requires: tuple[
        tuple[str | None, str, Any], ...
    ]  # (component id or None: target, sensor, value)


class Machine:
    """One machine type compiled into lookup tables, with a cache of jump paths."""

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        self.initial: str = spec.initial
        self.metrics: dict[str, tuple[Metric, ...]] = {
            s: tuple(
                Metric(m.name, m.type, m.resolved_unit, m.field, m.agg or "last", m.event,
                       DURATION_UNITS.get(m.resolved_unit, 0) if m.type == "duration" else 0)
                for m in spec.metrics_of(s)
            )
            for s in spec.states
        }
        self.transitions: list[Transition] = [
            Transition(
                src, t.event, t.to, tuple((*sensor_ref(k), v) for k, v in t.requires.items())
            )
            for t in spec.transitions
            for src in t.sources
        ]
        # state -> event -> transitions from that state in config order ("*" included)
        self.table: dict[str, dict[str, list[Transition]]] = {s: {} for s in spec.states}
        for t in self.transitions:
            for state in self.table if t.source == "*" else (t.source,):
                self.table[state].setdefault(t.event, []).append(t)
        self.uses = frozenset(t.event for t in self.transitions)
        # states marked ``fault: true``: entering and leaving them is reported
        self.faults = frozenset(s for s, st in spec.states.items() if st is not None and st.fault)
        self.value_fields = frozenset(
            m.field for ms in self.metrics.values() for m in ms if m.kind == "value" and m.field
        )
        self.counted = frozenset(
            m.event for ms in self.metrics.values() for m in ms if m.kind == "count" and m.event
        )
        self._jumps: dict[tuple[str, str, int], tuple[Transition, ...] | None] = {}

    def jump_path(self, state: str, event: str, max_jump: int) -> tuple[Transition, ...] | None:
        """Shortest path from ``state`` whose last transition is on ``event`` (SPEC 4.6).

        Breadth-first in config order; at most ``max_jump`` synthesised steps before
        the last one; wildcard transitions are never synthesised steps.
        """
        key = (state, event, max_jump)
        if key in self._jumps:
            return self._jumps[key]
        path: tuple[Transition, ...] | None = None
        queue: deque[tuple[str, tuple[Transition, ...]]] = deque([(state, ())])
        seen = {state}
        while queue:
            current, steps = queue.popleft()
            final = self.table[current].get(event)
            if final and steps:
                path = (*steps, final[0])
                break
            if len(steps) >= max_jump:
                continue
            for t in self.transitions:
                if t.source == current and t.to not in seen:
                    seen.add(t.to)
                    queue.append((t.to, (*steps, t)))
        self._jumps[key] = path
        return path


def sensor_ref(key: str) -> tuple[str | None, str]:
    """``sensor`` (the event's target) or ``component_id.sensor``: (component id or None, sensor)."""
    if "." in key:
        cid, sensor = key.split(".", 1)
        return (cid, sensor)
    return (None, key)
