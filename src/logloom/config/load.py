"""Load the four config files, validate them together, report every problem at once.

``load_config(dir)`` returns a ``Config`` or raises ``ConfigError`` listing each
problem with its file, key path, line and a hint. Warnings (e.g. an unreachable
state) travel on ``Config.warnings``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from logloom.config.patterns import captured, check_patterns
from logloom.config.salvage import follows_from, salvage
from logloom.config.schema import LogPatterns, MachineGraph, ProcessLogic, VizResources
from logloom.config.usage import check_event_use
from logloom.config.validation import choices, validate
from logloom.config.yaml_io import ConfigFile, KeyPath, read_yaml
from logloom.errors import ConfigError, Problem

GRAPH_FILE = "machine_graph.yaml"
LOGIC_FILE = "process_logic.yaml"
PATTERNS_FILE = "log_patterns.yaml"
VIZ_FILE = "viz_resources.yaml"
M = TypeVar("M", bound=BaseModel)

@dataclass(frozen=True)
class Config:
    """The validated configuration of one line."""

    directory: Path
    graph: MachineGraph
    logic: ProcessLogic
    patterns: LogPatterns
    viz: VizResources | None
    sha256: str
    warnings: tuple[Problem, ...] = ()

    def summary(self) -> str:
        n_states = sum(len(m.states) for m in self.logic.machines.values())
        n_metrics = sum(
            len(m.metrics_of(s)) for m in self.logic.machines.values() for s in m.states
        )
        return (
            f"line {self.graph.line}: {len(self.graph.components)} components, "
            f"{len(self.logic.machines)} machine types, {n_states} states, "
            f"{n_metrics} metrics, {len(self.patterns.patterns)} patterns"
        )


# -- cross-file checks -------------------------------------------------------------------
def _check_graph(graph: MachineGraph, logic: ProcessLogic | None, f: ConfigFile) -> None:
    ids: dict[str, int] = {}
    for i, comp in enumerate(graph.components):
        if comp.id in ids:
            f.add(("components", i, "id"), f"duplicate component id '{comp.id}'")
        ids[comp.id] = i
    alias_owner: dict[tuple[str, str], str] = {}
    for i, comp in enumerate(graph.components):
        if logic is not None and comp.type not in logic.machines:
            f.add(
                ("components", i, "type"),
                f"unknown machine type '{comp.type}'",
                choices(comp.type, logic.machines),
            )
        for j, alias in enumerate(comp.aliases):
            owner = alias_owner.get((comp.type, alias))
            if owner is not None and owner != comp.id:
                f.add(
                    ("components", i, "aliases", j),
                    f"alias '{alias}' already names '{owner}', another {comp.type}",
                    "an alias must be unique among components of one type",
                )
            alias_owner[(comp.type, alias)] = comp.id
        for j, nxt in enumerate(comp.next):
            if nxt not in ids:
                f.add(
                    ("components", i, "next", j), f"unknown component '{nxt}'", choices(nxt, ids)
                )


def _check_logic(
    logic: ProcessLogic, graph: MachineGraph | None, pats: LogPatterns | None, f: ConfigFile
) -> None:
    comps = {c.id: c for c in graph.components} if graph else {}
    for mname, m in logic.machines.items():
        base = ("machines", mname)
        if m.initial not in m.states:
            f.add((*base, "initial"), f"unknown state '{m.initial}'", choices(m.initial, m.states))
        names: set[str] = set()
        for sname in m.states:
            for k, metric in enumerate(m.metrics_of(sname)):
                path = (*base, "states", sname, "metrics", k, "name")
                if metric.name in names:
                    f.add(path, f"metric name '{metric.name}' is used twice in machine '{mname}'")
                names.add(metric.name)
        for k, t in enumerate(m.transitions):
            tp = (*base, "transitions", k)
            for src in t.sources:
                if src != "*" and src not in m.states:
                    f.add((*tp, "from"), f"unknown state '{src}'", choices(src, m.states))
            if t.to not in m.states:
                f.add((*tp, "to"), f"unknown state '{t.to}'", choices(t.to, m.states))
            members = [c for c in comps.values() if c.type == mname]
            for key in t.requires:
                _check_sensor_key(key, members, comps, f, (*tp, "requires", key))
        if m.initial in m.states:
            reach = _reachable(m)
            for sname in m.states:
                if sname not in reach:
                    f.add(
                        (*base, "states", sname),
                        f"state '{sname}' cannot be reached from '{m.initial}'",
                        "add a transition into it or remove it",
                        warning=True,
                    )
    for ename, espec in logic.events.items():
        users = [
            c
            for c in comps.values()
            if c.type in logic.machines
            and any(t.event == ename for t in logic.machines[c.type].transitions)
        ]
        if pats is not None:
            types_ = {p.target_type for p in pats.patterns if p.event == ename and p.target_type}
            users += [c for c in comps.values() if c.type in types_]
        for key in espec.infer:
            _check_sensor_key(
                key, users or list(comps.values()), comps, f, ("events", ename, "infer", key)
            )


def _check_sensor_key(
    key: str, members: list[Any], comps: dict[str, Any], f: ConfigFile, path: KeyPath
) -> None:
    if not comps:
        return
    if "." in key:
        cid, sensor = key.split(".", 1)
        comp = comps.get(cid)
        if comp is None:
            f.add(path, f"unknown component '{cid}'", choices(cid, comps))
        elif sensor not in comp.sensors:
            f.add(
                path,
                f"component '{cid}' declares no sensor '{sensor}'",
                choices(sensor, comp.sensors),
            )
    elif members and not any(key in c.sensors for c in members):
        f.add(
            path,
            f"sensor '{key}' is not declared by any component it applies to",
            "declare it under 'sensors' in machine_graph.yaml, or write component_id.sensor",
        )


def _reachable(m: Any) -> set[str]:
    seen = {m.initial}
    frontier = [m.initial]
    while frontier:
        state = frontier.pop()
        for t in m.transitions:
            if (state in t.sources or "*" in t.sources) and t.to not in seen:
                seen.add(t.to)
                frontier.append(t.to)
    return seen


def _check_viz(
    viz: VizResources, graph: MachineGraph | None, logic: ProcessLogic | None, f: ConfigFile
) -> None:
    ids = {c.id for c in graph.components} if graph else set()
    for cid in viz.components:
        if graph and cid not in ids:
            f.add(("components", cid), f"unknown component '{cid}'", choices(cid, ids))
    states = {s for m in logic.machines.values() for s in m.states} if logic else set()
    for sname in viz.states:
        if logic and sname not in states:
            f.add(("states", sname), f"no machine has a state '{sname}'", choices(sname, states))


def _check_metric_fields(logic: ProcessLogic, pats: LogPatterns, f: ConfigFile) -> None:
    typed = {name: t for p in pats.patterns for name, t in p.fields.items()}
    groups = {name for p in pats.patterns for name in captured(p)}
    events = {p.event for p in pats.patterns}
    for mname, m in logic.machines.items():
        for sname in m.states:
            for k, metric in enumerate(m.metrics_of(sname)):
                path = ("machines", mname, "states", sname, "metrics", k)
                if metric.type == "value" and metric.field not in groups:
                    f.add(
                        (*path, "field"),
                        f"no pattern captures a field '{metric.field}'",
                        "add (?P<name>...) to a pattern in log_patterns.yaml (a JSON log: a key under fields)",
                    )
                elif metric.type == "value" and typed.get(metric.field or "") in (None, "str"):
                    f.add(
                        (*path, "field"),
                        f"field '{metric.field}' is not typed as a number",
                        "declare it under 'fields' as float or int",
                        warning=True,
                    )
                if metric.type == "count" and metric.event not in events:
                    f.add(
                        (*path, "event"),
                        f"no pattern produces event '{metric.event}'",
                        warning=True,
                    )


# -- entry point --------------------------------------------------------------------------
def load_config(directory: Path | str) -> Config:
    """Load, validate and cross-check ``directory``; raise ConfigError with every problem."""
    directory = Path(directory)
    files = {
        n: ConfigFile(str(directory / n)) for n in (GRAPH_FILE, LOGIC_FILE, PATTERNS_FILE, VIZ_FILE)
    }
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), "", "config directory not found")])
    removed: set[str] = set()  # what schema errors took out of the files (salvage.py)
    graph = _read(MachineGraph, directory, files[GRAPH_FILE], removed)
    logic = _read(ProcessLogic, directory, files[LOGIC_FILE], removed)
    pats = _read(LogPatterns, directory, files[PATTERNS_FILE], removed)
    viz = _read(VizResources, directory, files[VIZ_FILE], removed) if (directory / VIZ_FILE).exists() else None
    schema_problems = {name: len(f.problems) for name, f in files.items()}
    if graph is not None:
        _check_graph(graph, logic, files[GRAPH_FILE])
    if logic is not None:
        _check_logic(logic, graph, pats, files[LOGIC_FILE])
    if pats is not None:
        check_patterns(pats, graph, logic, files[PATTERNS_FILE])
        if logic is not None:
            _check_metric_fields(logic, pats, files[LOGIC_FILE])
            check_event_use(logic, pats, files[LOGIC_FILE], files[PATTERNS_FILE])
    if viz is not None:
        _check_viz(viz, graph, logic, files[VIZ_FILE])
    for name, f in files.items():  # what only follows from a schema error would mislead
        start = schema_problems[name]
        f.problems[start:] = [p for p in f.problems[start:] if not follows_from(p.message, removed)]
    problems = [p for fl in files.values() for p in sorted(fl.problems, key=lambda p: p.line or 0)]
    errors = [p for p in problems if not p.warning]
    if errors or graph is None or logic is None or pats is None:
        raise ConfigError(problems)  # the warnings too: one report of everything
    return Config(
        directory=directory,
        graph=graph,
        logic=logic,
        patterns=pats,
        viz=viz,
        sha256=_digest(directory),
        warnings=tuple(p for p in problems if p.warning),
    )


def _read(model: type[M], directory: Path, f: ConfigFile, removed: set[str]) -> M | None:
    """One file as ``model``; past schema errors (reported), what is left of it for the
    cross-file checks (``salvage``), so that one report holds every problem."""
    data = read_yaml(directory / Path(f.name).name, f)
    found = validate(model, data, f)
    if found is None and data is not None:
        return salvage(model, data, f, removed)
    return found


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for name in (GRAPH_FILE, LOGIC_FILE, PATTERNS_FILE, VIZ_FILE):
        path = directory / name
        if path.exists():
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
