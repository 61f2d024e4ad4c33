"""The HTML report, built from synthetic outputs and parsed back."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from logloom.errors import InputError
from logloom.records import ANOMALIES_HEADER, METRICS_HEADER
from logloom.report.data import Clock, Decimator, Timeline, metric_files
from logloom.report.report import build_report

CONFIG = Path(__file__).resolve().parents[2] / "config"


class Page(HTMLParser):
    """Collects the elements the assertions need, with their attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []  # tag, attrs, component, metric, state, title
        self.component: str | None = None
        self.metric: str | None = None
        self.row: dict[str, Any] | None = None
        self.stack: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "data-component" in a:
            self.component = a["data-component"]
        if tag == "svg":
            self.metric = a.get("data-metric")
        el = {"tag": tag, "attrs": a, "component": self.component, "metric": self.metric}
        el["text"] = ""
        self.elements.append(el)
        if tag == "tr":
            self.row = el
            el["cells"] = []
        elif tag in ("td", "th") and self.row is not None:
            self.row["cells"].append(el)
        if tag not in ("line", "polyline", "meta", "br"):
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            el = self.stack.pop()
            if el["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for el in self.stack:
            el["text"] += data

    def find(self, tag: str, cls: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        out = []
        for el in self.elements:
            if el["tag"] != tag:
                continue
            if cls is not None and cls not in el["attrs"].get("class", "").split():
                continue
            if all(el["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(el)
        return out


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def iso(h: int, m: int, s: int) -> str:
    return datetime(2026, 1, 21, h, m, s).isoformat()


# One dispenser cycle, as (exit time, metric, value, state), visits back to back.
CYCLE = [
    (iso(10, 0, 5), "idle_time", 5.0, "IDLE"),
    (iso(10, 0, 7), "wait_time", 2.0, "READY_TO_DISPENSE"),
    (iso(10, 0, 22), "process_cycle_time", 15.0, "DISPENSING"),
    (iso(10, 0, 22), "dispensed_volume", 2.5, "DISPENSING"),
    (iso(10, 0, 23), "unclamp_time", 1.0, "UNCLAMPING"),
    (iso(10, 0, 40), "idle_time", 17.0, "IDLE"),
    (iso(10, 0, 40), "wait_time", 0.0, "READY_TO_DISPENSE:inferred"),
    (iso(10, 1, 10), "process_cycle_time", 30.0, "DISPENSING"),
]


LIMITS = "15.0,11.4,18.6"  # expected, lower, upper


def write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    rows = [f"{t},l1_dispenser,{m},{v!r},s,{st}" for t, m, v, st in CYCLE]
    rows.append(f"{iso(10, 0, 30)},l1_clamp,clamp_time,12.0,s,CLOSED")
    write_csv(d / "process_metrics.csv", METRICS_HEADER, rows[:4])
    write_csv(d / "process_metrics_part2.csv", METRICS_HEADER, rows[4:])
    write_csv(
        d / "anomalies.csv",
        ANOMALIES_HEADER,
        [f"{iso(10, 1, 10)},l1_dispenser,process_cycle_time,30.0,s,DISPENSING,{LIMITS},9.7,limits"],
    )
    baseline = {
        "schema_version": 1,
        "id": "baseline_20260121T100000Z",
        "metrics": {
            "l1_dispenser": {"process_cycle_time": {"lower": 11.4, "upper": 18.6, "median": 15.0, "method": "x"}}
        },
    }
    (d / "process_baseline.json").write_text(json.dumps(baseline))
    summary = {
        "lines_read": 20,
        "malformed": 1,
        "unrouted": 3,
        "components": {
            "l1_dispenser": {"transitions": 7, "jumps": 1, "invalid_transition": 2},
            "l1_clamp": {"transitions": 2},
        },
    }
    (d / "run_summary.json").write_text(json.dumps(summary))
    return d


def test_report_contents(data_dir: Path, tmp_path: Path) -> None:
    out = build_report(data_dir, CONFIG, tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    page = parse(out)

    # self-contained: nothing to fetch, nothing to run
    assert not page.find("script") and not page.find("link") and not page.find("img")
    text = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "url(" not in text and "@import" not in text  # no font or image from CSS either

    # one section per component of the graph
    sections = [e["attrs"]["data-component"] for e in page.find("section", "component")]
    assert sections[:2] == ["conv_in", "l1_clamp"] and "l1_dispenser" in sections

    # the timeline: one bar per visit (inferred one included), coloured from viz_resources
    bars = [e for e in page.find("rect", "visit") if e["component"] == "l1_dispenser"]
    visits = [r for r in CYCLE if r[1].endswith("_time")]
    assert len(bars) == len(visits)
    dispensing = [b for b in bars if b["text"].startswith("DISPENSING:")]
    assert {b["attrs"]["fill"] for b in dispensing} == {"#1f77ff"}
    assert len(dispensing) == 2

    # time share: sums of the duration rows per state, inferred visits counted apart
    share = {
        e["attrs"]["data-state"]: [c["text"].strip() for c in e["cells"]]
        for e in page.find("tr")
        if e["component"] == "l1_dispenser" and "data-state" in e["attrs"]
    }
    total = 5 + 2 + 15 + 1 + 17 + 30
    assert share["DISPENSING"] == ["DISPENSING", "45.0 s", f"{100 * 45 / total:.1f}%", "2", "0"]
    assert share["IDLE"][1:] == ["22.0 s", f"{100 * 22 / total:.1f}%", "2", "0"]
    assert share["READY_TO_DISPENSE"][3:] == ["1", "1"]  # one real visit, one inferred

    # conformance counters from run_summary.json; global ones in the run table
    counters = {
        e["attrs"]["data-counter"]: e["cells"][1]["text"]
        for e in page.elements
        if e["tag"] == "tr" and "data-counter" in e["attrs"] and e["component"] == "l1_dispenser"
    }
    assert counters == {"invalid_transition": "2", "jumps": "1", "transitions": "7"}
    shown = {e["cells"][0]["text"] for e in page.elements
             if e["tag"] == "tr" and "data-counter" in e["attrs"] and e["component"] == "l1_dispenser"}
    assert shown == {"invalid transitions", "jumps over lost lines", "transitions"}  # words, not JSON keys
    run = page.find("section", id="run")[0]["text"]
    assert "unrouted events" in run and "lines read" in run and "lines_read" not in run

    # control chart: baseline limits and centre drawn, the anomaly marked in red
    charts = {e["metric"] for e in page.find("svg", "chart") if e["component"] == "l1_dispenser"}
    assert {"process_cycle_time", "dispensed_volume", "idle_time", "wait_time"} <= charts
    lines = [
        e["attrs"]["data-line"]
        for e in page.find("line")
        if e["metric"] == "process_cycle_time" and "data-line" in e["attrs"]
    ]
    assert sorted(lines) == ["centre", "lower", "upper"]
    marks = [e for e in page.find("circle", "anomaly") if e["component"] == "l1_dispenser"]
    assert len(marks) == 1 and marks[0]["metric"] == "process_cycle_time"
    assert "11.4" in marks[0]["text"] and "18.6" in marks[0]["text"]
    # the anomaly sits above the upper limit line (SVG y grows downwards)
    upper = next(e for e in page.find("line") if e["attrs"].get("data-line") == "upper")
    assert float(marks[0]["attrs"]["cy"]) < float(upper["attrs"]["y1"])
    # the anomaly also listed in the component's table
    table = [e for e in page.find("tr", "anomaly-row") if e["component"] == "l1_dispenser"]
    assert [[c["text"] for c in e["cells"]][:3] for e in table] == [
        ["2026-01-21 10:01:10", "process_cycle_time", "30 s"]
    ]
    # wait_time's only real value is 2.0: the inferred 0.0 row is no measurement
    wait = next(e for e in page.find("h3") if e["text"].strip().startswith("wait_time"))
    assert "1 values" in wait["text"]


def test_downsampled_series_keeps_anomalies_and_says_so(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    rng = random.Random(3)
    t0 = datetime(2026, 1, 21, tzinfo=UTC).timestamp()
    rows, anomalies = [], []
    for i in range(3000):
        t = t0 + 20 * i
        v = rng.gauss(15, 1)
        rows.append(f"{t},l1_dispenser,process_cycle_time,{v!r},s,DISPENSING")
        if i % 500 == 7:
            rule = "limits" if i % 1000 == 7 else "ewma"
            anomalies.append(f"{t},l1_dispenser,process_cycle_time,40.0,s,DISPENSING,15,11,19,9,{rule}")
    write_csv(d / "process_metrics.csv", METRICS_HEADER, rows)
    write_csv(d / "anomalies.csv", ANOMALIES_HEADER, anomalies)
    page = parse(build_report(d, CONFIG, d / "report.html", max_points=200))
    line = next(e for e in page.find("polyline", "series") if e["metric"] == "process_cycle_time")
    assert len(line["attrs"]["points"].split()) <= 200
    assert len(page.find("circle", "anomaly")) == len(anomalies)
    # a limits breach is drawn filled, another rule's anomaly hollow
    assert len(page.find("circle", "limits")) == sum(a.endswith(",limits") for a in anomalies) == 3
    assert len(page.find("circle", "rule")) == sum(a.endswith(",ewma") for a in anomalies) == 3
    assert "downsampled" in page.find("section", id="run")[0]["text"]
    # no baseline file: the limits the anomalies were scored with are drawn
    assert {e["attrs"].get("data-line") for e in page.find("line") if "data-line" in e["attrs"]} == {
        "lower",
        "upper",
    }


def test_empty_data_dir_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="record"):
        build_report(tmp_path, CONFIG, tmp_path / "r.html")


def test_metric_parts_in_part_order(tmp_path: Path) -> None:
    for name in ("process_metrics_part10.csv", "process_metrics.csv", "process_metrics_part2.csv"):
        (tmp_path / name).write_text(METRICS_HEADER + "\n")
    (tmp_path / "process_metrics_backup.csv").write_text("")
    assert [p.name for p in metric_files(tmp_path)] == [
        "process_metrics.csv",
        "process_metrics_part2.csv",
        "process_metrics_part10.csv",
    ]


def test_clock_reads_iso_offsets_and_epoch() -> None:
    clock = Clock()
    assert clock("2026-01-21T10:05:15") == datetime(2026, 1, 21, 10, 5, 15, tzinfo=UTC).timestamp()
    assert clock("2026-01-21T10:05:15.250000") % 1 == pytest.approx(0.25)
    # 01:59+01:00 to 03:01+02:00 is 120 s (SPEC 3)
    assert clock("2026-03-29T03:01:00+02:00") - clock("2026-03-29T01:59:00+01:00") == 120
    assert clock("1768990000.5") == 1768990000.5
    assert Clock()("1768990000.5") and Clock().tz is None
    epoch = Clock()
    epoch("1768990000.5")
    assert epoch.tz is UTC  # epoch seconds are shown as UTC


def test_decimator_bounded_and_keeps_extremes() -> None:
    rng = random.Random(1)
    dec = Decimator(100)
    values = [rng.gauss(0, 1) for _ in range(100_000)]
    for i, v in enumerate(values):
        dec.add(float(i), v)
    pts = dec.points()
    assert dec.reduced and dec.n == len(values)
    assert len(pts) <= 100 and len(dec.slots) <= 50
    assert min(v for _, v in pts) == min(values) and max(v for _, v in pts) == max(values)
    assert [t for t, _ in pts] == sorted(t for t, _ in pts)


def test_decimator_exact_below_cap() -> None:
    dec = Decimator(10)
    for t, v in [(3.0, 1.0), (1.0, 2.0), (2.0, 3.0)]:
        dec.add(t, v)
    assert not dec.reduced and dec.points() == [(1.0, 2.0), (2.0, 3.0), (3.0, 1.0)]


def test_timeline_share_exact_when_reduced() -> None:
    tl = Timeline(20)
    t = 0.0
    for _ in range(1000):
        tl.add(t, t + 1, "A", False)
        tl.add(t + 1, t + 4, "B", False)
        tl.add(t + 4, t + 4, "C", True)
        t += 4
    assert tl.share == {"A": 1000.0, "B": 3000.0}
    assert tl.count == {"A": 1000, "B": 1000} and tl.inferred == {"C": 1000}
    bars = tl.bars()
    assert tl.visits is None and len(bars) <= 10
    for _, _, parts in bars:  # every slot: three quarters B, a quarter A
        assert [s for s, _ in parts] == ["B", "A"]
        assert [f for _, f in parts] == pytest.approx([0.75, 0.25], abs=0.01)


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="no Chromium installed",
)
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    script = Path(__file__).resolve().parents[2] / "bench" / "render_report.py"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(png), "--height", "1600"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = pytest.importorskip("PIL.Image").open(png)
    assert image.size == (1100, 1600)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # a drawn page, not a blank or error screen


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    good = f"{iso(10, 0, 5)},l1_dispenser,idle_time,5.0,s,IDLE"
    bad = [f"{iso(10, 0, 6)},l1_dispenser,idle_time,five,s,IDLE", "2026-01-21T10:00:07,l1_dispenser", "junk"]
    write_csv(tmp_path / "process_metrics.csv", METRICS_HEADER, [good, *bad])
    page = parse(build_report(tmp_path, CONFIG, tmp_path / "r.html"))
    assert f"{len(bad)} unreadable CSV row(s) skipped" in page.find("section", id="run")[0]["text"]
    idle = next(e for e in page.find("h3") if e["text"].strip().startswith("idle_time"))
    assert "1 values" in idle["text"]


def test_a_metrics_file_without_the_columns_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "process_metrics.csv").write_text("time,what\n1,2\n")
    with pytest.raises(InputError, match="no column"):
        build_report(tmp_path, CONFIG, tmp_path / "r.html")


def test_anomaly_table_keeps_the_latest() -> None:
    from logloom.report.data import ComponentData
    from logloom.report.report import Axis, anomaly_rows

    cd = ComponentData(Timeline(10))
    for t, metric in [(30.0, "a"), (10.0, "b"), (20.0, "a")]:
        rec = {"t": t, "value": 1.0, "expected": 0.5, "lower": 0.0, "upper": 0.9, "score": 5.0}
        cd.anomalies.setdefault(metric, []).append({**rec, "rule": "limits", "state_context": "S"})
    rows = anomaly_rows(Axis(0.0, 40.0, None), cd, limit=2)
    assert [(r["time"][-2:], r["metric"]) for r in rows] == [("20", "a"), ("30", "a")]


def test_report_of_a_real_pipeline_run(tmp_path: Path) -> None:
    """simulate -> record -> monitor -> report: the report agrees with the CSVs it read."""
    import csv

    from logloom.cli import main

    data, good, bad = tmp_path / "data", tmp_path / "good.log", tmp_path / "bad.log"
    cfg = ["--config", str(CONFIG)]
    assert main(["simulate", *cfg, "--out", str(good), "--cycles", "120", "--seed", "1"]) == 0
    assert main(["simulate", *cfg, "--out", str(bad), "--cycles", "120", "--seed", "2", "--anomalies", "spikes"]) == 0
    assert main(["record", *cfg, "--data", str(data), "--logs", str(good), "--quiet"]) == 0
    assert main(["monitor", *cfg, "--data", str(data), "--logs", str(bad), "--quiet"]) == 0
    page = parse(build_report(data, CONFIG, tmp_path / "report.html"))

    with (data / "anomalies.csv").open() as fh:
        anomalies = list(csv.DictReader(fh))
    assert anomalies, "the simulated spikes should be flagged"
    assert len(page.find("circle", "anomaly")) == len(anomalies)

    cycle = 0.0
    with (data / "process_metrics.csv").open() as fh:
        for row in csv.DictReader(fh):
            if (row["component_id"], row["metric_name"], row["state_context"]) == (
                "l1_dispenser",
                "process_cycle_time",
                "DISPENSING",
            ):
                cycle += float(row["value"])
    share = next(
        e for e in page.find("tr") if e["component"] == "l1_dispenser" and e["attrs"].get("data-state") == "DISPENSING"
    )
    assert share["cells"][1]["text"] == f"{cycle:.1f} s"

    summary = json.loads((data / "run_summary.json").read_text())
    shown = {
        e["attrs"]["data-counter"]: e["cells"][1]["text"]
        for e in page.find("tr")
        if e["component"] == "l1_dispenser" and "data-counter" in e["attrs"]
    }
    counters = next(v for v in summary.values() if isinstance(v, dict) and "l1_dispenser" in v)["l1_dispenser"]
    assert shown == {k: str(v) for k, v in counters.items()}
