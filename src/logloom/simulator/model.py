"""The simulated line as the configs describe it: components, stages, state machines, metrics.

Owns reading machine_graph.yaml and process_logic.yaml (``config_yaml.load_yaml``),
checking that they describe a line the behaviour models can drive (a chain of
conveyors and stations of the types ``conveyor``, ``clamp`` and ``dispenser``), and
the tables the truth tracker needs: transitions per state and the metric
definitions in the order the config gives them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from logloom.config.yaml_io import load_yaml
from logloom.simulator.options import SimError

MODELLED_TYPES = ("conveyor", "clamp", "dispenser")
DEFAULT_UNITS = {"duration": "s", "count": "count", "value": ""}
AGGREGATIONS = ("last", "first", "min", "max", "mean")

# (from, event, to) that the behaviour models rely on, per machine type.
EXPECTED_TRANSITIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "conveyor": (("IDLE", "CONVEYOR_START", "MOVING"), ("MOVING", "CONVEYOR_STOP", "IDLE")),
    "clamp": (("OPEN", "CLAMP_CLOSE", "CLOSED"), ("CLOSED", "CLAMP_OPEN", "OPEN")),
    "dispenser": (
        ("IDLE", "PALLET_ARRIVED", "READY_TO_DISPENSE"),
        ("READY_TO_DISPENSE", "PROCESS_START", "DISPENSING"),
        ("DISPENSING", "PROCESS_END", "UNCLAMPING"),
        ("UNCLAMPING", "PALLET_RELEASED", "IDLE"),
        ("DISPENSING", "FAULT", "ERROR"),
        ("ERROR", "RESET", "IDLE"),
    ),
}
DATA_EVENTS = {"clamp": ("CLAMP_PRESSURE",), "dispenser": ("DISPENSE_PRESSURE", "DISPENSE_RETRY")}
# States whose visit length the behaviour models set, so anomalies can scale them.
SCALABLE_STATES = {
    "conveyor": ("MOVING",),
    "clamp": ("CLOSED",),
    "dispenser": ("READY_TO_DISPENSE", "DISPENSING", "UNCLAMPING"),
}
# Value fields the behaviour models write, per (machine type, state).
WRITTEN_FIELDS = {("clamp", "CLOSED"): ("pressure",), ("dispenser", "DISPENSING"): ("pressure", "volume")}


@dataclass(frozen=True)
class MetricDef:
    """One metric of a state, as process_logic.yaml defines it (defaults filled in)."""

    name: str
    kind: str  # duration | value | count
    unit: str
    field: str  # value: the captured field
    agg: str  # value: last | first | min | max | mean
    event: str  # count: the counted event type


Condition = tuple[tuple[str, Any], ...]  # (sensor key, value): "sensor" or "component.sensor"


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...] | None  # None: from any state ("*")
    event: str
    to: str
    requires: Condition = ()


@dataclass(frozen=True)
class Machine:
    """A machine type's state machine and metric definitions."""

    name: str
    initial: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    metrics: dict[str, tuple[MetricDef, ...]]

    def direct(self, state: str, event: str) -> str | None:
        """The target of the first transition from ``state`` on ``event`` (guards ignored)."""
        for tr in self.transitions:
            if tr.event == event and (tr.sources is None or state in tr.sources):
                return tr.to
        return None

    def choices(self, state: str, event: str) -> tuple[Transition, ...]:
        """The transitions from ``state`` on ``event``, in config order (guards not checked)."""
        return tuple(tr for tr in self.transitions
                     if tr.event == event and (tr.sources is None or state in tr.sources))

    def jump_path(self, state: str, event: str, max_jump: int) -> tuple[Transition, ...] | None:
        """The steps of a permissive jump on ``event`` from ``state`` (SPEC 4 step 6).

        Breadth-first in config order, never through a wildcard transition; the last
        step is the one on ``event``. None when there is no such path.
        """
        queue: deque[tuple[str, tuple[Transition, ...]]] = deque([(state, ())])
        seen = {state}
        while queue:
            current, path = queue.popleft()
            if path:
                final = self.choices(current, event)
                if final:
                    return (*path, final[0])
            if len(path) == max_jump:
                continue
            for tr in self.transitions:
                if tr.sources is not None and current in tr.sources and tr.to not in seen:
                    seen.add(tr.to)
                    queue.append((tr.to, (*path, tr)))
        return None

    def duration_metric(self, state: str) -> str:
        """The name anomalies.csv uses for a state's length: its first duration metric."""
        for metric in self.metrics.get(state, ()):
            if metric.kind == "duration":
                return metric.name
        return state


