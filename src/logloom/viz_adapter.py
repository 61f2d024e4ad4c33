"""The 3D/time-series view of a run, drawn with the Rerun SDK (an optional extra).

Owns the observer that turns the engine's hooks into Rerun columns, the sinks it
feeds (file, server, native viewer) and the default layout; what to draw comes
as a ``VizScene`` (``logloom.viz_scene``). Promises:

- ``import logloom`` never imports rerun; only ``make_viz_observer`` does, and
  without it raises ``VizUnavailableError`` carrying ``pip install 'logloom[viz]'``.
- Every hook only appends to a list; data leaves in columns (``send_columns``)
  every ``chunk_events`` events, at the first event more than a second after the
  last send (so a live ``--follow`` view lags a second, not 10k events), on
  ``flush()`` and at ``close()``: one ``rr.log`` per event costs 60-280 us and
  would cut throughput a hundredfold.
- Everything is on one timeline, ``timestamp``, of the log's own times; the
  SDK's wall-clock ``log_time`` and ``log_tick`` are turned off.
- ``serve`` binds only the address it is given (the SDK's ``serve_grpc`` binds
  every interface).

Entity layout: ``line/<id>`` box coloured by state (``line/<id>/alarm`` a red
wireframe from an anomaly until the component's next state change),
``states/<id>`` StateChange lane, ``metrics/<id>/<metric>`` scalars with their
anomalies as red points under ``.../anomalies``, ``anomalies`` (red) and
``violations`` (orange: invalid transitions, blocked guards) text logs.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from bisect import bisect_right
from collections.abc import Callable, Mapping
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from logloom.errors import InputError, LogloomError
from logloom.records import INFERRED_SUFFIX, Anomaly, MetricRow, Observer, StateChange
from logloom.viz_scene import RGB, VizScene

if TYPE_CHECKING:
    import rerun as rr


INSTALL_HINT = "pip install 'logloom[viz]'"
TIMELINE = "timestamp"
DEFAULT_PORT = 9876
ANOMALY_RGB = (255, 0, 0)
VIOLATION_RGB = (255, 140, 0)
RECENT_CHANGES = 1024  # per component, to end alarms whose anomaly came late


class VizUnavailableError(LogloomError):
    """The Rerun SDK is not installed; the message carries the install command."""

    def __init__(self) -> None:
        super().__init__(f"visualisation needs the Rerun SDK: {INSTALL_HINT}")


def _rgba32(rgb: RGB) -> int:
    return (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF


class NullObserver(Observer):
    """Observes nothing; stands in when no viz sink could be opened."""


def _import_rerun() -> Any:
    try:
        import rerun
    except ImportError as exc:
        raise VizUnavailableError() from exc
    return rerun


def has_display() -> bool:
    """Whether a native viewer window can be opened here."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def spawn_viewer(port: int) -> None:
    """Start the native viewer listening on 127.0.0.1:port; returns once it accepts data.

    ``rr.spawn`` would start it bound to every interface (the viewer's default) and
    only finds ``rerun`` on PATH, which a venv's console script does not put there.
    """
    import rerun_bindings

    exe = shutil.which("rerun") or str(Path(sys.executable).with_name("rerun"))
    rerun_bindings.spawn(
        port=port,
        hide_welcome_screen=True,
        executable_path=exe,
        extra_args=["--bind", "127.0.0.1"],
        extra_env=[("RERUN_APP_ONLY", "true")],
    )


