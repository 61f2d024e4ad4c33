"""The HTML report draws what people expect: no line across a long gap in the log, and
no lower limit below what a duration or count can be."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from logloom.records import ANOMALIES_HEADER, METRICS_HEADER
from logloom.report.report import build_report
from tests.report.test_report import CONFIG, parse, write_csv

T0 = datetime(2026, 1, 21, 6, tzinfo=UTC).timestamp()


def _series(d: Path, times: list[float]) -> None:
    rows = [f"{t},l1_dispenser,process_cycle_time,{15.0 + (i % 3)!r},s,DISPENSING" for i, t in enumerate(times)]
    write_csv(d / "process_metrics.csv", METRICS_HEADER, rows)


def _polylines(d: Path) -> list[list[str]]:
    page = parse(build_report(d, CONFIG, d / "report.html"))
    return [e["attrs"]["points"].split() for e in page.find("polyline", "series") if e["metric"] == "process_cycle_time"]


def test_a_long_gap_is_left_a_gap(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    first = [T0 + 20 * i for i in range(60)]
    second = [T0 + 8 * 3600 + 20 * i for i in range(40)]  # the next shift, 8 hours later
    _series(d, first + second)
    runs = _polylines(d)
    assert [len(r) for r in runs] == [60, 40]
    # the first run ends left of where the second begins: nothing drawn across the night
    assert float(runs[0][-1].split(",")[0]) < float(runs[1][0].split(",")[0])


def test_an_even_series_is_one_line(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    # slow and fast cycles alike (up to 5x the usual spacing) are no gap
    _series(d, [T0 + 20 * i + (80 if i % 17 == 0 else 0) for i in range(100)])
    assert [len(r) for r in _polylines(d)] == [100]


def test_a_count_or_duration_limit_is_never_shown_below_zero(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    rows = [f"{T0 + 30 * i},l1_dispenser,retries,{float(i % 2)!r},count,DISPENSING" for i in range(50)]
    rows += [f"{T0 + 30 * i},l1_dispenser,dispense_pressure,{2.2 + 0.01 * i!r},bar,DISPENSING" for i in range(50)]
    write_csv(d / "process_metrics.csv", METRICS_HEADER, rows)
    write_csv(d / "anomalies.csv", ANOMALIES_HEADER,
              [f"{T0 + 30 * 49},l1_dispenser,retries,5.0,count,DISPENSING,0.3,-0.737,1.0,9.0,limits"])
    limits = {"retries": {"lower": -0.737, "upper": 1.0, "median": 0.0, "method": "robust_z"},
              "dispense_pressure": {"lower": -0.5, "upper": 2.9, "median": 2.3, "method": "robust_z"}}
    (d / "process_baseline.json").write_text(json.dumps({"id": "b", "metrics": {"l1_dispenser": limits}}))
    page = parse(build_report(d, CONFIG, d / "report.html"))
    lower = {e["metric"]: e["text"] for e in page.find("text") if e["text"].startswith("lower ")}
    assert lower == {"retries": "lower 0", "dispense_pressure": "lower -0.5"}  # a value metric keeps its own
    row = next(e for e in page.find("tr", "anomaly-row") if e["component"] == "l1_dispenser")
    assert [c["text"] for c in row["cells"]][4] == "0 .. 1"
    mark = next(e for e in page.find("circle", "anomaly") if e["metric"] == "retries")
    assert "limits [0, 1]" in mark["text"]