@dataclass(frozen=True)
class Component:
    index: int  # position in machine_graph.yaml: the tie-break of FIFO routing
    id: str
    type: str
    name: str  # the raw name the log uses for it
    next: tuple[str, ...]
    sensors: Condition = ()  # initial values


@dataclass(frozen=True)
class Station:
    """A dispenser, with the clamp that holds the pallet for it, under one station name."""

    name: str
    dispenser: Component
    clamp: Component | None


@dataclass(frozen=True)
class LineModel:
    """The whole simulated line: components in graph order and the stages a pallet visits."""

    components: tuple[Component, ...]
    machines: dict[str, Machine]
    infers: dict[str, Condition]  # event type -> the sensors it sets
    stages: tuple[Component | Station, ...]
    permissive: bool
    max_jump: int
    graph_path: Path

    def component(self, component_id: str) -> Component:
        for comp in self.components:
            if comp.id == component_id:
                return comp
        known = ", ".join(c.id for c in self.components)
        raise SimError(f"unknown component {component_id!r}; the line has {known}", "--anomalies")

    def machine_of(self, comp: Component) -> Machine:
        return self.machines[comp.type]


def load_model(config_dir: Path) -> LineModel:
    """Read and check the graph and the process logic under ``config_dir``."""
    graph_path = config_dir / "machine_graph.yaml"
    logic_path = config_dir / "process_logic.yaml"
    graph = _load_yaml(graph_path)
    logic = _load_yaml(logic_path)
    components = _components(graph, graph_path)
    machines = _machines(logic, logic_path, {c.type for c in components})
    settings = logic.get("settings") or {}
    events = logic.get("events") or {}
    infers = {name: tuple(((body or {}).get("infer") or {}).items())
              for name, body in events.items()}
    return LineModel(
        components=components,
        machines=machines,
        infers=infers,
        stages=_stages(components, graph_path),
        permissive=bool(settings.get("permissive", True)),
        max_jump=int(settings.get("max_jump", 4)),
        graph_path=graph_path,
    )


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimError(f"{path}: cannot read it ({exc.strerror})", "--config") from exc
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise SimError(f"{path}: not valid YAML ({exc})", "--config") from exc
    if not isinstance(data, dict):
        raise SimError(f"{path}: expected a mapping at the top", "--config")
    return data


def _components(graph: dict[str, Any], path: Path) -> tuple[Component, ...]:
    raw = graph.get("components")
    if not isinstance(raw, list) or not raw:
        raise SimError(f"{path}: components: expected a non-empty list", "--config")
    components = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or "id" not in entry or "type" not in entry:
            raise SimError(f"{path}: components[{index}]: needs an id and a type", "--config")
        if entry["type"] not in MODELLED_TYPES:
            raise SimError(
                f"{path}: components[{index}] ({entry['id']}) has type {entry['type']!r}; "
                f"simulate models only {', '.join(MODELLED_TYPES)}",
                "--config",
            )
        aliases = entry.get("aliases") or []
        name = str(aliases[0]) if aliases else str(entry["id"])
        components.append(Component(
            index, str(entry["id"]), entry["type"], name, tuple(entry.get("next") or ()),
            tuple((entry.get("sensors") or {}).items()),
        ))
    return tuple(components)


def _machines(logic: dict[str, Any], path: Path, used: set[str]) -> dict[str, Machine]:
    raw = logic.get("machines") or {}
    machines = {}
    for type_name in sorted(used):
        if type_name not in raw:
            raise SimError(f"{path}: machines: no machine {type_name!r}", "--config")
        machine = _machine(type_name, raw[type_name], path)
        _check_behaviour(machine, path)
        machines[type_name] = machine
    return machines


def _machine(name: str, raw: dict[str, Any], path: Path) -> Machine:
    states = raw.get("states") or {}
    transitions = []
    for tr in raw.get("transitions") or []:
        source = tr["from"]
        sources = None if source == "*" else tuple([source] if isinstance(source, str) else source)
        requires = tuple((tr.get("requires") or {}).items())
        transitions.append(Transition(sources, tr["event"], tr["to"], requires))
    metrics = {
        state: tuple(_metric(m, f"{path}: machines.{name}.states.{state}") for m in (body or {}).get(
            "metrics", []
        ))
        for state, body in states.items()
    }
    return Machine(name, raw["initial"], tuple(states), tuple(transitions), metrics)


