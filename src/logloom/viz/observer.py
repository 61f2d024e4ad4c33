"""The Rerun observer: the engine's hooks buffered into columns and sent to a stream.

Owns what is drawn and how it is batched (see ``viz_adapter`` for the sinks it is
connected to and the layout). Every hook only appends to a list; data leaves with
``send_columns`` every ``chunk_events`` events, at the first event more than
``max_delay`` after the last send, on ``flush()`` and at ``close()``.
``import logloom`` never imports rerun: only ``import_rerun`` does, raising
``VizUnavailableError`` with the install command when the extra is missing.
"""

from __future__ import annotations

import os
import sys
from bisect import bisect_right
from collections.abc import Callable, Mapping
from time import monotonic
from typing import TYPE_CHECKING, Any

from logloom.errors import LogloomError
from logloom.records import INFERRED_SUFFIX, Anomaly, MetricRow, Observer, StateChange
from logloom.viz.scene import RGB, VizScene

if TYPE_CHECKING:
    import rerun as rr


INSTALL_HINT = "pip install 'logloom[viz]'"
TIMELINE = "timestamp"
ANOMALY_RGB = (255, 0, 0)
VIOLATION_RGB = (255, 140, 0)
RECENT_CHANGES = 1024  # per component, to end alarms whose anomaly came late



class VizUnavailableError(LogloomError):
    """The Rerun SDK is not installed; the message carries the install command."""

    def __init__(self) -> None:
        super().__init__(f"visualisation needs the Rerun SDK: {INSTALL_HINT}")


def _rgba32(rgb: RGB) -> int:
    return (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF


def import_rerun() -> Any:
    """The Rerun SDK, imported with its own log lines kept to errors.

    The SDK prints coloured ``WARN`` lines of its internals to stderr (a viewer still
    connecting at shutdown, ...); logloom says what matters itself. Its errors (a
    viewer or recording losing data) still show. ``RUST_LOG`` set by the user wins
    (``RUST_LOG=warn`` shows the warnings again).
    """
    os.environ.setdefault("RUST_LOG", "error")
    try:
        import rerun
    except ImportError as exc:
        raise VizUnavailableError() from exc
    return rerun


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
        self._rr = import_rerun()
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
