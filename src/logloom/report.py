"""``logloom report``: one self-contained HTML file from a data directory.

Owns reading the outputs of section 5 (metrics parts, anomalies, baseline, run
summary) back and drawing them as inline SVG: per component a state timeline,
the time share per state, its conformance counters, and a control chart per
metric with the baseline's centre line and limits and every anomaly marked.
Promises: no network is needed to open the file (no script, font or image is
fetched); memory and file size stay bounded for any size of metrics file, since
a series beyond ``max_points`` is reduced to the min and max of each time slot
(and the report says so) while anomalies and time shares stay exact.
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

import yaml

from logloom.errors import InputError
from logloom.records import ANOMALIES_HEADER, INFERRED_SUFFIX, METRICS_HEADER
from logloom.viz_adapter import VizComponent, VizScene

MAX_POINTS = 5000
ANOMALY_ROWS = 500  # per component in the table; the charts show all
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
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


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
    durations = duration_metrics(_load_yaml(config_dir / "process_logic.yaml") or {})
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
    }


# --- geometry: everything the template draws, in SVG user units -------------------

LEFT, WIDTH, RIGHT = 64.0, 850.0, 76.0
CHART_TOP, CHART_H = 8.0, 130.0
_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200]
_STEPS += [86400 * d for d in (1, 2, 7, 14, 30, 91, 182, 365)]


class Axis:
    """Maps the report's common time range to x; ticks in the log's own offset."""

    def __init__(self, t0: float, t1: float, tz: timezone | None) -> None:
        self.t0, self.t1 = t0, (t1 if t1 > t0 else t0 + 1.0)
        self.tz = tz or UTC

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * WIDTH

    def when(self, t: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return datetime.fromtimestamp(t, self.tz).strftime(fmt)

    def ticks(self) -> list[tuple[float, str]]:
        span = self.t1 - self.t0
        step = next((s for s in _STEPS if span / s <= 8), _STEPS[-1])
        fmt = "%H:%M:%S" if step < 60 else "%H:%M" if span < 86400 else "%m-%d %H:%M"
        offset = self.tz.utcoffset(None) or timedelta(0)
        first = 1.0 * math.ceil((self.t0 + offset.total_seconds()) / step) * step
        first -= offset.total_seconds()
        return [(self.x(t), self.when(t, fmt)) for t in _frange(first, self.t1, step)]


def _frange(a: float, b: float, step: float) -> Iterator[float]:
    while a <= b + 1e-9:
        yield a
        a += step


def _nice(lo: float, hi: float) -> list[float]:
    raw = (hi - lo) / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return list(_frange(math.ceil(lo / step) * step, hi, step))


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "-"


def _spread_labels(lines: list[dict[str, Any]], gap: float = 11.0) -> None:
    """Gives each line a ``label_y`` at least ``gap`` apart, so close limits stay legible."""
    lines.sort(key=lambda h: h["y"])
    last = -math.inf
    for h in lines:
        h["label_y"] = max(h["y"] + 3.5, last + gap)
        last = h["label_y"]


def chart_model(
    axis: Axis, name: str, unit: str, series: Decimator | None, marks: list[dict[str, Any]],
    limits: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    pts = series.points() if series else []
    lower, upper = limits.get("lower"), limits.get("upper")
    if lower is None and marks:  # no baseline file: the limits the anomalies were scored with
        lower, upper = marks[-1]["lower"], marks[-1]["upper"]
    centre = limits.get("median")
    values = [v for _, v in pts] + [a["value"] for a in marks]
    values += [v for v in (lower, upper, centre) if isinstance(v, int | float) and math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.06 or max(abs(hi) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad

    def y(v: float) -> float:
        return CHART_TOP + (hi - v) / (hi - lo) * CHART_H

    def hline(v: Any, label: str) -> dict[str, Any] | None:
        ok = isinstance(v, int | float) and math.isfinite(v)
        return {"y": y(v), "label": f"{label} {_fmt(v)}"} if ok else None

    lines = {"upper": hline(upper, "upper"), "lower": hline(lower, "lower"), "centre": hline(centre, "median")}
    _spread_labels([h for h in lines.values() if h is not None])
    return {
        **lines,
        "name": name,
        "unit": unit,
        "n": series.n if series else 0,
        "shown": len(pts),
        "reduced": bool(series and series.reduced),
        "line": " ".join(f"{axis.x(t):.1f},{y(v):.1f}" for t, v in pts),
        "dots": [(axis.x(t), y(v)) for t, v in pts] if len(pts) <= 300 else [],
        "yticks": [(y(v), _fmt(v)) for v in _nice(lo, hi)],
        "marks": [
            {
                "x": axis.x(a["t"]),
                "y": y(a["value"]),
                "limits": a["rule"] == "limits",
                "title": f"{axis.when(a['t'])} {name}={_fmt(a['value'])} {unit} in "
                f"{a['state_context']}: limits [{_fmt(a['lower'])}, {_fmt(a['upper'])}], "
                f"score {_fmt(a['score'])} ({a['rule']})",
            }
            for a in marks
        ],
        "method": limits.get("method", ""),
    }


def component_model(
    axis: Axis, comp: Any, cd: ComponentData, colors: Mapping[str, str], default: str,
    baseline: Mapping[str, Any], counters: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    tl = cd.timeline
    total = sum(tl.share.values())
    states = list(dict.fromkeys([*comp.states, *tl.share, *tl.inferred]))
    share = [
        {
            "state": s,
            "color": colors.get(s, default),
            "seconds": tl.share.get(s, 0.0),
            "pct": 100 * tl.share.get(s, 0.0) / total if total else 0.0,
            "visits": tl.count.get(s, 0),
            "inferred": tl.inferred.get(s, 0),
        }
        for s in states
    ]
    bars = []
    for a, b, parts in tl.bars():
        y, segments = 4.0, []
        for state, frac in parts:
            segments.append({"y": y, "h": 22.0 * frac, "color": colors.get(state, default)})
            y += 22.0 * frac
        shares = ", ".join(f"{s} {100 * f:.0f}%" for s, f in parts)
        what = f"{parts[0][0]}: " if len(parts) == 1 and tl.visits is not None else f"{shares}: "
        bars.append(
            {
                "x": axis.x(a),
                "w": max(axis.x(b) - axis.x(a), 0.6) + (0.5 if tl.visits is None else 0.0),
                "title": f"{what}{axis.when(a)} to {axis.when(b)} ({b - a:.6g} s)",
                "zero": b <= a,
                "parts": segments,
            }
        )
    limits = baseline.get(comp.id) or {}
    names = list(dict.fromkeys([*comp.metrics, *cd.series, *cd.anomalies]))
    charts = [
        chart_model(
            axis,
            m,
            cd.units.get(m, ""),
            cd.series.get(m),
            cd.anomalies.get(m, []),
            limits.get(m) or {},
        )
        for m in names
        if m in cd.series or m in cd.anomalies
    ]
    return {
        "id": comp.id,
        "label": comp.label or comp.id,
        "type": comp.type,
        "share": share,
        "bars": bars,
        "timeline_reduced": tl.visits is None,
        "counters": sorted(counters.items()),
        "charts": charts,
        "n_anomalies": sum(len(v) for v in cd.anomalies.values()),
        "anomaly_rows": anomaly_rows(axis, cd),
    }


def anomaly_rows(axis: Axis, cd: ComponentData, limit: int = ANOMALY_ROWS) -> list[dict[str, str]]:
    """The component's anomalies in time order, the last ``limit`` of them, as table cells."""
    marks = sorted(((m, a) for m, rows in cd.anomalies.items() for a in rows), key=lambda p: p[1]["t"])
    return [
        {
            "time": axis.when(a["t"]),
            "metric": m,
            "value": f"{_fmt(a['value'])} {cd.units.get(m, '')}".strip(),
            "expected": _fmt(a["expected"]),
            "limits": f"{_fmt(a['lower'])} .. {_fmt(a['upper'])}",
            "score": _fmt(a["score"]),
            "rule": a["rule"],
            "state": a["state_context"],
        }
        for m, a in marks[-limit:]
    ]


