"""The small frozen types that cross stage boundaries.

log_parser makes ``Event``; the engine turns events into ``MetricRow`` and
``StateChange``; scoring turns rows into ``Anomaly``. Timestamps are integer
microseconds: a UTC instant when the log's times are instants (epoch formats,
explicit offsets, a configured timezone), otherwise the wall-clock reading
counted as if it were UTC. Differences of them are exact.
"""

from __future__ import annotations

from typing import Any, NamedTuple

METRICS_HEADER = "timestamp,component_id,metric_name,value,unit,state_context"
ANOMALIES_HEADER = METRICS_HEADER + ",expected,lower,upper,score,rule"
INFERRED_SUFFIX = ":inferred"


class Event(NamedTuple):
    """One parsed log line that matched a pattern."""

    line_no: int
    ts: int  # microseconds
    event: str
    target: str | None  # raw name from the line (id or alias); None: route it
    target_type: str | None
    fields: dict[str, Any]
    pattern: str


class MetricRow(NamedTuple):
    """One row of process_metrics.csv. ``value`` is a float already rounded to 6 decimals."""

    ts: int  # microseconds
    component_id: str
    metric_name: str
    value: float
    unit: str
    state_context: str

    @property
    def inferred(self) -> bool:
        return self.state_context.endswith(INFERRED_SUFFIX)


class StateChange(NamedTuple):
    """A component left ``from_state`` for ``to_state`` at ``ts``."""

    ts: int
    component_id: str
    from_state: str
    to_state: str
    event: str
    inferred: bool  # a synthesised step of a permissive jump


class Anomaly(NamedTuple):
    """One row of anomalies.csv: a metric row outside what the baseline allows."""

    ts: int
    component_id: str
    metric_name: str
    value: float
    unit: str
    state_context: str
    expected: float
    lower: float
    upper: float
    score: float
    rule: str


class Observer:
    """Plugin hooks. Subclass and override what you need; every hook is optional.

    Observers get plain data and must not change the engine. They are called in
    log order, synchronously, from the processing loop.
    """

    def on_state_change(self, change: StateChange) -> None:
        """A component changed state (synthesised jump steps included)."""

    def on_row(self, row: MetricRow) -> None:
        """A metric row was produced."""

    def on_violation(self, ts: int, component_id: str, kind: str) -> None:
        """The engine refused an event: kind is ``invalid_transition`` or ``guard_blocked``."""

    def on_anomaly(self, anomaly: Anomaly) -> None:
        """A scored row was found anomalous."""

    def close(self) -> None:
        """The run ends; flush what is buffered."""
