"""``--prometheus [HOST:]PORT``: a run's figures on ``/metrics`` (prometheus-client, an extra).

``PrometheusExporter`` is a ``LiveMetrics`` observer with an HTTP server: a custom
collector in a registry of its own (nothing global, so runs and tests never see each
other's series) turns each scrape's ``snapshot`` into metric families. The server
runs on its own daemon thread; a scrape costs the processing loop only the lock
held while the snapshot is copied. docs/integrations.md lists every series.

``import logloom`` never imports prometheus_client: only ``start_prometheus`` does,
raising ``ExtraMissingError`` with the install command when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from logloom import __version__
from logloom.config.load import Config
from logloom.errors import InputError
from logloom.integrations.common import ExtraMissingError, is_loopback, parse_listen
from logloom.integrations.live_metrics import LiveMetrics, Snapshot

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

OPTION = "--prometheus"

# run_summary.json counter -> (metric name without _total, help)
RUN_COUNTERS = (
    ("lines_read", "logloom_lines_read", "Log lines read (a resumed run continues its checkpoint's count)."),
    ("events", "logloom_events", "Lines that matched a pattern and became events."),
    ("unmatched", "logloom_unmatched_lines", "Lines with a timestamp that matched no pattern (noise)."),
    ("malformed", "logloom_malformed_lines", "Lines put aside in rejected_lines.log (no timestamp, a bad field)."),
    ("rows_written", "logloom_rows_written", "Rows written to process_metrics.csv."),
)
DROPPED_EVENTS = ("unknown_target", "unrouted")
VIOLATIONS = ("invalid_transition", "guard_blocked")
SKIPPED_ROWS = ("missing_value", "negative_duration")


def start_prometheus(config: Config, baseline: Mapping[str, Any] | None, listen: str,
                     warn: Callable[[str], None], say: Callable[[str], None]) -> PrometheusExporter:
    """Listen on ``listen`` (``[HOST:]PORT``, host 127.0.0.1 by default) and return the observer.

    Warns when the address is reachable from other machines (no authentication).
    Raises ``InputError`` when it cannot listen there, ``ExtraMissingError`` without
    prometheus-client.
    """
    try:
        import prometheus_client
    except ImportError as exc:
        raise ExtraMissingError(OPTION, "prometheus-client", "prometheus") from exc
    host, port = parse_listen(OPTION, listen)
    exporter = PrometheusExporter(config, baseline)
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(exporter.collector())
    try:
        server, thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    except (OSError, ValueError) as exc:
        raise InputError(f"{OPTION} {listen}: cannot listen there ({exc})") from exc
    exporter.server, exporter.thread = server, thread
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        warn(f"{OPTION} {shown}:{bound}: /metrics has no authentication; anyone who reaches this "
             "address can read it (bind 127.0.0.1 and scrape through a tunnel or a proxy otherwise)")
    say(f"prometheus: serving http://{shown}:{bound}/metrics")
    return exporter


class PrometheusExporter(LiveMetrics):
    """The live figures plus the HTTP server that serves them; ``close`` stops it."""

    def __init__(self, config: Config, baseline: Mapping[str, Any] | None) -> None:
        super().__init__(config, baseline)
        self.server: Any = None
        self.thread: Any = None
        self.baseline_id = str((baseline or {}).get("id", ""))
        self.extra_status: list[Callable[[], Mapping[str, float]]] = []  # e.g. the MQTT publisher's

    def collector(self) -> Collector:
        exporter = self

        class _Collector:
            def collect(self) -> Iterator[Any]:
                return families(exporter.snapshot(), exporter.baseline_id, exporter.extra_status)

        return _Collector()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def families(snap: Snapshot, baseline_id: str,
             extra_status: list[Callable[[], Mapping[str, float]]]) -> Iterator[Any]:
    """The metric families of one scrape (names per Prometheus conventions: base units, _total)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.utils import floatToGoString

    info = GaugeMetricFamily("logloom_info", "The logloom process and the baseline it scores against.",
                             labels=["version", "baseline"])
    info.add_metric([__version__, baseline_id], 1.0)
    yield info
    for key, name, doc in RUN_COUNTERS:
        yield CounterMetricFamily(name, doc, value=snap.stats.get(key, 0))
    dropped = CounterMetricFamily("logloom_dropped_events", "Events dropped before a component: "
                                  "an unknown target, or no component to route to.", labels=["reason"])
    for reason in DROPPED_EVENTS:
        dropped.add_metric([reason], snap.stats.get(reason, 0))
    yield dropped
    if snap.lag_s is not None and snap.log_time_s is not None:
        yield GaugeMetricFamily("logloom_log_lag_seconds", "Wall clock minus the newest log time read "
                                "(naive log times are read as this machine's local time).", value=snap.lag_s)
        yield GaugeMetricFamily("logloom_last_log_timestamp_seconds", "The newest log time read, as "
                                "Unix seconds (naive log times as if they were UTC).", value=snap.log_time_s)
    yield from _component_families(snap, GaugeMetricFamily, CounterMetricFamily)
    yield from _series_families(snap, GaugeMetricFamily, HistogramMetricFamily, floatToGoString)
    anomalies = CounterMetricFamily("logloom_anomalies", "Anomalies found by this process, by rule.",
                                    labels=["component", "metric", "rule"])
    for (comp, metric, rule), n in sorted(snap.anomalies.items()):
        anomalies.add_metric([comp, metric, rule], n)
    yield anomalies
    incidents = CounterMetricFamily("logloom_incidents", "Incidents opened by this process, by kind.",
                                    labels=["component", "kind"])
    for (comp, kind), n in sorted(snap.incidents.items()):
        incidents.add_metric([comp, kind], n)
    yield incidents
    open_now = GaugeMetricFamily("logloom_open_incidents", "Incidents open now, by the component they are on.",
                                 labels=["component"])
    for comp, n in snap.open_incidents.items():
        open_now.add_metric([comp], n)
    yield open_now
    for status in extra_status:
        yield from _status_families(status(), GaugeMetricFamily, CounterMetricFamily)


