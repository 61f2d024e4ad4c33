"""The terminal tables render what they are given."""

from __future__ import annotations

from dataclasses import replace
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


ROWS = [
    SummaryRow("l1_dispenser", "process_cycle_time", 412, 3, {"limits": 2, "ewma": 1},
               -5.25, 11.4, 18.6, "s", "robust_log_z", True, 400),
    SummaryRow("l1_dispenser", "downtime", 2, 0, {}, None, None, None, "s", "", False, 3),
    SummaryRow("l1_dispenser", "invalid_transition", 0, 1, {"invalid_burst": 1}, None, None,
               None, "count", "", False, 0),
    SummaryRow("l1_dispenser", "retries", 412, 0, {}, 0.4, -0.737, 1.0, "count", "robust_z", True, 400),
    SummaryRow("l1_clamp", "clamp_time", 400, 0, {}, 1.2, 10.0, 20.0, "s", "robust_log_z", True, 400),
]


def test_render_summary_is_one_line_per_metric_with_anomalies() -> None:
    out = console(120)
    render_summary(out, ROWS, [("l1_dispenser", "downtime", 3)], min_samples=20)
    text = out.export_text()
    lines = text.splitlines()
    assert lines[0] == "4 anomalies in 2 of 5 metrics (1226 rows)"
    cycle = next(line for line in lines if "l1_dispenser.process_cycle_time" in line)
    assert "3 of 412" in cycle and "ewma 1, limits 2" in cycle and "-5.25" in cycle and "11.4..18.6 s" in cycle
    burst = next(line for line in lines if "l1_dispenser.invalid_transition" in line)
    assert "invalid_burst 1" in burst and "not covered" in burst
    # the metrics without anomalies are counted, not listed
    assert "3 metrics without anomalies (814 rows)" in text
    assert "retries" not in text and "clamp_time" not in text
    assert "l1_dispenser.downtime (n=3)" in text and "min_samples 20" in text
    assert len(lines) == 7  # headline, header, rule, two metrics, the rest counted, the uncovered


def test_render_summary_fits_a_narrow_terminal() -> None:
    out = console(80)
    render_summary(out, ROWS, [("l1_dispenser", "downtime", 3)], min_samples=20)
    text = out.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "l1_dispenser.process_cycle_time" in text and "11.4..18.6 s" in text  # names and ranges never cut


def test_a_lower_limit_is_shown_no_lower_than_its_metric_can_be() -> None:
    rows = [replace(ROWS[3], anomalies=2, by_rule={"limits": 2}),
            SummaryRow("l1_clamp", "clamp_pressure", 400, 1, {"limits": 1}, -4.5, -0.5, 6.2, "bar", "robust_z",
                       True, 400)]
    out = console(120)
    render_summary(out, rows, floors={("l1_dispenser", "retries"): 0.0})
    text = out.export_text()
    assert "0..1 count" in text and "-0.737" not in text  # a count is never below 0
    assert "-0.5..6.2 bar" in text  # a value metric keeps its learned limit


def test_no_anomalies_is_one_line() -> None:
    out = console(120)
    render_summary(out, ROWS[3:])
    assert out.export_text() == "No anomalies in 2 metrics (812 rows)\n"


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


def test_a_run_is_told_in_words_that_agree_with_their_counts() -> None:
    from logloom.report.present import describe_run, integrity_notes

    def summary(n: int) -> dict[str, object]:
        counts = dict.fromkeys(["lines_read", "events", "rows_written", "anomalies", "malformed", "unmatched",
                                "unknown_target", "unrouted", "time_back_steps", "time_back_lines"], n)
        return {**counts, "lines_per_second": 10.0, "components": {"c": {"negative_duration": n}}}

    one, two = describe_run(summary(1)), describe_run(summary(2))
    assert one.startswith("1 line, 1 event, 1 row, 1 anomaly, 1 malformed, 1 unmatched, 1 unknown target, ")
    assert "went back 1 time by more than a second, and 1 line is earlier" in one
    assert "1 visit ended before it began" in one
    assert two.startswith("2 lines, 2 events, 2 rows, 2 anomalies, 2 malformed, 2 unmatched, 2 unknown targets, ")
    assert "went back 2 times by more than a second, and 2 lines are earlier" in two
    assert "2 visits ended before they began" in two
    assert integrity_notes(summary(1))[1] == "1 visit ended before it began; no duration row was written for it."
