"""What an engine that reads only the written lines believes about each component.

``EngineView`` replays SPEC section 4 on the lines the simulator writes (not on the
dropped ones): first-in-first-out routing of lines without a station, ``infer`` on
the virtual sensors (always, even when the event is then blocked), ``requires``
guards, and permissive jumps. It is deliberately small: it tracks the state, its
entry time and the sensors, never metrics. ``Truth`` compares it with the true
visits to find the visits an engine must get wrong.
"""

from __future__ import annotations

import math
from typing import Any

from logloom.simulator.model import Condition, LineModel, Machine, Transition

_Key = tuple[int | None, str]  # (component index, or None for the event's target; sensor)


class EngineView:
    """Per component: the believed state, its entry time and the virtual sensors."""

    def __init__(self, model: LineModel, state: list[str], entry: list[int | None], *,
                 share: bool = False) -> None:
        """Start from ``state``/``entry``: copies, or (``share``) those very lists, for a
        view that is never stepped and only routes by the truth."""
        comps = model.components
        index = {c.id: c.index for c in comps}
        self.state = state if share else list(state)
        self.entry = entry if share else list(entry)
        self._sensors: list[dict[str, Any]] = [dict(c.sensors) for c in comps]
        self._machines: list[Machine] = [model.machine_of(c) for c in comps]
        self._max_jump = model.max_jump if model.permissive else 0
        self._infers = {event: _keys(cond, index) for event, cond in model.infers.items()}
        self._index = index
        self._choices: dict[tuple[int, str, str], tuple[Transition, ...]] = {}
        self._jumps: dict[tuple[int, str, str], tuple[Transition, ...] | None] = {}
        self._used = [{tr.event for tr in m.transitions} for m in self._machines]
        # the last synthesised state of the latest step's jump (None: no jump): the
        # engine measures its values on the line's fields under the plain state name
        self.closed: str | None = None

    def route(self, event: str, candidates: list[int]) -> int | None:
        """First in, first out among ``candidates`` whose state has a transition on ``event``."""
        best: int | None = None
        best_entry = -math.inf
        for comp in candidates:
            if not self._transitions(comp, self.state[comp], event):
                continue
            entry = self.entry[comp]
            key = -math.inf if entry is None else entry
            if best is None or key < best_entry:
                best, best_entry = comp, key
        return best

    def step(self, comp: int, event: str, t: int) -> str | None:
        """Apply one written line's event to ``comp``; returns the state it left, if any."""
        self.closed = None
        self._infer(comp, event)
        if event not in self._used[comp]:
            return None  # data-only
        old = self.state[comp]
        choices = self._transitions(comp, old, event)
        if choices:
            taken = next((tr for tr in choices if self._holds(comp, tr.requires)), None)
            if taken is None:
                return None  # guard_blocked
            new = taken.to
        elif self._max_jump:
            path = self._jump(comp, old, event)
            if path is None:
                return None  # invalid_transition
            for tr in path[:-1]:
                self._infer(comp, tr.event)
            self._infer(comp, event)  # the latest event has the last word
            new = path[-1].to
            self.closed = path[-2].to
        else:
            return None  # invalid_transition (strict)
        self.state[comp] = new
        self.entry[comp] = t
        return old

    def _transitions(self, comp: int, state: str, event: str) -> tuple[Transition, ...]:
        key = (comp, state, event)
        found = self._choices.get(key)
        if found is None:
            found = self._choices[key] = self._machines[comp].choices(state, event)
        return found

    def _jump(self, comp: int, state: str, event: str) -> tuple[Transition, ...] | None:
        key = (comp, state, event)
        if key not in self._jumps:
            self._jumps[key] = self._machines[comp].jump_path(state, event, self._max_jump)
        return self._jumps[key]

    def _infer(self, comp: int, event: str) -> None:
        infer = self._infers.get(event)
        if infer:
            for (owner, sensor), value in infer:
                self._sensors[comp if owner is None else owner][sensor] = value

    def _holds(self, comp: int, requires: Condition) -> bool:
        for key, value in requires:
            owner, sensor = _key(key, self._index)
            if self._sensors[comp if owner is None else owner].get(sensor) != value:
                return False
        return True


def _key(key: str, index: dict[str, int]) -> _Key:
    component, dot, sensor = key.rpartition(".")
    return (index[component], sensor) if dot else (None, key)


def _keys(condition: Condition, index: dict[str, int]) -> tuple[tuple[_Key, Any], ...]:
    return tuple((_key(key, index), value) for key, value in condition)