def split_address(serve: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[v6]:PORT`` -> (host, port); default port 9876.

    Raises ``InputError`` for a port that is not a number in 1-65535.
    """
    text = serve.strip() or "127.0.0.1"
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else port
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--viz-serve {serve}: the port must be a number from 1 to 65535")
    return host or "127.0.0.1", int(port)


def check_bindable(host: str, port: int) -> None:
    """InputError unless ``host:port`` can be listened on now.

    The SDK's server only logs a bind failure from its own thread, and the run
    would go on serving nothing.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(addr)
    except (OSError, IndexError) as exc:
        raise InputError(f"--viz-serve {host}:{port}: cannot listen there ({exc})") from exc


def _eye(scene: VizScene) -> Any:
    """A camera in front of and above the line, looking at its middle."""
    rr = _import_rerun()
    if not scene.components:
        return None
    lo = [min(c.position[i] - c.size[i] / 2 for c in scene.components) for i in range(3)]
    hi = [max(c.position[i] + c.size[i] / 2 for c in scene.components) for i in range(3)]
    mid = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    extent = max(max(b - a for a, b in zip(lo, hi, strict=True)), 1.0)
    return rr.blueprint.EyeControls3D(
        position=[mid[0], mid[1] - 1.3 * extent, mid[2] + 0.8 * extent],
        look_target=mid,
        eye_up=[0, 0, 1],
    )


def build_blueprint(scene: VizScene) -> Any:
    """The default layout: 3D line and anomaly log | state lanes and metric charts."""
    rr = _import_rerun()
    rrb = rr.blueprint
    esc = rr.escape_entity_path_part
    # the whole run in every chart, with the time cursor on it
    everything = rrb.VisibleTimeRange(
        TIMELINE, start=rrb.TimeRangeBoundary.infinite(), end=rrb.TimeRangeBoundary.infinite()
    )
    tabs = [
        rrb.Grid(
            *[
                rrb.TimeSeriesView(origin=f"/metrics/{esc(c.id)}/{esc(m)}", name=m, time_ranges=everything)
                for m in c.metrics
            ],
            name=c.label or c.id,
        )
        for c in scene.components
        if c.metrics
    ]
    right = [rrb.StateTimelineView(origin="/states", name="States")]
    if tabs:
        right.append(rrb.Tabs(*tabs, name="Metrics"))
    return rrb.Blueprint(
        rrb.Horizontal(
            rrb.Vertical(
                rrb.Spatial3DView(origin="/line", name=scene.line, eye_controls=_eye(scene)),
                rrb.TextLogView(origin="/", contents=["/anomalies", "/violations"], name="Anomalies"),
                row_shares=[3, 1],
            ),
            rrb.Vertical(*right, row_shares=[1, 2][: len(right)]),
            column_shares=[2, 3],
        ),
        rrb.TimePanel(timeline=TIMELINE),
    )


def make_viz_observer(
    viz_config: VizScene,
    *,
    spawn: bool,
    save: Path | None,
    serve: str | None,
    notify: Callable[[str], None] | None = None,
    chunk_events: int = 10_000,
) -> Observer:
    """Open the requested sinks and return the observer that feeds them.

    ``spawn`` starts a native viewer when a display exists (otherwise ``notify``
    says what to do instead); ``save`` writes an .rrd file; ``serve`` is the bind
    address (``HOST[:PORT]``) of a gRPC server a viewer can connect to. Raises
    ``VizUnavailableError`` without the SDK. Returns a ``NullObserver`` when no
    sink is left.
    """
    rr = _import_rerun()
    say = notify or (lambda msg: print(msg, file=sys.stderr))
    sinks: list[Any] = []
    if save is not None:
        if save.is_dir():
            raise InputError(f"--viz-save {save}: is a directory; name a FILE.rrd")
        try:
            save.parent.mkdir(parents=True, exist_ok=True)
            sinks.append(rr.FileSink(str(save)))
        except (OSError, RuntimeError) as exc:  # the SDK reports file errors as RuntimeError
            raise InputError(f"--viz-save {save}: cannot write it ({exc})") from exc
    serve_port = None
    if serve is not None:
        host, serve_port = split_address(serve)
        check_bindable(host, serve_port)
        server = rr.GrpcServerSink(bind_ip=host, port=serve_port)
        sinks.append(server)
        say(f"viz: serving on {host}:{serve_port}; connect with: rerun {server.uri}")
    if spawn:
        if has_display():
            port = DEFAULT_PORT + 1 if serve_port == DEFAULT_PORT else DEFAULT_PORT
            try:
                spawn_viewer(port)
                sinks.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{port}/proxy"))
            except Exception as exc:  # the SDK raises plain RuntimeErrors here
                say(f"viz: could not start the Rerun viewer ({exc}); use --viz-save FILE.rrd")
        else:
            say(
                "viz: no display here (DISPLAY/WAYLAND_DISPLAY unset); use --viz-save FILE.rrd "
                "and open it with `rerun FILE.rrd` on a machine with a screen, or --viz-serve "
                "and connect a viewer to it"
            )
    if not sinks:
        return NullObserver()
    rec = rr.RecordingStream("logloom", recording_id=uuid.uuid4())
    rec.set_log_time_enabled(False)
    rec.set_log_tick_enabled(False)
    try:
        rec.set_sinks(*sinks, default_blueprint=build_blueprint(viz_config))
    except RuntimeError as exc:  # e.g. the .rrd path is a directory
        raise InputError(f"viz: cannot open its output: {exc}") from exc
    rec.send_recording_name(viz_config.line)
    return RerunObserver(viz_config, rec, chunk_events=chunk_events, notify=say)


class RerunObserver(Observer):
    """Buffers the engine's records and sends them to a RecordingStream in columns.

    Owns the recording stream: ``close()`` flushes and disconnects it (which
    finalises an .rrd file).
    """

    def __init__(
        self,
        scene: VizScene,
        rec: rr.RecordingStream,
        *,
        chunk_events: int,
        max_delay: float = 1.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self._rr = _import_rerun()
        self._max_delay = max_delay
        self._due = monotonic() + max_delay
        self._notify = notify or (lambda msg: print(msg, file=sys.stderr))
        self._rec = rec
        self._scene = scene
        self._chunk = max(1, chunk_events)
        self._changes: list[StateChange] = []
        self._rows: list[MetricRow] = []
        self._anomalies: list[Anomaly] = []
        self._violations: list[tuple[int, str, str]] = []
        self._pending = 0
        self._started = False
        self._series_seen: set[tuple[str, str]] = set()
        self._alarm_since: dict[str, int] = {}  # component -> anomaly ts, alarm still on
        self._last_changes: dict[str, list[int]] = {}  # component -> latest change times sent
        self._comps = {c.id: c for c in scene.components}
        self._color32 = {s: _rgba32(rgb) for s, rgb in scene.state_colors.items()}
        self._default32 = _rgba32(scene.default_color)
        self._looks: dict[str, dict[str, tuple[int, str]]] = {}  # component -> state -> (colour, label)
        self._closed = False
        self._log_static()

    # --- hooks: append only -------------------------------------------------
    def on_state_change(self, change: StateChange) -> None:
        self._changes.append(change)
        self._pending += 1
        if self._pending >= self._chunk or monotonic() >= self._due:
            self.flush()

    def on_row(self, row: MetricRow) -> None:
        self._rows.append(row)
        self._pending += 1
        if self._pending >= self._chunk or monotonic() >= self._due:
            self.flush()

    def on_anomaly(self, anomaly: Anomaly) -> None:
        self._anomalies.append(anomaly)
        self._pending += 1
        if self._pending >= self._chunk or monotonic() >= self._due:
            self.flush()

    def on_violation(self, ts: int, component_id: str, kind: str) -> None:
        self._violations.append((ts, component_id, kind))
        self._pending += 1
        if self._pending >= self._chunk or monotonic() >= self._due:
            self.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
            self._rec.flush()
        except RuntimeError as exc:  # a viewer gone away must not fail the run
            self._notify(f"viz: not everything reached the viewer: {exc}")
        finally:
            self._rec.disconnect()

    # --- sending ------------------------------------------------------------
    def _esc(self, part: str) -> str:
        return str(self._rr.escape_entity_path_part(part))

    def _log_static(self) -> None:
        import numpy as np

        rr, rec = self._rr, self._rec
        rec.log("line", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
        for c in self._scene.components:
            half = [s / 2 for s in c.size]
            rec.log(
                f"line/{self._esc(c.id)}",
                rr.Boxes3D(centers=[c.position], half_sizes=[half], fill_mode="solid"),
                static=True,
            )
            states = list(dict.fromkeys([*c.states, c.initial_state]))
            rec.log(
                f"states/{self._esc(c.id)}",
                rr.StateConfiguration(
                    values=states,
                    colors=np.array([self._color32.get(s, self._default32) for s in states], dtype=np.uint32),
                ),
                static=True,
            )

    def _time(self, ts_us: list[int]) -> Any:
        import numpy as np

        ns = np.asarray(ts_us, dtype=np.int64) * 1000
        return [self._rr.TimeColumn(TIMELINE, timestamp=ns.view("datetime64[ns]"))]

    def flush(self) -> None:
        """Send everything buffered, one ``send_columns`` per entity."""
        self._due = monotonic() + self._max_delay
        changes, rows, anomalies = self._changes, self._rows, self._anomalies
        violations, self._violations = self._violations, []
        self._changes, self._rows, self._anomalies, self._pending = [], [], [], 0
        if violations:
            self._send_violations(violations)
        if not (changes or rows or anomalies):
            return
        lanes: dict[str, tuple[list[int], list[str]]] = {}
        if not self._started:
            self._started = True
            t0 = min(b[0].ts for b in (changes, rows, anomalies) if b)
            first_from: dict[str, str] = {}
            for ch in changes:
                first_from.setdefault(ch.component_id, ch.from_state)
            for c in self._scene.components:
                lanes[c.id] = ([t0], [first_from.get(c.id, c.initial_state)])
        for at, cid, _, to_state, _, _ in changes:
            lane = lanes.get(cid)
            if lane is None:
                lane = lanes[cid] = ([], [])
            lane[0].append(at)
            lane[1].append(to_state)
        self._send_states(lanes)
        self._send_metrics(rows, anomalies)
        self._send_alarms(changes, anomalies)

    def _send_states(self, lanes: Mapping[str, tuple[list[int], list[str]]]) -> None:
        import numpy as np

        rr, rec = self._rr, self._rec
        for cid, (ts, states) in lanes.items():
            path = self._esc(cid)
            index = self._time(ts)
            rec.send_columns(f"states/{path}", index, rr.StateChange.columns(state=states))
            comp = self._comps.get(cid)
            if comp is None:
                continue
            looks = self._looks.get(cid)
            if looks is None:
                looks = self._looks[cid] = {}
            for state in set(states) - looks.keys():  # colour and label of each state, made once
                looks[state] = (self._color32.get(state, self._default32), f"{comp.label or cid}: {state}")
            colors = np.array([looks[st][0] for st in states], dtype=np.uint32)
            labels = [looks[st][1] for st in states]
            rec.send_columns(f"line/{path}", index, rr.Boxes3D.columns(colors=colors, labels=labels))

    def _send_metrics(self, rows: list[MetricRow], anomalies: list[Anomaly]) -> None:
        import numpy as np

        rr, rec = self._rr, self._rec
        series: dict[tuple[str, str], tuple[list[int], list[float], str]] = {}
        for at, cid, name, value, unit, context in rows:
            if context.endswith(INFERRED_SUFFIX):  # synthesised zero-length visits, left out as in the baseline
                continue
            s = series.get((cid, name))
            if s is None:
                s = series[(cid, name)] = ([], [], unit)
            s[0].append(at)
            s[1].append(value)
        for (cid, metric), (ts, values, unit) in series.items():
            path = f"metrics/{self._esc(cid)}/{self._esc(metric)}"
            if (cid, metric) not in self._series_seen:
                self._series_seen.add((cid, metric))
                rec.log(path, rr.SeriesLines(names=f"{metric} [{unit}]"), static=True)
                rec.log(
                    f"{path}/anomalies",
                    rr.SeriesPoints(colors=[ANOMALY_RGB], names="anomaly", markers="cross", marker_sizes=6.0),
                    static=True,
                )
            rec.send_columns(path, self._time(ts), rr.Scalars.columns(scalars=np.asarray(values, np.float64)))
        if not anomalies:
            return
        marks: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for a in anomalies:
            m = marks.setdefault((a.component_id, a.metric_name), ([], []))
            m[0].append(a.ts)
            m[1].append(a.value)
        for (cid, metric), (ts, values) in marks.items():
            path = f"metrics/{self._esc(cid)}/{self._esc(metric)}/anomalies"
            rec.send_columns(path, self._time(ts), rr.Scalars.columns(scalars=np.asarray(values, np.float64)))
        texts = [
            f"{a.component_id} {a.metric_name}={a.value:g} {a.unit} in {a.state_context}: "
            f"outside [{a.lower:g}, {a.upper:g}] (expected {a.expected:g}, "
            f"score {a.score:.2f}, {a.rule})"
            for a in anomalies
        ]
        n = len(anomalies)
        rec.send_columns(
            "anomalies",
            self._time([a.ts for a in anomalies]),
            rr.TextLog.columns(
                text=texts,
                level=["WARN"] * n,
                color=np.full(n, _rgba32(ANOMALY_RGB), dtype=np.uint32),
            ),
        )

    def _send_violations(self, violations: list[tuple[int, str, str]]) -> None:
        """Refused events (invalid transitions, blocked guards) as orange log lines."""
        import numpy as np

        n = len(violations)
        self._rec.send_columns(
            "violations",
            self._time([v[0] for v in violations]),
            self._rr.TextLog.columns(
                text=[f"{cid}: {kind}" for _, cid, kind in violations],
                level=["WARN"] * n,
                color=np.full(n, _rgba32(VIOLATION_RGB), dtype=np.uint32),
            ),
        )

    def _send_alarms(self, changes: list[StateChange], anomalies: list[Anomaly]) -> None:
        """Red wireframe on a component from its anomaly to its next state change.

        Anomalies are scored after the engine has moved on (a block at a time), so the
        change that ends an alarm may already have been sent: each component's latest
        ``RECENT_CHANGES`` change times are kept for that.
        """
        seen: dict[str, list[int]] = {}
        for c in changes:
            if c.component_id in self._comps:
                seen.setdefault(c.component_id, []).append(c.ts)
        for times in seen.values():
            times.sort()
        marks: dict[str, list[tuple[int, int]]] = {}  # component -> (ts, 1 on / 0 off)
        for cid, since in list(self._alarm_since.items()):
            later = seen.get(cid, [])
            k = bisect_right(later, since)
            if k < len(later):
                marks.setdefault(cid, []).append((later[k], 0))
                del self._alarm_since[cid]
        for a in sorted(anomalies, key=lambda a: a.ts):
            cid = a.component_id
            if cid not in self._comps or cid in self._alarm_since:
                continue
            marks.setdefault(cid, []).append((a.ts, 1))
            later = sorted([*self._last_changes.get(cid, []), *seen.get(cid, [])])
            k = bisect_right(later, a.ts)
            if k < len(later):
                marks[cid].append((later[k], 0))
            else:
                self._alarm_since[cid] = a.ts
        for cid, times in seen.items():
            self._last_changes[cid] = [*self._last_changes.get(cid, []), *times][-RECENT_CHANGES:]
        if not marks:
            return
        import numpy as np

        per: dict[str, tuple[list[int], list[int]]] = {}
        for cid, rows in marks.items():
            rows.sort()  # at one instant an end comes before a new start
            per[cid] = ([t for t, _ in rows], [on for _, on in rows])
        for cid, (times, lengths) in per.items():
            # all temporal: an alarm entity with static parts but no half_sizes yet is an
            # incomplete Boxes3D, which the viewer flags as an error
            comp, n = self._comps[cid], sum(lengths)
            half = [s / 2 * 1.15 for s in comp.size]
            column = self._rr.Boxes3D.columns(
                centers=np.asarray([comp.position] * n, dtype=np.float32).reshape(-1, 3),
                half_sizes=np.asarray([half] * n, dtype=np.float32).reshape(-1, 3),
                colors=np.full(n, _rgba32(ANOMALY_RGB), dtype=np.uint32),
                fill_mode=["majorwireframe"] * n,
            ).partition(lengths)
            self._rec.send_columns(f"line/{self._esc(cid)}/alarm", self._time(times), column)
