"""Warnings for events that connect nothing: a transition whose event no pattern
produces (it can only be a synthesised step of a jump), and a pattern whose event
no machine uses (its lines change nothing). Both are usually a misspelt event name,
so each names the closest event on the other side."""

from __future__ import annotations

import difflib

from logloom.config.patterns import captured
from logloom.config.schema import LogPatterns, PatternSpec, ProcessLogic
from logloom.config.yaml_io import ConfigFile


def check_event_use(logic: ProcessLogic, pats: LogPatterns, f_logic: ConfigFile, f_pats: ConfigFile) -> None:
    produced = {p.event for p in pats.patterns}
    moving = {t.event for m in logic.machines.values() for t in m.transitions}
    for mname, m in logic.machines.items():
        for k, t in enumerate(m.transitions):
            if t.event not in produced:
                taken = ("never taken (a '*' transition is never a step of a jump)" if "*" in t.sources
                         else "taken only as a synthesised step of a jump")
                f_logic.add(("machines", mname, "transitions", k, "event"),
                            f"no pattern produces event '{t.event}': this transition is {taken}",
                            _closest(t.event, produced) or f"add a pattern with event: {t.event} to log_patterns.yaml",
                            warning=True)
    counted = {metric.event for m in logic.machines.values() for s in m.states for metric in m.metrics_of(s)
               if metric.type == "count"}
    inferring = {name for name, spec in logic.events.items() if spec.infer}
    measured = {metric.field for m in logic.machines.values() for s in m.states for metric in m.metrics_of(s)
                if metric.type == "value"} | {"pallet"}
    for i, p in enumerate(pats.patterns):
        if p.event in moving or p.event in counted or p.event in inferring:
            continue
        closest = _closest(p.event, moving)
        if _groups(p) & measured and closest is None:
            continue  # a reading: a data-only event whose fields are measured
        f_pats.add(("patterns", i, "event"),
                   f"pattern '{p.name}' makes event '{p.event}', which no machine uses (no transition, "
                   "count metric, infer or measured field takes it): its lines change nothing",
                   closest or "use an event of a transition in process_logic.yaml, or remove the pattern",
                   warning=True)


def _groups(p: PatternSpec) -> set[str]:
    return captured(p) | set(p.fields)


def _closest(name: str, options: set[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(options - {name}), n=1, cutoff=0.8)
    return f"did you mean '{close[0]}'?" if close else None
