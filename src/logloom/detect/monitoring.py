"""Wiring the config to the Record and Monitor statistics.

Builds the scorer's inputs from the config (per-metric ``anomaly:`` overrides,
``settings.anomaly``, the duration metric of each state), the incident tracker's
(``settings.incidents``, the machine graph's neighbours) and adapts the scorer and
the baseline accumulator to the engine's observer hooks. No statistics here: they
live in ``statistics``, ``scoring`` and ``incidents``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from logloom.config.load import Config
from logloom.config.schema import DURATION_UNITS, MetricSpec
from logloom.detect.bounds import config_floors
from logloom.detect.incidents import IncidentConfig, IncidentTracker, Topology
from logloom.detect.scoring import Mark, Scorer
from logloom.detect.scoring_model import AnomalyConfig, DurationMetric
from logloom.detect.statistics import BaselineAccumulator, MetricLimits
from logloom.records import Anomaly, Incident, MetricRow, Observer


def learn_baseline(acc: BaselineAccumulator, config: Config, sources: Sequence[str]) -> dict[str, Any]:
    """The baseline of ``acc``'s rows with the config's limits, ``k`` and bounded metrics."""
    return acc.build(metric_limits(config), k_default=anomaly_config(config).k, sources=sources,
                     config_sha256=config.sha256, floors=config_floors(config))


def anomaly_config(config: Config) -> AnomalyConfig:
    raw = config.logic.settings.anomaly.model_dump(by_alias=True, exclude_none=True)
    return AnomalyConfig.from_mapping(raw)


def _metrics(config: Config) -> Iterator[tuple[str, str, MetricSpec]]:
    """(component id, state, metric) for every metric of every component, in config order."""
    for comp in config.graph.components:
        machine = config.logic.machines[comp.type]
        for state in machine.states:
            for metric in machine.metrics_of(state):
                yield comp.id, state, metric


def metric_limits(config: Config) -> dict[tuple[str, str], MetricLimits]:
    """(component, metric) -> its ``anomaly:`` overrides from process_logic.yaml."""
    return {
        (cid, m.name): MetricLimits(m.anomaly.k, m.anomaly.lower, m.anomaly.upper, m.anomaly.min_samples)
        for cid, _, m in _metrics(config)
        if m.anomaly is not None
    }


def state_metrics(config: Config) -> dict[tuple[str, str], DurationMetric]:
    """(component, state) -> the first duration metric measuring that state (``stuck`` rule)."""
    out: dict[tuple[str, str], DurationMetric] = {}
    for cid, state, m in _metrics(config):
        if m.type == "duration" and (cid, state) not in out:
            out[cid, state] = DurationMetric(m.name, DURATION_UNITS[m.resolved_unit] / 1_000_000, m.resolved_unit)
    return out


def make_scorer(config: Config, baseline: dict[str, Any] | None) -> Scorer:
    """The run's scorer (``baseline`` None: nothing is covered, only fault states are flagged)."""
    return Scorer(baseline, metric_limits(config), anomaly_config(config), state_metrics(config))


def topology(config: Config) -> Topology:
    """Neighbours: ``next`` in either direction, and components of one station (a shared
    alias); the duration metrics of every component."""
    near: dict[str, set[str]] = {c.id: set() for c in config.graph.components}
    by_alias: dict[str, list[str]] = {}
    for comp in config.graph.components:
        for other in comp.next:
            near[comp.id].add(other)
            near.setdefault(other, set()).add(comp.id)
        for alias in comp.aliases:
            by_alias.setdefault(alias, []).append(comp.id)
    for ids in by_alias.values():
        for cid in ids:
            near[cid].update(i for i in ids if i != cid)
    durations = {(cid, m.name): DURATION_UNITS[m.resolved_unit] / 1_000_000
                 for cid, _, m in _metrics(config) if m.type == "duration"}
    return Topology({c: frozenset(n) for c, n in near.items()}, durations)


def make_tracker(config: Config, observers: Sequence[Observer] = ()) -> IncidentTracker:
    """The run's incident tracker, telling ``observers`` that subscribe (``on_incident``)."""
    raw = config.logic.settings.incidents.model_dump(exclude_none=True)
    tracker = IncidentTracker(IncidentConfig.from_mapping(raw), topology(config))
    subscribers = [o for o in observers if type(o).on_incident is not Observer.on_incident]
    if subscribers:
        def tell(change: str, incident: Incident, anomaly: Anomaly | None) -> None:
            for obs in subscribers:
                obs.on_incident(change, incident, anomaly)

        tracker.listener = tell
    return tracker


