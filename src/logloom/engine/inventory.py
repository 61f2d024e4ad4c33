"""Components: dumb state containers, built from machine_graph.yaml.

A ``Component`` holds what the engine knows of one machine: its state, the state
before, when it entered the state, the pallet it holds, its virtual sensors, what
the current visit captured and counted, and its conformance counters. It has no
behaviour; ``engine.py`` decides. Everything in it is plain data (``to_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logloom.config.load import Config

COUNTERS = (
    "transitions",
    "jumps",
    "inferred_steps",
    "guard_blocked",
    "invalid_transition",
    "data_only",
    "missing_value",
    "negative_duration",
)


# A metric of a state as a component writes it: kind, field, agg, counted event, µs per
# unit (durations), its series and, for a duration, the series of its inferred rows (else -1)
Exit = tuple[str, str | None, str, str | None, int, int, int]


@dataclass(eq=False, slots=True)
class Component:
    id: str
    type: str
    index: int  # position in machine_graph.yaml: routing ties go to the earlier one
    state: str
    previous: str | None = None
    entered: int | None = None  # µs; None: the visit's start was never seen
    pallet: str | None = None
    sensors: dict[str, Any] = field(default_factory=dict)
    # current visit: field -> [first, last, min, max, sum, n] of numeric captures
    captures: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # event type -> events this visit
    # the counters of run_summary.json (COUNTERS): attributes, which the engine counts fastest
    transitions: int = 0
    jumps: int = 0
    inferred_steps: int = 0
    guard_blocked: int = 0
    invalid_transition: int = 0
    data_only: int = 0
    missing_value: int = 0
    negative_duration: int = 0
    last_transition: int = 0  # sequence number of its latest transition; 0: never moved
    machine: Any = None  # the compiled machine of its type, set by the engine
    # state -> what leaving it writes: a row of each of its metrics (Exit), set by the engine
    exits: dict[str, tuple[Exit, ...]] = field(default_factory=dict)

    @property
    def counters(self) -> dict[str, int]:
        """The counters by name, in COUNTERS' order (a copy)."""
        return {name: getattr(self, name) for name in COUNTERS}

    def report(self) -> dict[str, int]:
        """The counters for run_summary.json, with ``events``: every event that reached it.

        An event is data-only, guard-blocked, invalid, or takes one transition
        directly or several in a jump (of which all but the last are inferred steps).
        """
        c = self.counters
        events = (c["data_only"] + c["guard_blocked"] + c["invalid_transition"]
                  + c["transitions"] - c["inferred_steps"])
        return {"events": events, **c}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "previous": self.previous,
            "entered": self.entered,
            "pallet": self.pallet,
            "sensors": dict(self.sensors),
            "captures": {k: list(v) for k, v in self.captures.items()},
            "counts": dict(self.counts),
            "counters": self.counters,
            "last_transition": self.last_transition,
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore what ``to_dict`` saved (id and type come from the config)."""
        self.state = data["state"]
        self.previous = data["previous"]
        self.entered = data["entered"]
        self.pallet = data["pallet"]
        self.sensors = dict(data["sensors"])
        self.captures = {k: list(v) for k, v in data["captures"].items()}
        self.counts = dict(data["counts"])
        for name in COUNTERS:
            setattr(self, name, int(data["counters"].get(name, 0)))
        self.last_transition = data["last_transition"]


class ComponentFactory:
    """Makes the line's components, in graph order, each in its machine's initial state."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def build(self) -> list[Component]:
        machines = self._config.logic.machines
        return [
            Component(
                id=spec.id,
                type=spec.type,
                index=i,
                state=machines[spec.type].initial,
                sensors=dict(spec.sensors),
            )
            for i, spec in enumerate(self._config.graph.components)
        ]
