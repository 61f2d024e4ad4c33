"""Which state visits a run disturbs, and by how much.

``Plan`` resolves the ``--anomalies`` injections against the line model (a metric
or state name becomes a state whose length, or a field whose readings, get scaled)
and answers, visit by visit, the factor to apply and the anomalies.csv marks that
go with it. Random spikes and random faults draw from their own random streams, so
asking for them never changes the timing of the undisturbed visits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from logloom.simulator.model import (
    SCALABLE_STATES,
    WRITTEN_FIELDS,
    Component,
    LineModel,
    Machine,
)
from logloom.simulator.options import Injection, SimError
from logloom.simulator.truth import Marks

_MIN_FACTOR = 0.05
SPIKE_FACTORS = (0.45, 1.6, 2.0)  # what random spikes multiply by
# A clamp's CLOSED visit holds the whole dispensing: it can be lengthened, not shortened.
_GROW_ONLY = {("clamp", "CLOSED")}
_NO_CHANGE: tuple[float, Marks] = (1.0, None)


def factor_text(factor: float) -> str:
    return repr(round(factor, 6))


@dataclass(frozen=True)
class _Target:
    injection: Injection
    metric: str  # the name anomalies.csv shows


class Plan:
    """The injected anomalies and faults, answered per (component, state, cycle)."""

    def __init__(self, model: LineModel, injections: tuple[Injection, ...], *,
                 random_spikes: float, faults: float, cycles: int | None,
                 spike_rng: random.Random, fault_rng: random.Random) -> None:
        self._durations: dict[tuple[int, str], list[_Target]] = {}
        self._values: dict[tuple[int, str, str], list[_Target]] = {}
        self._faults: set[tuple[int, int]] = set()
        self._metric_of = {
            (c.index, state): model.machine_of(c).duration_metric(state)
            for c in model.components
            for state in SCALABLE_STATES[c.type]
        }
        # (component, state) -> chance of a random spike; every scalable visit, or some
        self._spike_rates = dict.fromkeys(self._metric_of, random_spikes) if random_spikes else {}
        for injection in injections:
            if injection.kind == "random-spikes":
                self._random_targets(model, injection)
                continue
            if injection.text == "drift":
                injection = _preset_drift(model, injection, cycles)
            if cycles is not None and injection.cycle > cycles:
                raise SimError(
                    f"{injection.text!r}: cycle {injection.cycle} is past --cycles {cycles}",
                    "--anomalies",
                )
            self._resolve(model, injection)
        # Whether any visit gets scaled (then a run without them tells the consequences).
        self.scales = bool(self._durations or self._values or self._spike_rates)
        self._fault_rate = faults
        self._spike_rng = spike_rng
        self._fault_rng = fault_rng
        self._grow_only = {(c.index, state) for c in model.components
                           for (kind, state) in _GROW_ONLY if c.type == kind}

    def _random_targets(self, model: LineModel, injection: Injection) -> None:
        """Random spikes on one metric (or state): of one component, or of every one."""
        if injection.text == "spikes":  # the dispensing time of every dispenser
            comps = [c for c in model.components if c.type == "dispenser"]
            names = [model.machine_of(c).duration_metric("DISPENSING") for c in comps]
        else:
            comps = ([model.component(injection.component)] if injection.component else
                     [c for c in model.components if _has(model.machine_of(c), injection.target)])
            names = [injection.target] * len(comps)
        if not comps:
            raise SimError(f"{injection.text!r}: no component has {injection.target!r}",
                           "--anomalies")
        for comp, name in zip(comps, names, strict=True):
            spike = replace(injection, kind="spike", component=comp.id, target=name, factor=2.0)
            state, field, _ = _target(comp, model.machine_of(comp), spike)
            if field:
                raise SimError(f"{injection.text!r}: random spikes scale durations only",
                               "--anomalies")
            self._spike_rates[(comp.index, state)] = injection.factor

    def _resolve(self, model: LineModel, injection: Injection) -> None:
        comp = model.component(injection.component)
        machine = model.machine_of(comp)
        if injection.kind == "fault":
            if comp.type != "dispenser":
                raise SimError(f"{injection.text!r}: only dispensers fault", "--anomalies")
            self._faults.add((comp.index, injection.cycle))
            return
        state, field, metric = _target(comp, machine, injection)
        if field:
            self._values.setdefault((comp.index, state, field), []).append(
                _Target(injection, metric)
            )
        else:
            self._durations.setdefault((comp.index, state), []).append(_Target(injection, metric))

    def duration(self, comp: int, state: str, cycle: int) -> tuple[float, Marks]:
        """The factor on the length of ``comp``'s visit to ``state`` in ``cycle``."""
        targets = self._durations.get((comp, state))
        factor, marks = _NO_CHANGE if targets is None else _combine(targets, cycle)
        rate = self._spike_rates.get((comp, state))
        if rate:
            rng = self._spike_rng
            if rng.random() < rate:
                choices: tuple[float, ...] = SPIKE_FACTORS
                if (comp, state) in self._grow_only:
                    choices = tuple(f for f in SPIKE_FACTORS if f > 1.0)
                spike = choices[int(rng.random() * len(choices))]
                metric = self._metric_of.get((comp, state), state)
                factor *= spike
                marks = (*(marks or ()), (metric, "spike", factor_text(spike)))
        return max(factor, _MIN_FACTOR), marks

    def value(self, comp: int, state: str, field: str, cycle: int) -> tuple[float, Marks]:
        """The factor on every reading of ``field`` during ``comp``'s visit to ``state``."""
        targets = self._values.get((comp, state, field))
        if targets is None:
            return _NO_CHANGE
        factor, marks = _combine(targets, cycle)
        return max(factor, _MIN_FACTOR), marks

    def fault(self, comp: int, cycle: int) -> bool:
        """Whether ``comp`` faults while dispensing in ``cycle``."""
        if (comp, cycle) in self._faults:
            return True
        return bool(self._fault_rate) and self._fault_rng.random() < self._fault_rate


