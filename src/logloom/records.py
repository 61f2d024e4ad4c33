"""The small frozen types that cross stage boundaries.

log_parser makes ``Event``; the engine turns events into ``MetricRow`` and
``StateChange``; scoring turns rows into ``Anomaly``; the incident tracker groups
anomalies into ``Incident``. Timestamps are integer
microseconds: a UTC instant when the log's times are instants (epoch formats,
explicit offsets, a configured timezone), otherwise the wall-clock reading
counted as if it were UTC. Differences of them are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol, overload

METRICS_HEADER = "timestamp,component_id,metric_name,value,unit,state_context"
ANOMALIES_HEADER = METRICS_HEADER + ",expected,lower,upper,score,rule"
INCIDENTS_HEADER = ("opened,closed,component_id,metrics,id,kind,state,rules,anomalies,"
                    "peak_metric,peak_value,unit,expected,peak_score,effects,effect_anomalies,cause")
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


SeriesKey = tuple[str, str, str, str]  # a row's (component, metric, unit, state context)


class Rows(Sequence[MetricRow]):
    """A block's metric rows as columns, in order: each row's time (``ts``), series
    (``ids``: an index in ``series``, the engine's list of ``SeriesKey``s) and value.

    The engine appends to the columns, so no row object is made on the hot path; a
    consumer reads the columns, or ``MetricRow``s where it needs one (indexing and
    iterating make them).
    """

    __slots__ = ("arrays", "ids", "series", "ts", "values")

    def __init__(self, series: list[SeriesKey]) -> None:
        self.ts: list[int] = []
        self.ids: list[int] = []
        self.values: list[float] = []
        self.series = series
        self.arrays: Any = None  # the columns as numpy arrays, once a consumer made them (series.columns)

    @classmethod
    def of(cls, rows: Iterable[MetricRow]) -> Rows:
        """``rows`` as columns (themselves if they are), with a list of their own series."""
        if isinstance(rows, Rows):
            return rows
        out = cls([])
        ids: dict[SeriesKey, int] = {}
        for ts, cid, name, value, unit, context in rows:
            key = (cid, name, unit, context)
            sid = ids.get(key)
            if sid is None:
                sid = ids[key] = len(out.series)
                out.series.append(key)
            out.ts.append(ts)
            out.ids.append(sid)
            out.values.append(value)
        return out

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> MetricRow: ...

    @overload
    def __getitem__(self, i: slice) -> list[MetricRow]: ...

    def __getitem__(self, i: int | slice) -> MetricRow | list[MetricRow]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.ids)))]
        cid, name, unit, context = self.series[self.ids[i]]
        return _new_tuple(MetricRow, (self.ts[i], cid, name, self.values[i], unit, context))

    def __iter__(self) -> Iterator[MetricRow]:
        series = self.series
        for ts, sid, value in zip(self.ts, self.ids, self.values, strict=True):
            cid, name, unit, context = series[sid]
            yield _new_tuple(MetricRow, (ts, cid, name, value, unit, context))

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows."""
        del self.ts[n:], self.ids[n:], self.values[n:]
        self.arrays = None


_new_tuple = tuple.__new__  # a NamedTuple's own __new__ costs twice as much


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


class ComponentStatus(NamedTuple):
    """One component as a block of lines left it."""

    id: str
    state: str
    entered: int | None  # µs; None: the visit's start was never seen
    counters: dict[str, int]  # its run_summary.json counters (events, transitions, jumps, ...)


class Progress(NamedTuple):
    """Where a run stands after a block of lines: what ``Observer.on_block`` gets.

    For observers that aggregate (a block at a time, not a call per row). ``stats``
    holds the run_summary.json counters of the run so far (lines_read, malformed,
    unmatched, events, rows_written, anomalies, unknown_target, unrouted), which a
    resumed run continues from its checkpoint.
    """

    rows: list[MetricRow]  # the block's rows, in order (empty before the first block)
    newest_ts: int | None  # the time of the latest line read (µs; the parser's memory); None: none yet
    stats: dict[str, int]
    components: tuple[ComponentStatus, ...]


class Incident(NamedTuple):
    """One row of incidents.csv: the anomalies of one problem on ``component_id`` and the
    knock-on anomalies it caused on other components (``effects``).

    ``opened`` and ``last`` are the log times of its first and latest anomaly;
    ``closed`` is ``last`` once the incident is over, None while it is open. ``peak``
    is its most severe own anomaly (for a fault, the row that reports its duration
    once it ended). docs/anomaly-detection.md explains the grouping.
    """

    id: int
    opened: int
    closed: int | None
    last: int
    component_id: str
    kind: str  # fault | stuck | drift | limits | burst
    state: str  # the state of its first anomaly's visit
    metrics: tuple[str, ...]  # own metric names, in order of first appearance
    rules: tuple[str, ...]
    anomalies: int  # own anomaly rows
    peak: Anomaly
    effects: tuple[str, ...]  # "component.metric" of the knock-on anomalies
    effect_anomalies: int
    cause: str  # what happened, in words


class Observer:
    """Plugin hooks. Subclass and override what you need; every hook is optional.

    Observers get plain data and must not change the engine. They are called in
    log order, synchronously, from the processing loop. Per record: state changes,
    rows, violations (from the engine), anomalies (after their block is scored);
    per block: ``on_block``, once the block's rows and anomalies are out.
    """

    #: False while the observer has no use for state changes: the engine then builds
    #: none for it. Read again after every ``on_block``.
    wants_changes = True

    def on_state_change(self, change: StateChange) -> None:
        """A component changed state (synthesised jump steps included)."""

    def on_row(self, row: MetricRow) -> None:
        """A metric row was produced."""

    def on_violation(self, ts: int, component_id: str, kind: str) -> None:
        """The engine refused an event: kind is ``invalid_transition`` or ``guard_blocked``."""

    def on_fault_start(self, ts: int, component_id: str, state: str) -> None:
        """A component entered a state marked ``fault: true``."""

    def on_fault_end(self, ts: int, component_id: str, state: str, entered: int | None) -> None:
        """A component left a fault state it entered at ``entered`` (None: not seen)."""

    def on_anomaly(self, anomaly: Anomaly) -> None:
        """A scored row was found anomalous."""

    def on_block(self, progress: Progress) -> None:
        """A block of lines was processed (also once before the first, with no rows)."""

    def on_incident(self, change: str, incident: Incident, anomaly: Anomaly | None) -> None:
        """An incident was ``opened`` or ``updated`` by ``anomaly``, or ``closed`` (None).

        ``incident`` is its state after the change; ``incident.id`` ties the three
        together. An anomaly on another component than ``incident.component_id`` is
        a knock-on effect. Called after the block's ``on_anomaly`` calls.
        """

    def close(self) -> None:
        """The run ends; flush what is buffered."""


class Pauses(Protocol):
    """What the caller of ``step_events`` looks at between events (a monitor's scoring):
    the events whose time is outside [``low``, ``high``] are preceded by ``reached``, and
    an event after which ``pending`` holds something is followed by ``took``. ``before``
    is the number of rows before the event's own."""

    pending: list[Any]

    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...

    def reached(self, k: int, ts: int, before: int) -> None: ...

    def took(self, k: int, before: int) -> None: ...
