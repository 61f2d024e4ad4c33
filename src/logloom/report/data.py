"""The data of ``logloom report``: the outputs of a data directory read back and reduced.

Owns reading section 5's outputs (metrics parts in part order, anomalies,
baseline, run summary) into per-component ``ComponentData``: a ``Timeline`` of
state visits and a ``Decimator`` per metric series. Promises: the metric parts
are streamed once, and memory stays bounded for any size of metrics file, since
a series beyond ``max_points`` is reduced to the min and max of each time slot
(``Decimator.reduced`` says so) and a timeline beyond its cap to time slots,
while anomalies and time shares stay exact; timestamps are read in the log's
own offset (``Clock``).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from logloom.config.yaml_io import load_yaml
from logloom.detect.bounds import floors
from logloom.errors import InputError
from logloom.records import ANOMALIES_HEADER, INFERRED_SUFFIX, METRICS_HEADER
from logloom.viz.scene import VizScene

MAX_POINTS = 5000
TIMELINE_CAP = 1600  # visits drawn one by one; beyond, slots of about a pixel
METRIC_COLUMNS = tuple(METRICS_HEADER.split(","))
ANOMALY_COLUMNS = tuple(ANOMALIES_HEADER.split(","))
_PART = re.compile(r"process_metrics(?:_part(\d+))?\.csv$")


class Decimator:
    """Keeps every point up to ``cap``, then the min and max of each time slot.

    Slots double in width whenever there are more than ``cap // 2`` of them, so
    memory stays O(cap) whatever the number of points.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 4)
        self.n = 0
        self.raw: list[tuple[float, float]] | None = []
        self.origin = 0.0
        self.width = 0.0
        self.slots: dict[int, list[float]] = {}  # key -> [t_min, v_min, t_max, v_max]

    def add(self, t: float, v: float) -> None:
        self.n += 1
        if self.raw is not None:
            self.raw.append((t, v))
            if len(self.raw) > self.cap:
                raw, self.raw = self.raw, None
                ts = [p[0] for p in raw]
                self.origin = min(ts)
                self.width = max((max(ts) - self.origin) / (self.cap // 2), 1e-6)
                for p in raw:
                    self._put(*p)
            return
        self._put(t, v)

    def _put(self, t: float, v: float) -> None:
        key = math.floor((t - self.origin) / self.width)
        slot = self.slots.get(key)
        if slot is None:
            self.slots[key] = [t, v, t, v]
            while len(self.slots) > self.cap // 2:
                self._coarsen()
        else:
            if v < slot[1]:
                slot[0], slot[1] = t, v
            if v > slot[3]:
                slot[2], slot[3] = t, v

    def _coarsen(self) -> None:
        self.width *= 2
        merged: dict[int, list[float]] = {}
        for key, s in self.slots.items():
            m = merged.get(key // 2)
            if m is None:
                merged[key // 2] = list(s)
                continue
            if s[1] < m[1]:
                m[0], m[1] = s[0], s[1]
            if s[3] > m[3]:
                m[2], m[3] = s[2], s[3]
        self.slots = merged

    @property
    def reduced(self) -> bool:
        return self.raw is None

    def points(self) -> list[tuple[float, float]]:
        if self.raw is not None:
            return sorted(self.raw, key=lambda p: p[0])
        pts: list[tuple[float, float]] = []
        for key in sorted(self.slots):
            s = self.slots[key]
            pair = sorted({(s[0], s[1]), (s[2], s[3])})
            pts.extend(pair)
        return pts


class Timeline:
    """Visits of one component: exact time share; bounded drawing.

    Up to ``cap`` visits are kept; beyond, time is cut into slots holding the
    seconds spent per state, drawn as the state that filled most of each slot.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 4)
        self.visits: list[tuple[float, float, str]] | None = []
        self.share: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.inferred: dict[str, int] = {}
        self.origin = 0.0
        self.width = 0.0
        self.slots: dict[int, dict[str, float]] = {}

    def add(self, start: float, end: float, state: str, inferred: bool) -> None:
        if inferred:
            self.inferred[state] = self.inferred.get(state, 0) + 1
        else:
            self.share[state] = self.share.get(state, 0.0) + (end - start)
            self.count[state] = self.count.get(state, 0) + 1
        if self.visits is not None:
            self.visits.append((start, end, state))
            if len(self.visits) > self.cap:
                visits, self.visits = self.visits, None
                self.origin = min(v[0] for v in visits)
                span = max(v[1] for v in visits) - self.origin
                self.width = max(span / (self.cap // 2), 1e-6)
                for v in visits:
                    self._put(*v)
            return
        self._put(start, end, state)

    def _put(self, start: float, end: float, state: str) -> None:
        if end <= start:
            return
        while (end - start) / self.width > self.cap // 2:
            self._coarsen()
        k0 = math.floor((start - self.origin) / self.width)
        k1 = math.floor((end - self.origin) / self.width)
        for k in range(k0, k1 + 1):
            lo = max(start, self.origin + k * self.width)
            hi = min(end, self.origin + (k + 1) * self.width)
            if hi > lo:
                slot = self.slots.setdefault(k, {})
                slot[state] = slot.get(state, 0.0) + hi - lo
        while len(self.slots) > self.cap // 2:
            self._coarsen()

    def _coarsen(self) -> None:
        self.width *= 2
        merged: dict[int, dict[str, float]] = {}
        for key, slot in self.slots.items():
            m = merged.setdefault(key // 2, {})
            for state, secs in slot.items():
                m[state] = m.get(state, 0.0) + secs
        self.slots = merged

    def bars(self) -> list[tuple[float, float, list[tuple[str, float]]]]:
        """(start, end, [(state, fraction of the bar)]) to draw; whole equal slots merged."""
        if self.visits is not None:
            return [(a, b, [(s, 1.0)]) for a, b, s in self.visits]
        out: list[tuple[float, float, list[tuple[str, float]]]] = []
        for key in sorted(self.slots):
            slot = self.slots[key]
            total = sum(slot.values()) or 1.0
            parts = sorted(((s, secs / total) for s, secs in slot.items()), key=lambda p: -p[1])
            a, b = self.origin + key * self.width, self.origin + (key + 1) * self.width
            prev = out[-1] if out else None
            if prev and len(parts) == 1 and prev[2] == parts and abs(prev[1] - a) < 1e-9:
                out[-1] = (prev[0], b, parts)
            else:
                out.append((a, b, parts))
        return out


@dataclass
class ComponentData:
    timeline: Timeline
    series: dict[str, Decimator] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    anomalies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Clock:
    """Parses CSV timestamps to epoch seconds; remembers the offset to display in."""

    tz: timezone | None = None
    _last: str = ""
    _last_t: float = 0.0

    def __call__(self, text: str) -> float:
        if text == self._last:
            return self._last_t
        if text[4:5] == "-":
            dt = datetime.fromisoformat(text)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            elif self.tz is None:
                off = dt.utcoffset() or timedelta(0)
                self.tz = timezone(off)
            t = dt.timestamp()
        else:
            t = float(text)
            if self.tz is None:  # epoch seconds are UTC instants
                self.tz = UTC
        self._last, self._last_t = text, t
        return t


def metric_files(data_dir: Path) -> list[Path]:
    """process_metrics.csv, then _part2, _part3, ... in part order."""
    found = []
    for path in data_dir.glob("process_metrics*.csv"):
        m = _PART.fullmatch(path.name)
        if m:
            found.append((int(m.group(1) or 1), path))
    return [p for _, p in sorted(found)]


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[list[str]]:
    """The named columns of each row, in that order (short rows come out short)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError(f"{path}: no column {', '.join(missing)} in its header")
        idx = [header.index(c) for c in columns]
        if idx == list(range(len(columns))):
            yield from reader
        else:
            for row in reader:
                yield [row[i] for i in idx if i < len(row)]


def _load_yaml(path: Path) -> Any:
    if not path.exists():
        return None
    return load_yaml(path.read_text(encoding="utf-8"))


def _load_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def duration_metrics(process_logic: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(machine type, state) -> the first duration metric of that state."""
    out: dict[tuple[str, str], str] = {}
    for mtype, machine in (process_logic.get("machines") or {}).items():
        for state, spec in ((machine or {}).get("states") or {}).items():
            for metric in (spec or {}).get("metrics") or []:
                if metric.get("type") == "duration":
                    out.setdefault((mtype, state), metric["name"])
    return out


def per_component_counters(summary: Mapping[str, Any], ids: list[str]) -> dict[str, dict[str, Any]]:
    """Finds the per-component counters wherever the summary keeps them."""
    for key in ("components", "per_component", "component_counters", "counters"):
        block = summary.get(key)
        if isinstance(block, Mapping) and any(i in block for i in ids):
            return {i: dict(block.get(i) or {}) for i in ids}
    return {i: dict(summary[i]) for i in ids if isinstance(summary.get(i), Mapping)}


def load(data_dir: Path, config_dir: Path, max_points: int) -> dict[str, Any]:
    """Reads everything the report shows; streams the metric parts once."""
    files = metric_files(data_dir)
    anomalies_csv = data_dir / "anomalies.csv"
    if not files and not anomalies_csv.exists():
        raise InputError(
            f"{data_dir}: no process_metrics.csv or anomalies.csv; run `logloom record` or `logloom monitor` first"
        )
    scene = VizScene.from_config_dir(config_dir)
    logic = _load_yaml(config_dir / "process_logic.yaml") or {}
    durations = duration_metrics(logic)
    types = {c.id: c.type for c in scene.components}
    data = {c.id: ComponentData(Timeline(min(max_points, TIMELINE_CAP))) for c in scene.components}
    clock, skipped, n_anom = Clock(), 0, 0
    for path in files:
        for row in _rows(path, METRIC_COLUMNS):
            try:
                ts, cid, metric, value, unit, ctx = row[:6]
                t, v = clock(ts), float(value)
            except ValueError:
                skipped += 1
                continue
            comp = data.get(cid) or data.setdefault(cid, ComponentData(Timeline(min(max_points, TIMELINE_CAP))))
            inferred = ctx.endswith(INFERRED_SUFFIX)
            state = ctx[: -len(INFERRED_SUFFIX)] if inferred else ctx
            if durations.get((types.get(cid, ""), state)) == metric:
                comp.timeline.add(t - v, t, state, inferred)
            if inferred:
                continue  # synthesised zero rows: not measurements (as in the baseline)
            series = comp.series.get(metric)
            if series is None:
                series = comp.series[metric] = Decimator(max_points)
                comp.units[metric] = unit
            series.add(t, v)
    for row in _rows(anomalies_csv, ANOMALY_COLUMNS) if anomalies_csv.exists() else ():
        try:
            got = dict(zip(ANOMALY_COLUMNS, row, strict=True))
            rec: dict[str, Any] = {k: got[k] for k in ("metric_name", "state_context", "rule")}
            rec["t"] = clock(got["timestamp"])
            for k in ("value", "expected", "lower", "upper", "score"):
                rec[k] = float(got[k]) if got[k] else math.nan
        except ValueError:
            skipped += 1
            continue
        cid = got["component_id"]
        comp = data.get(cid) or data.setdefault(cid, ComponentData(Timeline(min(max_points, TIMELINE_CAP))))
        comp.anomalies.setdefault(rec["metric_name"], []).append(rec)
        comp.units.setdefault(rec["metric_name"], got["unit"])
        n_anom += 1
    baseline = _load_json(data_dir / "process_baseline.json")
    summary = _load_json(data_dir / "run_summary.json")
    return {
        "scene": scene,
        "data": data,
        "files": [p.name for p in files],
        "skipped": skipped,
        "n_anomalies": n_anom,
        "tz": clock.tz,
        "baseline": baseline if isinstance(baseline, Mapping) else {},
        "summary": summary if isinstance(summary, Mapping) else {},
        "floors": floors(logic, types),
    }
