"""``logloom report``: one self-contained HTML file from a data directory.

Owns drawing the data ``logloom.report.data`` reads back as inline SVG: per
component a state timeline, the time share per state, its conformance counters,
and a control chart per metric with the baseline's centre line and limits and
every anomaly marked. Promises: no network is needed to open the file (no
script, font or image is fetched); its size stays bounded for any size of
metrics file, since the series it draws are already reduced (and the report
says so where they are).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from logloom.detect.bounds import clip
from logloom.outputs.paths import require_folder
from logloom.outputs.state_store import write_bytes_atomic
from logloom.report.data import MAX_POINTS, ComponentData, Decimator, load, per_component_counters
from logloom.report.incidents import (
    FLOOD_COUNT,
    LOST,
    MANAGEABLE_PER_HOUR,
    IncidentReport,
    caused,
    lasted,
    load_incidents,
    notable,
)
from logloom.report.present import integrity_notes, label, when
from logloom.viz.scene import VizComponent, VizScene

ANOMALY_ROWS = 500  # per component in the table; the charts show all
INCIDENT_ROWS = 300  # the most notable in the table; the strip shows all
KIND_COLORS = {"fault": "#d62728", "stuck": "#9467bd", "drift": "#ff7f0e", "limits": "#1f77b4",
               "burst": "#8c564b", LOST: "#98a2b3"}


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


def _fmt(v: float | None) -> str:
    return f"{v:.4g}" if v is not None and math.isfinite(v) else "-"


def _spread_labels(lines: list[dict[str, Any]], gap: float = 11.0) -> None:
    """Gives each line a ``label_y`` at least ``gap`` apart, so close limits stay legible."""
    lines.sort(key=lambda h: h["y"])
    last = -math.inf
    for h in lines:
        h["label_y"] = max(h["y"] + 3.5, last + gap)
        last = h["label_y"]


def chart_model(
    axis: Axis, name: str, unit: str, series: Decimator | None, marks: list[dict[str, Any]],
    limits: Mapping[str, Any], floor: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One control chart; ``floor``: the least value the metric can take (its lower limit
    is shown no lower), None for a value metric."""
    pts = series.points() if series else []
    lower, upper = limits.get("lower"), limits.get("upper")
    if lower is None and marks:  # no baseline file: the limits the anomalies were scored with
        lower, upper = marks[-1]["lower"], marks[-1]["upper"]
    lower = clip(lower, floor)
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
        "lines": [" ".join(f"{axis.x(t):.1f},{y(v):.1f}" for t, v in run) for run in _runs(pts, axis)],
        "dots": [(axis.x(t), y(v)) for t, v in pts] if len(pts) <= 300 else [],
        "yticks": [(y(v), _fmt(v)) for v in _nice(lo, hi)],
        "marks": [
            {
                "x": axis.x(a["t"]),
                "y": y(a["value"]),
                "limits": a["rule"] == "limits",
                "title": f"{axis.when(a['t'])} {name}={_fmt(a['value'])} {unit} in "
                f"{a['state_context']}: limits [{_fmt(clip(a['lower'], floor))}, {_fmt(a['upper'])}], "
                f"score {_fmt(a['score'])} ({a['rule']})",
            }
            for a in marks
        ],
        "method": limits.get("method", ""),
    }