def _metric(raw: dict[str, Any], where: str) -> MetricDef:
    kind = raw.get("type")
    if kind not in DEFAULT_UNITS:
        raise SimError(f"{where}: metric {raw.get('name')!r} has unknown type {kind!r}", "--config")
    agg = raw.get("agg", "last")
    if agg not in AGGREGATIONS:
        raise SimError(f"{where}: metric {raw['name']!r} has unknown agg {agg!r}", "--config")
    unit = raw.get("unit")
    return MetricDef(
        name=raw["name"],
        kind=kind,
        unit=DEFAULT_UNITS[kind] if unit is None else str(unit),
        field=raw.get("field", ""),
        agg=agg,
        event=raw.get("event", ""),
    )


def _check_behaviour(machine: Machine, path: Path) -> None:
    where = f"{path}: machines.{machine.name}"
    expected_initial = EXPECTED_TRANSITIONS[machine.name][0][0]
    if machine.initial != expected_initial:
        raise SimError(
            f"{where}.initial is {machine.initial!r}; the {machine.name} model starts in "
            f"{expected_initial!r}",
            "--config",
        )
    for source, event, to in EXPECTED_TRANSITIONS[machine.name]:
        if machine.direct(source, event) != to:
            raise SimError(
                f"{where}: the {machine.name} model needs {source} --{event}--> {to}", "--config"
            )
    for event in DATA_EVENTS.get(machine.name, ()):
        if any(tr.event == event for tr in machine.transitions):
            raise SimError(f"{where}: {event} must be a data-only event", "--config")


def _stages(components: tuple[Component, ...], path: Path) -> tuple[Component | Station, ...]:
    by_id = {c.id: c for c in components}
    for comp in components:
        for target in comp.next:
            if target not in by_id:
                raise SimError(f"{path}: {comp.id}.next names unknown {target!r}", "--config")
    fed = {t for c in components for t in c.next}
    heads = [c for c in components if c.id not in fed]
    if len(heads) != 1 or heads[0].type != "conveyor":
        raise SimError(
            f"{path}: simulate needs one infeed conveyor that no component feeds; found "
            f"{', '.join(c.id for c in heads) or 'none'}",
            "--config",
        )
    stages: list[Component | Station] = []
    current: Component | None = heads[0]
    while current is not None:
        stages.append(current)
        station = _station(current, by_id, path)
        if station is None:
            break
        stages.append(station)
        current = _next_conveyor(station, by_id, path)
    covered = {c.id for s in stages for c in _members(s)}
    missing = [c.id for c in components if c.id not in covered]
    if missing:
        raise SimError(
            f"{path}: simulate needs one chain conveyor -> station -> conveyor ...; "
            f"{', '.join(missing)} are off it",
            "--config",
        )
    return tuple(stages)


def _station(conveyor: Component, by_id: dict[str, Component], path: Path) -> Station | None:
    if not conveyor.next:
        return None
    members = [by_id[t] for t in conveyor.next]
    dispensers = [m for m in members if m.type == "dispenser"]
    clamps = [m for m in members if m.type == "clamp"]
    if len(dispensers) != 1 or len(clamps) > 1 or len(members) != len(dispensers) + len(clamps):
        raise SimError(
            f"{path}: {conveyor.id}.next must name one dispenser and at most one clamp",
            "--config",
        )
    dispenser = dispensers[0]
    clamp = clamps[0] if clamps else None
    if clamp is not None and clamp.name != dispenser.name:
        raise SimError(
            f"{path}: {clamp.id} and {dispenser.id} must share their first alias (the station)",
            "--config",
        )
    return Station(dispenser.name, dispenser, clamp)


def _next_conveyor(station: Station, by_id: dict[str, Component], path: Path) -> Component | None:
    targets = station.dispenser.next
    if not targets:
        return None
    if len(targets) != 1 or by_id[targets[0]].type != "conveyor":
        raise SimError(f"{path}: {station.dispenser.id}.next must name one conveyor", "--config")
    return by_id[targets[0]]


def _members(stage: Component | Station) -> tuple[Component, ...]:
    if isinstance(stage, Component):
        return (stage,)
    return (stage.dispenser,) if stage.clamp is None else (stage.clamp, stage.dispenser)
