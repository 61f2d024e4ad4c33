"""The terminal tables render what they are given."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from logloom.detect.baseline import BaselineInfo
from logloom.detect.scoring_model import SummaryRow
from logloom.report.summary import fmt, fmt_range, render_baseline, render_baseline_list, render_summary


def console(width: int = 200) -> Console:
    return Console(record=True, width=width, color_system=None)


def test_fmt() -> None:
    assert (fmt(None), fmt(15.0), fmt(12.34567), fmt(-1e6)) == ("-", "15", "12.35", "-1e+06")
    assert fmt_range(11.4, 18.6, "s") == "11.4..18.6 s"
    assert fmt_range(None, 1.0, "s") == "-"


def test_render_summary_lists_tallies_ranges_and_uncovered() -> None:
    rows = [
        SummaryRow("l1_dispenser", "process_cycle_time", 412, 3, {"limits": 2, "ewma": 1},
                   -5.25, 11.4, 18.6, "s", "robust_log_z", True, 400),
        SummaryRow("l1_dispenser", "downtime", 2, 0, {}, None, None, None, "s", "", False, 3),
        SummaryRow("l1_dispenser", "invalid_transition", 0, 1, {"invalid_burst": 1}, None, None,
                   None, "count", "", False, 0),
    ]
    out = console(80)
    render_summary(out, rows, [("l1_dispenser", "downtime", 3)], min_samples=20)
    text = out.export_text()
    assert "process_cycle_time" in text and "412" in text
    assert "ewma 1" in text and "limits 2" in text
    assert "-5.25" in text and "11.4..18.6 s" in text
    assert "not covered" in text and "invalid_burst 1" in text
    assert max(len(line) for line in text.splitlines()) <= 80  # fits a narrow terminal
    assert "l1_dispenser.downtime" in text and "(n=3)" in text and "min_samples 20" in text


def test_render_baseline_and_list() -> None:
    baseline = {"id": "baseline_20260121T100500Z", "created": "2026-01-21T10:05:00Z",
                "sources": ["a.log"], "config_sha256": "abc", "metrics": {"l1": {"cycle": {
                    "unit": "s", "n": 412, "median": 15.0, "p05": 13.7, "p95": 16.6,
                    "lower": 0.5, "upper": 18.6, "method": "robust_log_z", "k": 4.0,
                    "override": {"lower": 0.5}}}}}
    out = console()
    render_baseline(out, baseline)
    text = out.export_text()
    assert "baseline_20260121T100500Z" in text and "a.log" in text
    assert "0.5..18.6 s (override)" in text and "13.7 .. 16.6" in text
    infos = [BaselineInfo("baseline_1", Path("x"), "2026", ("a.log",), 12, 4000, True),
             BaselineInfo("baseline_2", Path("y"), "", (), 0, 0, False, "y: not valid JSON")]
    out = console()
    render_baseline_list(out, infos)
    text = out.export_text()
    assert "* " in text and "baseline_1" in text and "4000" in text
    assert "unreadable" in text and "not valid JSON" in text
    out = console()
    render_baseline_list(out, [])
    assert "no baselines" in out.export_text()