def _runs(pts: list[tuple[float, float]], axis: Axis) -> list[list[tuple[float, float]]]:
    """The points cut where the log has a long gap, so that no line is drawn across it.

    A gap is longer than ten times the usual spacing of the series and than 1 % of
    the chart's width: a stop or a weekend, not a slow cycle.
    """
    if len(pts) < 3:
        return [pts] if pts else []
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(pts))
    longest = max(10 * steps[len(steps) // 2], 0.01 * (axis.t1 - axis.t0))
    runs = [[pts[0]]]
    for a, b in itertools.pairwise(pts):
        if b[0] - a[0] > longest:
            runs.append([])
        runs[-1].append(b)
    return runs


def component_model(
    axis: Axis, comp: Any, cd: ComponentData, colors: Mapping[str, str], default: str,
    baseline: Mapping[str, Any], counters: Mapping[str, Any], floors: Mapping[tuple[str, str], float] | None = None,
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
            (floors or {}).get((comp.id, m)),
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
        "counters": [(key, label(key), value) for key, value in sorted(counters.items())],
        "charts": charts,
        "n_anomalies": sum(len(v) for v in cd.anomalies.values()),
        "anomaly_rows": anomaly_rows(axis, cd, floors={m: f for (c, m), f in (floors or {}).items() if c == comp.id}),
    }


def anomaly_rows(axis: Axis, cd: ComponentData, limit: int = ANOMALY_ROWS, *,
                 floors: Mapping[str, float] | None = None) -> list[dict[str, str]]:
    """The component's anomalies in time order, the last ``limit`` of them, as table cells
    (``floors``: metric -> its least value, under which no lower limit is shown)."""
    marks = sorted(((m, a) for m, rows in cd.anomalies.items() for a in rows), key=lambda p: p[1]["t"])
    return [
        {
            "time": axis.when(a["t"]),
            "metric": m,
            "value": f"{_fmt(a['value'])} {cd.units.get(m, '')}".strip(),
            "expected": _fmt(a["expected"]),
            "limits": f"{_fmt(clip(a['lower'], (floors or {}).get(m)))} .. {_fmt(a['upper'])}",
            "score": _fmt(a["score"]),
            "rule": a["rule"],
            "state": a["state_context"],
        }
        for m, a in marks[-limit:]
    ]


def incident_model(axis: Axis, report: IncidentReport | None, order: list[str]) -> dict[str, Any] | None:
    """The incidents section: a strip per component (a bar per incident, from its first
    anomaly to its last, coloured by kind), the table, and the alarm rates."""
    if report is None:
        return None
    rates = report.rates
    lanes = [c for c in order if any(r.component == c for r in report.incidents)]
    lanes += sorted({r.component for r in report.incidents} - set(lanes))
    bars = []
    for r in report.incidents:
        x0 = axis.x(r.opened)
        x1 = axis.x(r.closed if r.closed is not None else axis.t1)
        bars.append({"x": x0, "w": max(x1 - x0, 2.5), "y": 4 + 16 * lanes.index(r.component),
                     "color": KIND_COLORS.get(r.kind, "#667085"),
                     "title": f"#{r.id} {r.component}, {axis.when(r.opened)}, {lasted(r)}: {r.cause}"})
    shown, rest = notable(report.incidents, INCIDENT_ROWS)

    def row(r: Any) -> dict[str, Any]:
        return {"id": r.id, "opened": axis.when(r.opened), "lasted": lasted(r), "component": r.component,
                "kind": r.kind, "cause": r.cause, "caused": caused(r), "anomalies": r.anomalies}

    return {
        "rates": rates, "manageable": MANAGEABLE_PER_HOUR, "flood_count": FLOOD_COUNT,
        "floods": [(axis.when(a), axis.when(b), n) for a, b, n in rates.floods],
        "lanes": [(4 + 16 * i + 11, name) for i, name in enumerate(lanes)], "height": 16 * len(lanes) + 26,
        "bars": bars, "kinds": [(k, c) for k, c in KIND_COLORS.items() if any(r.kind == k for r in report.incidents)],
        "rows": [row(r) for r in shown], "others": [row(r) for r in rest if r.kind != LOST][:INCIDENT_ROWS],
        "lost": sum(r.kind == LOST for r in rest),
    }


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

    require_folder(out, "--out")
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
            got["floors"],
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
        run=[(label(k), when(str(v)) if k == "resumed_from" and v else v) for k, v in summary.items()
             if isinstance(v, int | float | str)],
        baseline_id=got["baseline"].get("id", ""),
        integrity=integrity_notes(summary),
        n_anomalies=got["n_anomalies"],
        skipped=got["skipped"],
        max_points=max_points,
        components=models,
        incidents=incident_model(axis, load_incidents(data_dir), list(got["data"])),
        ticks=axis.ticks(),
        geo={"left": LEFT, "width": WIDTH, "right": RIGHT, "top": CHART_TOP, "h": CHART_H},
    )
    write_bytes_atomic(out, page.encode("utf-8"))  # replaces a symlink there, never writes through it
    return out