def time_range(data: Mapping[str, ComponentData]) -> tuple[float, float]:
    lo, hi = math.inf, -math.inf
    for cd in data.values():
        for a, b, _ in cd.timeline.bars():
            lo, hi = min(lo, a), max(hi, b)
        for s in cd.series.values():
            pts = s.points()
            if pts:
                lo, hi = min(lo, pts[0][0]), max(hi, pts[-1][0])
        for marks in cd.anomalies.values():
            for mark in marks:
                lo, hi = min(lo, mark["t"]), max(hi, mark["t"])
    return (lo, hi) if lo <= hi else (0.0, 1.0)


def build_report(data_dir: Path, config_dir: Path, out: Path, *, max_points: int = MAX_POINTS) -> Path:
    """Write the HTML report of ``data_dir`` to ``out`` and return ``out``.

    Raises ``InputError`` when the directory holds no metrics or anomalies.
    """
    import jinja2

    got = load(data_dir, config_dir, max_points)
    scene: VizScene = got["scene"]
    colors = {s: "#{:02x}{:02x}{:02x}".format(*rgb) for s, rgb in scene.state_colors.items()}
    default = "#{:02x}{:02x}{:02x}".format(*scene.default_color)
    axis = Axis(*time_range(got["data"]), got["tz"])
    summary: Mapping[str, Any] = got["summary"]
    counters = per_component_counters(summary, list(got["data"]))
    metrics = got["baseline"].get("metrics") or {}
    comps = {c.id: c for c in scene.components}
    models = [
        component_model(
            axis,
            comps.get(cid) or VizComponent(cid, "?", ""),
            cd,
            colors,
            default,
            metrics,
            counters.get(cid, {}),
        )
        for cid, cd in got["data"].items()
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = env.get_template("report.html.j2").render(
        line=scene.line,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        data_dir=str(data_dir),
        files=got["files"],
        start=axis.when(axis.t0),
        end=axis.when(axis.t1),
        tz=f"in {got['tz']}" if got["tz"] else "as written in the log (no offset)",
        run=[(k, v) for k, v in summary.items() if isinstance(v, int | float | str)],
        baseline_id=got["baseline"].get("id", ""),
        n_anomalies=got["n_anomalies"],
        skipped=got["skipped"],
        max_points=max_points,
        components=models,
        ticks=axis.ticks(),
        geo={"left": LEFT, "width": WIDTH, "right": RIGHT, "top": CHART_TOP, "h": CHART_H},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
