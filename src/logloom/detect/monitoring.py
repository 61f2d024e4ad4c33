"""Wiring the config to the Record and Monitor statistics.

Builds the scorer's inputs from the config (per-metric ``anomaly:`` overrides,
``settings.anomaly``, the duration metric of each state) and adapts the scorer and
the baseline accumulator to the engine's observer hooks. No statistics here: they
live in ``baseline_stats`` and ``scoring``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from logloom.config.load import Config
from logloom.config.schema import DURATION_UNITS, MetricSpec
from logloom.detect.scoring import Scorer
from logloom.detect.scoring_model import AnomalyConfig, DurationMetric
from logloom.detect.statistics import BaselineAccumulator, MetricLimits
from logloom.records import Anomaly, MetricRow, Observer


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
            out[cid, state] = DurationMetric(m.name, DURATION_UNITS[m.resolved_unit] / 1_000_000)
    return out


def make_scorer(config: Config, baseline: dict[str, Any]) -> Scorer:
    return Scorer(baseline, metric_limits(config), anomaly_config(config), state_metrics(config))


class ScoringHook(Observer):
    """Feeds the engine's refusals to the scorer; a burst they make waits in ``pending``.

    Rows are scored a block at a time and stuck visits are found from the engine's
    components (``Scorer.watch``), so this is the scorer's only hook into a step.
    """

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.pending: list[Anomaly] = []  # found during the current step

    def on_violation(self, ts: int, component_id: str, kind: str) -> None:
        found = self.scorer.on_violation(ts, component_id, kind)
        if found:
            self.pending += found


class LearnHook(Observer):
    """Record mode: every row the engine writes also feeds the baseline statistics."""

    def __init__(self) -> None:
        self.accumulator = BaselineAccumulator()

    def on_row(self, row: MetricRow) -> None:
        self.accumulator.add(row)
