"""A run's live figures, kept a block at a time for a scraper on another thread.

``LiveMetrics`` is an observer that needs no extra library: it keeps the counters,
the components' states and a histogram per duration or value metric, and hands a
consistent copy (``snapshot``) to whoever exposes them (``prometheus.py``).

Cost on the processing loop: no Python call per row or state change. Per block,
each row's metric is looked up in one C-level pass, and the rows are grouped by
metric and counted into their buckets with numpy; per anomaly one dict increment.

Buckets: where the active baseline covers a metric, they are its limits and the
quantiles between them (``limit_buckets``), so a bucket edge is the alarm limit;
elsewhere a 1-2.5-5 ladder. Durations are exported in seconds whatever their
unit; value and count metrics in their own unit (a label).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from logloom.config.load import Config
from logloom.config.schema import DURATION_UNITS
from logloom.detect.monitoring import anomaly_config, metric_limits
from logloom.detect.statistics import MetricLimits
from logloom.logtime.timestamps import TimestampParser
from logloom.records import INFERRED_SUFFIX, Anomaly, ComponentStatus, Incident, MetricRow, Observer, Progress


def _ladder(first_decade: int, last_decade: int) -> tuple[float, ...]:
    steps = [round(m * 10.0**d, 12) for d in range(first_decade, last_decade) for m in (1, 2.5, 5)]
    return (*steps, 10.0**last_decade)


DURATION_BUCKETS = _ladder(-2, 4)  # 0.01 s .. 10 000 s (2 h 47 min)
VALUE_BUCKETS = _ladder(-2, 5)  # 0.01 .. 100 000 of the metric's unit

_COMPONENT, _METRIC, _VALUE = itemgetter(1), itemgetter(2), itemgetter(3)  # of a MetricRow


@dataclass(eq=False, slots=True)
class Series:
    """One (component, metric): its buckets, counts and limits in the exported unit."""

    component: str
    metric: str
    kind: str  # "duration" (exported in seconds) or "value" (in ``unit``)
    unit: str
    scale: float  # exported unit per unit of the metric's rows
    bounds: np.ndarray  # upper bounds, increasing, +Inf implied after the last
    from_baseline: bool
    lower: float | None = None
    upper: float | None = None
    counts: np.ndarray = field(init=False)  # per bucket (not cumulative), +Inf last
    total: float = 0.0
    n: int = 0
    last: float | None = None

    def __post_init__(self) -> None:
        self.counts = np.zeros(len(self.bounds) + 1, dtype=np.int64)


class SeriesView(NamedTuple):
    """A copy of one ``Series`` for exposition: cumulative counts, +Inf last."""

    component: str
    metric: str
    kind: str
    unit: str
    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    total: float
    last: float | None
    lower: float | None
    upper: float | None


class Snapshot(NamedTuple):
    """Everything a scrape shows, copied under the lock."""

    stats: dict[str, int]
    components: tuple[ComponentStatus, ...]
    states: dict[str, tuple[str, ...]]  # component -> every state of its machine
    newest_ts: int | None  # µs of log time
    lag_s: float | None  # wall clock minus the newest log time
    log_time_s: float | None  # the newest log time as epoch seconds (naive logs: as if UTC)
    series: tuple[SeriesView, ...]
    anomalies: dict[tuple[str, str, str], int]  # (component, metric, rule) -> count this process
    incidents: dict[tuple[str, str], int]  # (component, kind) -> opened in this process
    open_incidents: dict[str, int]  # component -> incidents open now (seen opening in this process)


def limit_buckets(entry: Mapping[str, Any], lim: MetricLimits | None, *, non_negative: bool) -> list[float] | None:
    """Bucket edges from a baseline entry: its limits (a config override wins), its p05,
    median and p95, and one and three limit-widths beyond each limit (a width being a
    limit's distance from the median). None: no usable limits.

    ``non_negative`` (durations, and values never negative in the baseline): no edge
    below 0. A negative edge would cost the histogram its ``_sum`` and ``_count``
    (Prometheus leaves them out then, since such a sum can go down).
    """
    lower = lim.lower if lim is not None and lim.lower is not None else entry.get("lower")
    upper = lim.upper if lim is not None and lim.upper is not None else entry.get("upper")
    median = entry.get("median")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lower, upper, median)):
        return None
    assert lower is not None and upper is not None and median is not None
    below, above = max(median - lower, 0.0), max(upper - median, 0.0)
    points = [lower - 3 * below, lower - below, lower, entry.get("p05"), median, entry.get("p95"),
              upper, upper + above, upper + 3 * above]
    edges = sorted({round(float(p), 9) for p in points
                    if isinstance(p, int | float) and math.isfinite(p) and (p >= 0 or not non_negative)})
    return edges or None


def build_series(config: Config, baseline: Mapping[str, Any] | None) -> list[Series]:
    """Every metric of every component, in config order, with its buckets."""
    learned = (baseline or {}).get("metrics", {})
    overrides = metric_limits(config)
    min_samples = anomaly_config(config).min_samples
    out: list[Series] = []
    for comp in config.graph.components:
        machine = config.logic.machines[comp.type]
        for state in machine.states:
            for m in machine.metrics_of(state):
                unit = m.resolved_unit
                kind = "duration" if m.type == "duration" else "value"
                scale = DURATION_UNITS[unit] / 1_000_000 if kind == "duration" else 1.0
                lim = overrides.get((comp.id, m.name))
                entry = learned.get(comp.id, {}).get(m.name)
                needed = lim.min_samples if lim is not None and lim.min_samples is not None else min_samples
                edges = None
                if entry is not None and int(entry.get("n", 0)) >= needed:
                    minimum = entry.get("min", 0.0)
                    non_negative = kind == "duration" or (isinstance(minimum, int | float) and minimum >= 0)
                    edges = limit_buckets(entry, lim, non_negative=non_negative)
                series = Series(comp.id, m.name, kind, "s" if kind == "duration" else unit, scale,
                                np.array([e * scale for e in edges] if edges else
                                         DURATION_BUCKETS if kind == "duration" else VALUE_BUCKETS),
                                from_baseline=edges is not None)
                if edges is not None:
                    assert entry is not None
                    lo = lim.lower if lim is not None and lim.lower is not None else entry["lower"]
                    hi = lim.upper if lim is not None and lim.upper is not None else entry["upper"]
                    series.lower, series.upper = lo * scale, hi * scale
                out.append(series)
    return out


class LiveMetrics(Observer):
    """Keeps a run's figures for a scraper; ``snapshot`` may be called from any thread."""

    def __init__(self, config: Config, baseline: Mapping[str, Any] | None) -> None:
        self.series = build_series(config, baseline)
        self._ids = {(s.component, s.metric): i for i, s in enumerate(self.series)}
        self.states = {c.id: tuple(config.logic.machines[c.type].states) for c in config.graph.components}
        stamps = TimestampParser(config.patterns.timestamp.format, config.patterns.timestamp.timezone)
        self.instants = stamps.has_instants
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._anomalies: dict[tuple[str, str, str], int] = {}
        self._incidents: dict[tuple[str, str], int] = {}
        self._open: dict[int, str] = {}  # incident id -> component, while open

    # -- hooks (the processing thread) ---------------------------------------------------
    def on_block(self, progress: Progress) -> None:
        with self._lock:
            if progress.rows:
                self._add_rows(progress.rows)
            self._progress = progress

    def on_anomaly(self, anomaly: Anomaly) -> None:
        key = (anomaly.component_id, anomaly.metric_name, anomaly.rule)
        with self._lock:
            self._anomalies[key] = self._anomalies.get(key, 0) + 1

    def on_incident(self, change: str, incident: Incident, anomaly: Anomaly | None) -> None:
        """Count incidents as they open; keep which are open (``id`` -> component)."""
        with self._lock:
            if change == "opened":
                key = (incident.component_id, incident.kind)
                self._incidents[key] = self._incidents.get(key, 0) + 1
                self._open[incident.id] = incident.component_id
            elif change == "closed":
                self._open.pop(incident.id, None)

    def _add_rows(self, rows: list[MetricRow]) -> None:
        """Count a block's rows into their buckets: grouped by series, one numpy pass each."""
        n = len(rows)
        # zip hands each (component, metric) pair in one reused tuple: no tuple made per row
        pairs = zip(map(_COMPONENT, rows), map(_METRIC, rows), strict=True)
        sid = np.fromiter(map(self._ids.get, pairs, repeat(-1, n)), dtype=np.int64, count=n)
        values = np.fromiter(map(_VALUE, rows), dtype=np.float64, count=n)
        for i in np.flatnonzero(values == 0.0).tolist():  # inferred steps write 0.0 (so do idle counts):
            if rows[i][5].endswith(INFERRED_SUFFIX):  # left out, as the baseline leaves them out
                sid[i] = -1
        order = np.argsort(sid, kind="stable")  # stable: each series keeps log order, so [-1] is its last
        sid, values = sid[order], values[order]
        cuts = (np.flatnonzero(np.diff(sid)) + 1).tolist()
        for a, b in zip([0, *cuts], [*cuts, n], strict=True):
            i = int(sid[a])
            if i < 0:
                continue
            s = self.series[i]
            x = values[a:b] if s.scale == 1.0 else values[a:b] * s.scale
            if not np.isfinite(x).all():
                x = x[np.isfinite(x)]
                if not len(x):
                    continue
            s.counts += np.bincount(np.searchsorted(s.bounds, x, side="left"), minlength=len(s.counts))
            s.total += float(x.sum())
            s.n += len(x)
            s.last = float(x[-1])

    # -- the scraper's side ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            progress = self._progress
            views = tuple(
                SeriesView(s.component, s.metric, s.kind, s.unit, tuple(s.bounds.tolist()),
                           tuple(np.cumsum(s.counts).tolist()), s.total, s.last, s.lower, s.upper)
                for s in self.series
            )
            anomalies, incidents = dict(self._anomalies), dict(self._incidents)
            open_incidents: dict[str, int] = dict.fromkeys(self.states, 0)
            for component in self._open.values():
                open_incidents[component] = open_incidents.get(component, 0) + 1
        newest = progress.newest_ts if progress is not None else None
        log_time = newest / 1_000_000 if newest is not None else None
        lag = None if log_time is None else self.wall_clock() - log_time
        return Snapshot(
            dict(progress.stats) if progress else {}, progress.components if progress else (), self.states,
            newest, lag, log_time, views, anomalies, incidents, open_incidents,
        )

    def wall_clock(self) -> float:
        """Now, on the log's clock: epoch seconds for instants, else the local reading as if UTC."""
        now = time.time()
        if self.instants:
            return now
        offset = datetime.fromtimestamp(now).astimezone().utcoffset()
        return now + (offset.total_seconds() if offset is not None else 0.0)