class ScoringHook(Observer):
    """A monitor run's detection around the engine: feeds the engine's refusals and
    faults to the scorer (the anomalies they make, a burst, a fault state entered or
    left, wait in ``pending``), prepares each block for the stuck rule, and hands a
    block's rows and anomalies to the incident tracker.

    Rows are scored a block at a time and stuck visits are found from the engine's
    components (``Scorer.watch``), so this is the scorer's only hook into a step.
    """

    def __init__(self, scorer: Scorer, tracker: IncidentTracker | None = None) -> None:
        self.scorer = scorer
        self.tracker = tracker
        self.pending: list[Anomaly] = []  # found during the current step
        self.ordered = False  # the current block's event lines' times never go back

    def begin_block(self, times: Any, index: Any, count: int, first_line: int) -> None:
        """Before the first ``count`` event lines of a block: their times and their
        places in the block (``ParsedBlock.times``, ``.index``), the block's first line."""
        at = np.frombuffer(times, dtype=np.int64)[:count]
        self.scorer.stuck.begin_block(at, np.frombuffer(index, dtype=f"i{index.itemsize}")[:count] + first_line)
        self.ordered = not (at[1:] < at[:-1]).any()

    def incidents(self, rows: Sequence[MetricRow], found: list[tuple[int, Anomaly]]) -> list[Incident]:
        """The block's rows and anomalies (``Scorer.score_block``) to the incident tracker:
        the incidents that closed."""
        return self.tracker.step(rows, found, ordered=self.ordered) if self.tracker is not None else []

    def switched(self, scorer: Scorer) -> ScoringHook:
        """This hook for another (newly activated) baseline: the incidents go on, the
        scorer keeps only what still applies (drift statistics start afresh)."""
        scorer.restore(self.scorer.to_dict())
        return ScoringHook(scorer, self.tracker)

    def state(self) -> dict[str, Any]:
        """The scorer's and the tracker's state, as a checkpoint holds them."""
        return {"scorer": self.scorer.to_dict(),
                "incidents": self.tracker.to_dict() if self.tracker is not None else None}

    def restore(self, state: dict[str, Any], *, tallies: bool = False) -> None:
        """Continue from ``state`` (a checkpoint's keys); ValueError if it cannot."""
        if state.get("scorer"):
            self.scorer.restore(state["scorer"], tallies=tallies)
        if self.tracker is not None and state.get("incidents"):
            self.tracker.restore(state["incidents"])

    def on_violation(self, ts: int, component_id: str, kind: str) -> None:
        found = self.scorer.on_violation(ts, component_id, kind)
        if found:
            self.pending += found

    def on_fault_start(self, ts: int, component_id: str, state: str) -> None:
        self.pending.append(self.scorer.fault(ts, component_id, state, None))

    def on_fault_end(self, ts: int, component_id: str, state: str, entered: int | None) -> None:
        self.pending.append(self.scorer.fault(ts, component_id, state, entered, ended=True))


class LearnHook(Observer):
    """Record mode: every row the engine writes also feeds the baseline statistics."""

    def __init__(self) -> None:
        self.accumulator = BaselineAccumulator()

    def on_row(self, row: MetricRow) -> None:
        self.accumulator.add(row)


class BlockPauses:
    """What the engine's loop stops for in a scored block (``Engine.step_events``'s
    ``Pauses``): the stuck visits the log's time reaches, and the anomalies a step leaves
    in the hook's ``pending`` (a burst, a fault), each recorded in ``marks`` as (line, 0
    stuck or 1 the step's, rows before the line, anomaly)."""

    def __init__(self, scoring: ScoringHook, marks: list[Mark], index: Any, first_line: int) -> None:
        self.stuck = scoring.scorer.stuck
        self.pending = scoring.pending
        self.marks = marks
        self.index = index
        self.first_line = first_line

    @property
    def low(self) -> float:
        return self.stuck.low

    @property
    def high(self) -> float:
        return self.stuck.high

    def reached(self, k: int, ts: int, before: int) -> None:
        line = self.first_line + self.index[k]
        self.marks += [(line, 0, before, a) for a in self.stuck.reached(ts)]

    def took(self, k: int, before: int) -> None:
        line = self.first_line + self.index[k]
        self.marks += [(line, 1, before, a) for a in self.pending]
        self.pending.clear()
