"""incidents.csv read back: alarm rates, floods and bad actors by hand; the console summary
and the HTML report lead with the incidents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from logloom.records import INCIDENTS_HEADER, METRICS_HEADER
from logloom.report.data import Clock
from logloom.report.incidents import IncidentRow, alarm_rates, caused, floods, lasted, load_incidents, read_incidents
from logloom.report.report import build_report
from logloom.report.summary import render_incidents
from tests.report.test_report import CONFIG, parse, write_csv

T0 = 1_769_000_000.0  # some epoch second


def incident(i: int, opened: float, closed: float | None = None, component: str = "filler", *,
             metric: str = "fill_time", kind: str = "limits", effects: tuple[str, ...] = ()) -> IncidentRow:
    return IncidentRow(i, T0 + opened, None if closed is None else T0 + closed, component, (metric,), kind, "FILL",
                       1, effects, 2 * len(effects), f"{metric} high")


def test_a_flood_is_more_than_ten_opened_within_ten_minutes() -> None:
    ten = [T0 + 50.0 * i for i in range(10)]  # 10 within 450 s: busy, not a flood
    assert floods(ten) == []
    eleven = [*ten, T0 + 540.0]  # the 11th within 10 minutes of the first
    assert floods(eleven) == [(T0, T0 + 540.0, 11)]
    later = [*eleven, T0 + 1200.0, *(T0 + 3600.0 + 30.0 * i for i in range(12))]
    assert floods(later) == [(T0, T0 + 540.0, 11), (T0 + 3600.0, T0 + 3600.0 + 330.0, 12)]


def test_alarm_rates_per_hour_per_component_and_bad_actors() -> None:
    rows = [incident(1, 0, 60), incident(2, 600, 700), incident(3, 1200, None, "capper", metric="cap_time"),
            incident(4, 1800, 1850, kind="lost_lines")]
    rates = alarm_rates(rows, T0, T0 + 7200.0)  # two hours of log
    assert (rates.hours, rates.total, rates.open, rates.lost_lines, rates.per_hour) == (2.0, 4, 1, 1, 2.0)
    assert rates.per_component == [("filler", 3, 1.5), ("capper", 1, 0.5)]
    assert rates.bad_actors == [("filler.fill_time", 3, 0.75), ("capper.cap_time", 1, 0.25)]
    assert rates.floods == [] and rates.peak_10min == 1  # 600 s apart: never two within 10 minutes
    unknown = alarm_rates(rows, None, None)  # no tracker times: the incidents' own span
    assert unknown.hours == pytest.approx(1850 / 3600)


def test_incidents_csv_read_back(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    write_csv(path, INCIDENTS_HEADER, [
        "2026-01-21T10:05:00+01:00,2026-01-21T10:06:30+01:00,filler,fill_time;volume,2,stuck,FILL,stuck;limits,3,"
        "fill_time,40.0,s,10.0,12.0,infeed_a.run_time;capper.idle_time;infeed_a.wait_time,4,stuck in FILL: 40 s",
        "2026-01-21T10:01:00+01:00,,capper,JAMMED,1,fault,JAMMED,fault,1,JAMMED,0.0,s,nan,nan,,0,fault: JAMMED (still in it)",
        "not,a,row",
    ])
    clock = Clock()
    first, second = read_incidents(path, clock)
    assert (first.id, first.closed, first.kind) == (1, None, "fault")  # in the order they opened
    assert second.metrics == ("fill_time", "volume") and second.affected == ["infeed_a", "capper"]
    assert second.closed - second.opened == 90.0 and str(clock.tz) == "UTC+01:00"
    assert (lasted(first), lasted(second), caused(second)) == ("open", "1m30s", "4 anomalies on infeed_a, capper")


def _data_dir(tmp_path: Path) -> Path:
    """Metrics, and incidents.csv as monitor writes it: closed ones, then the open ones."""
    d = tmp_path / "data"
    d.mkdir()
    write_csv(d / "process_metrics.csv", METRICS_HEADER, [
        f"2026-01-21T{h:02d}:00:00,filler,fill_time,10.0,s,FILL" for h in range(8, 12)])
    rows = [
        "2026-01-21T08:10:00,2026-01-21T08:20:00,filler,JAMMED,1,fault,JAMMED,fault;fault_end,2,JAMMED,600.0,s,"
        "nan,nan,capper.idle_time;infeed_a.run_time,7,fault: JAMMED for 600 s",
        "2026-01-21T09:00:00,2026-01-21T09:00:00,infeed_b,run_time,2,lost_lines,RUNNING,stuck;limits,2,run_time,"
        "30.0,s,3.0,20.0,,0,run_time 30 s in RUNNING across lost log lines (the visit ended in a jump)",
        *(f"2026-01-21T10:{m:02d}:00,2026-01-21T10:{m:02d}:30,capper,cap_time,{3 + m},limits,CAPPING,limits,1,"
          f"cap_time,9.0,s,2.0,8.0,,0,cap_time 9 s above 4" for m in range(0, 55, 5)),
        "2026-01-21T11:00:00,,filler,fill_time,14,drift,FILL,ewma,3,fill_time,12.0,s,10.0,3.8,,0,"
        "fill_time drifting up: 12 s (median 10)",
    ]
    write_csv(d / "incidents.csv", INCIDENTS_HEADER, rows)
    state = {"incidents": {"since": int(T0_DAY * 1e6), "clock": int((T0_DAY + 4 * 3600) * 1e6)}}
    (d / "machine_state.json").write_text(json.dumps(state))
    return d


T0_DAY = 1_768_982_400.0 + 8 * 3600  # 2026-01-21T08:00:00 counted as UTC (a naive log)


def test_the_console_summary_leads_with_incidents(tmp_path: Path) -> None:
    report = load_incidents(_data_dir(tmp_path))
    assert report is not None and report.rates.hours == 4.0
    out = Console(record=True, width=150, color_system=None)
    render_incidents(out, report, limit=3)
    text = out.export_text()
    lines = text.splitlines()
    assert lines[0] == "14 incidents in 4.0 h of log, 1 still open"
    fault = next(line for line in lines if "JAMMED" in line)
    assert "08:10:00" in fault and "10m00s" in fault and "7 anomalies on capper, infeed_a" in fault
    assert "and 10 more (limits 10); 1 incident from lost log lines" in text
    assert "alarm rate: 3.5 incidents per hour, within the ~6" in text
    assert "no floods" in text and "capper 2.8/h" in text and "capper.cap_time 11 (79%)" in text


def test_the_html_report_leads_with_incidents(tmp_path: Path) -> None:
    page = parse(build_report(_data_dir(tmp_path), CONFIG, tmp_path / "r.html"))
    sections = page.find("section")
    assert sections[0]["attrs"]["id"] == "incidents"
    assert "14 incidents in 4.0 h of log, 1 still open; 1 of them from lost log lines" in sections[0]["text"]
    rows = page.find("tr", "incident-row")
    assert [r["attrs"]["data-kind"] for r in rows][:2] == ["fault", "limits"]  # not the lost lines
    assert len(rows) == 13 and len(page.find("rect", "incident")) == 14
    assert rows[0]["cells"][3]["text"] == "fault: JAMMED for 600 s"
    bad = next(t for t in page.find("table", "bad-actors"))
    assert "capper.cap_time" in bad["text"] and "79%" in bad["text"]


def test_no_incidents_csv_no_section(tmp_path: Path) -> None:
    assert load_incidents(tmp_path) is None
    out = Console(record=True, width=100, color_system=None)
    render_incidents(out, None)
    assert out.export_text() == ""
