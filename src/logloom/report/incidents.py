"""incidents.csv read back for people, with the alarm-rate figures of ISA-18.2 / EEMUA 191.

Owns reading a data directory's incidents (``load_incidents``) and reducing them to
what an alarm-management review asks (``AlarmRates``): incidents per hour overall
and per component over the monitored log time, floods (more than 10 incidents
opened within 10 minutes), and the bad actors (the component and metric that open
the most incidents). The console summary and the HTML report only draw these.
"""

from __future__ import annotations

import csv
import json
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logloom.records import INCIDENTS_HEADER
from logloom.report.data import Clock

FLOOD_WINDOW_S = 600.0  # ISA-18.2: more than 10 alarms in 10 minutes is a flood
FLOOD_COUNT = 10
MANAGEABLE_PER_HOUR = 6.0  # EEMUA 191: about one alarm per 10 minutes in steady operation
LOST = "lost_lines"
_COLUMNS = INCIDENTS_HEADER.split(",")


@dataclass(frozen=True)
class IncidentRow:
    """One row of incidents.csv; times in epoch seconds (``closed`` None while open)."""

    id: int
    opened: float
    closed: float | None
    component: str
    metrics: tuple[str, ...]
    kind: str
    state: str
    anomalies: int
    effects: tuple[str, ...]
    effect_anomalies: int
    cause: str

    @property
    def alarm_point(self) -> str:
        """What an alarm list would name it by: the component and its first metric."""
        return f"{self.component}.{self.metrics[0]}" if self.metrics else self.component

    @property
    def affected(self) -> list[str]:
        """The components its knock-on effects are on, in order of first appearance."""
        return list(dict.fromkeys(e.split(".", 1)[0] for e in self.effects))


@dataclass(frozen=True)
class AlarmRates:
    """Alarm-rate figures over ``hours`` of monitored log time."""

    hours: float
    total: int
    open: int
    lost_lines: int
    per_hour: float
    per_component: list[tuple[str, int, float]]  # (component, incidents, per hour), busiest first
    bad_actors: list[tuple[str, int, float]]  # (component.metric, incidents, share of all), top 5
    floods: list[tuple[float, float, int]]  # (first, last opening, most within 10 minutes)
    peak_10min: int  # the most incidents opened within any 10 minutes


@dataclass
class IncidentReport:
    incidents: list[IncidentRow]  # in the order they opened
    rates: AlarmRates
    clock: Clock = field(default_factory=Clock)  # the log's offset, to show times in


def read_incidents(path: Path, clock: Clock) -> list[IncidentRow]:
    """The rows of ``path`` in the order they opened (a row that does not parse is skipped)."""
    out = []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        at = {name: header.index(name) for name in _COLUMNS if name in header}
        for cells in reader:
            try:
                def cell(name: str, cells: list[str] = cells) -> str:
                    return cells[at[name]]
                out.append(IncidentRow(
                    int(cell("id")), clock(cell("opened")), clock(cell("closed")) if cell("closed") else None,
                    cell("component_id"), tuple(m for m in cell("metrics").split(";") if m), cell("kind"),
                    cell("state"), int(cell("anomalies")), tuple(e for e in cell("effects").split(";") if e),
                    int(cell("effect_anomalies")), cell("cause")))
            except (KeyError, IndexError, ValueError):
                continue
    out.sort(key=lambda r: (r.opened, r.id))
    return out


def alarm_rates(rows: Sequence[IncidentRow], since: float | None, until: float | None) -> AlarmRates:
    """The figures of ``rows`` over the log time from ``since`` to ``until`` (the first
    and latest times the run saw; the incidents' own span where unknown)."""
    opened = [r.opened for r in rows]
    if since is None or until is None:
        ends = [t for r in rows for t in (r.opened, r.closed) if t is not None]
        since, until = (min(ends), max(ends)) if ends else (0.0, 0.0)
    hours = max(until - since, 0.0) / 3600
    per = (lambda n: n / hours) if hours > 0 else (lambda n: 0.0)
    components = Counter(r.component for r in rows)
    actors = Counter(r.alarm_point for r in rows)
    return AlarmRates(
        hours, len(rows), sum(r.closed is None for r in rows), sum(r.kind == LOST for r in rows), per(len(rows)),
        [(c, n, per(n)) for c, n in components.most_common()],
        [(a, n, n / len(rows)) for a, n in actors.most_common(5)],
        floods(opened), max((n for _, _, n in _windows(opened)), default=0),
    )


def _windows(opened: list[float]) -> list[tuple[float, float, int]]:
    """(first, last, count) of the openings within 10 minutes from each one's time."""
    return [(t, opened[j - 1], j - i) for i, t in enumerate(opened)
            for j in [bisect_left(opened, t + FLOOD_WINDOW_S)]]


def floods(opened: list[float]) -> list[tuple[float, float, int]]:
    """Periods in which more than 10 incidents opened within 10 minutes, overlapping ones
    merged: (first opening, last opening, most within 10 minutes)."""
    out: list[tuple[float, float, int]] = []
    for first, last, n in _windows(opened):
        if n <= FLOOD_COUNT:
            continue
        if out and first <= out[-1][1]:
            a, b, m = out[-1]
            out[-1] = (a, max(b, last), max(m, n))
        else:
            out.append((first, last, n))
    return out


def load_incidents(data_dir: Path) -> IncidentReport | None:
    """The incidents of a data directory and their rates (None: monitor wrote none)."""
    path = data_dir / "incidents.csv"
    if not path.exists():
        return None
    clock = Clock()
    rows = read_incidents(path, clock)
    since = until = None
    try:
        state = json.loads((data_dir / "machine_state.json").read_text())["incidents"]
        if state and state.get("since") is not None:  # the tracker's times: microseconds of the log
            since, until = state["since"] / 1e6, state["clock"] / 1e6
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return IncidentReport(rows, alarm_rates(rows, since, until), clock)


def notable(rows: Sequence[IncidentRow], limit: int = 12) -> tuple[list[IncidentRow], list[IncidentRow]]:
    """(the incidents to show, in the order they opened; the others): the process's own
    (not lost lines), faults first, then those with the most anomalies, up to ``limit``."""
    own = [r for r in rows if r.kind != LOST]
    ranked = sorted(own, key=lambda r: (r.kind != "fault", -(r.anomalies + r.effect_anomalies), r.opened))
    shown = {r.id for r in ranked[:limit]}
    return [r for r in rows if r.id in shown], [r for r in rows if r.id not in shown]


def lasted(r: IncidentRow) -> str:
    """How long it lasted, from its first anomaly to its last ("open" while it is)."""
    if r.closed is None:
        return "open"
    s = round(r.closed - r.opened)
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def caused(r: IncidentRow) -> str:
    """What it caused: its knock-on anomalies and where."""
    if not r.effect_anomalies:
        return "-"
    near = r.affected
    names = ", ".join(near[:4]) + (f" and {len(near) - 4} more" if len(near) > 4 else "")
    return f"{r.effect_anomalies} {'anomaly' if r.effect_anomalies == 1 else 'anomalies'} on {names}"