def _combine(targets: list[_Target], cycle: int) -> tuple[float, Marks]:
    factor = 1.0
    marks: list[tuple[str, str, str]] = []
    for target in targets:
        injection = target.injection
        if injection.kind == "drift":
            if cycle < injection.cycle:
                continue
            step = max(1.0 + injection.factor * (cycle - injection.cycle + 1), _MIN_FACTOR)
        elif cycle == injection.cycle:
            step = injection.factor
        else:
            continue
        factor *= step
        marks.append((target.metric, injection.kind, factor_text(step)))
    return (factor, tuple(marks)) if marks else _NO_CHANGE


def _has(machine: Machine, name: str) -> bool:
    return name in machine.states or any(m.name == name for ms in machine.metrics.values()
                                         for m in ms)


def _preset_drift(model: LineModel, injection: Injection, cycles: int | None) -> Injection:
    """``drift``: the last dispenser's dispensing time, from the middle of the run."""
    dispenser = [c for c in model.components if c.type == "dispenser"][-1]
    metric = model.machine_of(dispenser).duration_metric("DISPENSING")
    start = max(1, cycles // 2) if cycles is not None else 200
    return replace(injection, component=dispenser.id, target=metric, cycle=start,
                   text=f"drift:{dispenser.id}.{metric}@{start}+{injection.factor}")


def _target(comp: Component, machine: Machine, injection: Injection) -> tuple[str, str, str]:
    """(state, field or "", metric name) that ``injection`` scales."""
    name = injection.target
    for state, defs in machine.metrics.items():
        for metric in defs:
            if metric.name != name:
                continue
            if metric.kind == "count":
                raise SimError(f"{injection.text!r}: a count cannot be scaled", "--anomalies")
            if metric.kind == "value":
                if injection.kind == "stuck":
                    raise SimError(f"{injection.text!r}: stuck takes a state", "--anomalies")
                if metric.field not in WRITTEN_FIELDS.get((comp.type, state), ()):
                    raise SimError(
                        f"{injection.text!r}: the simulator writes no {metric.field!r} "
                        f"while {comp.id} is {state}",
                        "--anomalies",
                    )
                return state, metric.field, name
            return _scalable(comp, machine, state, injection), "", name
    if name in machine.states:
        return _scalable(comp, machine, name, injection), "", machine.duration_metric(name)
    raise SimError(
        f"{injection.text!r}: {comp.id} ({comp.type}) has no metric or state {name!r}",
        "--anomalies",
    )


def _scalable(comp: Component, machine: Machine, state: str, injection: Injection) -> str:
    if (comp.type, state) in _GROW_ONLY and injection.kind != "drift" and injection.factor < 1:
        raise SimError(
            f"{injection.text!r}: {comp.id}'s {state} holds the whole dispensing; it can be "
            "lengthened (factor >= 1), not shortened",
            "--anomalies",
        )
    allowed = SCALABLE_STATES[comp.type]
    if state not in allowed:
        names = [f"{s} ({machine.duration_metric(s)})" for s in allowed]
        raise SimError(
            f"{injection.text!r}: the length of {comp.id}'s {state} follows from the rest of "
            f"the line; scale one of {', '.join(names)}",
            "--anomalies",
        )
    return state