def _component_families(snap: Snapshot, gauge: Any, counter: Any) -> Iterator[Any]:
    state = gauge("logloom_state", "1 for the state each component is in, 0 for its other states.",
                  labels=["component", "state"])
    in_state = gauge("logloom_time_in_state_seconds", "Log time since the component entered its current "
                     "state (absent while the entry was never seen).", labels=["component", "state"])
    events = counter("logloom_component_events", "Events that reached the component.", labels=["component"])
    transitions = counter("logloom_transitions", "State transitions: observed in the log, or inferred "
                          "(the synthesised steps of permissive jumps).", labels=["component", "kind"])
    jumps = counter("logloom_jumps", "Permissive jumps over missing lines.", labels=["component"])
    violations = counter("logloom_violations", "Events refused: no transition (invalid_transition) or a "
                         "requirement not met (guard_blocked).", labels=["component", "kind"])
    data_only = counter("logloom_data_only_events", "Events that only carried data.", labels=["component"])
    skipped = counter("logloom_skipped_rows", "Metric rows not written: a value never captured, an exit "
                      "earlier than its entry.", labels=["component", "reason"])
    for c in snap.components:
        for name in snap.states.get(c.id, (c.state,)):
            state.add_metric([c.id, name], 1.0 if name == c.state else 0.0)
        if c.entered is not None and snap.newest_ts is not None:
            in_state.add_metric([c.id, c.state], max(snap.newest_ts - c.entered, 0) / 1_000_000)
        k = c.counters
        events.add_metric([c.id], k.get("events", 0))
        transitions.add_metric([c.id, "observed"], k.get("transitions", 0) - k.get("inferred_steps", 0))
        transitions.add_metric([c.id, "inferred"], k.get("inferred_steps", 0))
        jumps.add_metric([c.id], k.get("jumps", 0))
        for kind in VIOLATIONS:
            violations.add_metric([c.id, kind], k.get(kind, 0))
        data_only.add_metric([c.id], k.get("data_only", 0))
        for reason in SKIPPED_ROWS:
            skipped.add_metric([c.id, reason], k.get(reason, 0))
    yield from (state, in_state, events, transitions, jumps, violations, data_only, skipped)


def _series_families(snap: Snapshot, gauge: Any, histogram: Any, go_float: Callable[[float], str]) -> Iterator[Any]:
    durations = histogram("logloom_duration_seconds", "Duration metrics (time in a state), in seconds. "
                          "Buckets: the baseline's limits where one is active.", labels=["component", "metric"])
    values = histogram("logloom_value", "Value and count metrics, in the unit named by the label. "
                       "Buckets: the baseline's limits where one is active.", labels=["component", "metric", "unit"])
    last_d = gauge("logloom_last_duration_seconds", "The latest row of each duration metric.",
                   labels=["component", "metric"])
    last_v = gauge("logloom_last_value", "The latest row of each value or count metric.",
                   labels=["component", "metric", "unit"])
    limit_d = gauge("logloom_duration_limit_seconds", "The active baseline's limits of a duration metric "
                    "(a config override wins).", labels=["component", "metric", "bound"])
    limit_v = gauge("logloom_value_limit", "The active baseline's limits of a value or count metric.",
                    labels=["component", "metric", "unit", "bound"])
    for s in snap.series:
        labels = [s.component, s.metric] if s.kind == "duration" else [s.component, s.metric, s.unit]
        buckets = [(go_float(b), float(c)) for b, c in zip(s.bounds, s.cumulative, strict=False)]
        buckets.append(("+Inf", float(s.cumulative[-1])))
        (durations if s.kind == "duration" else values).add_metric(labels, buckets, s.total)
        if s.last is not None:
            (last_d if s.kind == "duration" else last_v).add_metric(labels, s.last)
        if s.lower is not None and s.upper is not None:
            limits = limit_d if s.kind == "duration" else limit_v
            limits.add_metric([*labels, "lower"], s.lower)
            limits.add_metric([*labels, "upper"], s.upper)
    yield from (durations, values, last_d, last_v, limit_d, limit_v)


def _status_families(status: Mapping[str, float], gauge: Any, counter: Any) -> Iterator[Any]:
    """Another observer's own figures (the MQTT publisher's), by the names it gives."""
    for name, value in status.items():
        if name.endswith("_total"):
            yield counter(name.removesuffix("_total"), _STATUS_HELP.get(name, name), value=value)
        else:
            yield gauge(name, _STATUS_HELP.get(name, name), value=value)


_STATUS_HELP = {
    "logloom_mqtt_published_messages_total": "MQTT messages the broker acknowledged.",
    "logloom_mqtt_dropped_messages_total": "MQTT messages dropped: the buffer was full, or undelivered at exit.",
    "logloom_mqtt_buffered_messages": "MQTT messages waiting to be published.",
    "logloom_mqtt_connected": "1 while connected to the MQTT broker.",
}
