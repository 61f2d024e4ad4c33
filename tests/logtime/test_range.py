"""A reading outside the years an output can be written in (1 to 9999, in any zone) is a
bad timestamp: a line, not the run, is what is wrong (an epoch in ms read as seconds, a
corrupt counter, a year-1 default of a PLC whose clock lost its battery)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logloom.logtime.timestamps import TimestampParser
from tests.helpers import read_rows


@pytest.mark.parametrize(("fmt", "zone", "text"), [
    ("epoch", None, "1774771200000"),  # milliseconds given to a format of seconds: year 58210
    ("epoch", None, "-99999999999999"),
    ("epoch_ms", "Europe/Berlin", "99999999999999999"),
    ("iso", "Europe/Berlin", "9999-12-31T23:30:00Z"),  # year 10000 in Berlin
    ("iso", None, "0001-01-01T00:00:00+01:00"),  # year 0 in UTC
    ("%Y-%m-%d %H:%M:%S %z", None, "0001-01-01 00:10:00 +0100"),
])
def test_a_reading_no_output_can_hold_is_a_bad_timestamp(fmt: str, zone: str | None, text: str) -> None:
    parser = TimestampParser(fmt, zone)
    with pytest.raises(ValueError, match="out of range"):
        parser.parse(text)
    _, bad = TimestampParser(fmt, zone).parse_many(["2026-03-29T08:00:00Z" if fmt == "iso" else text, text])
    assert 1 in bad and "out of range" in bad[1]


@pytest.mark.parametrize(("fmt", "zone", "text"), [
    ("epoch", None, "1774771200"),
    ("epoch_ms", None, "1774771200000"),
    ("epoch", None, "-1"),
    ("iso", None, "0001-01-01T00:00:00"),  # naive, no zone: written as read
    ("iso", None, "9999-12-31T23:59:59"),
    ("iso", "Europe/Berlin", "2026-03-29T03:00:00"),
    ("iso", "Asia/Tokyo", "9999-12-31T20:00:00"),  # 11:00 UTC, written back in Tokyo's time
])
def test_readings_an_output_can_hold_are_read(fmt: str, zone: str | None, text: str) -> None:
    assert isinstance(TimestampParser(fmt, zone).parse(text), int)


def test_monitor_rejects_the_line_and_goes_on(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "machine_graph.yaml").write_text("line: l\ncomponents:\n  - {id: p1, type: press}\n")
    (cfg / "process_logic.yaml").write_text(
        "machines:\n  press:\n    initial: OPEN\n    states:\n      OPEN: {}\n"
        "      CLOSED:\n        metrics: [{name: closed_time, type: duration}]\n"
        "    transitions:\n      - {from: OPEN, event: CLOSE, to: CLOSED}\n      - {from: CLOSED, event: OPEN, to: OPEN}\n")
    (cfg / "log_patterns.yaml").write_text(
        "timestamp: {regex: '^(?P<ts>\\d+) ', format: epoch}\npatterns:\n"
        "  - {name: close, regex: 'close', event: CLOSE, target: p1}\n  - {name: open, regex: 'open', event: OPEN, target: p1}\n")
    log = tmp_path / "press.log"
    log.write_text("1774771200 close\n1774771200000 open\n1774771203 open\n")
    data = tmp_path / "d"
    code, _, err = run_cli("monitor", "--config", cfg, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    assert read_rows(data / "process_metrics.csv") == [["2026-03-29T08:00:03+00:00", "p1", "closed_time", "3.0", "s",
                                                         "CLOSED"]]
    (rejected,) = (data / "rejected_lines.log").read_text().splitlines()
    assert rejected.startswith("press.log:2: bad timestamp: ") and "out of range" in rejected


def test_a_json_log_of_utc_times_checks_the_zone_it_is_written_in(tmp_path: Path, run_cli, make_config) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import ROOT

    def berlin(docs: dict) -> None:  # type: ignore[type-arg]
        docs["log_patterns.yaml"]["timestamp"]["timezone"] = "Europe/Berlin"

    cfg = make_config(ROOT / "examples" / "filler_json" / "config", edit=berlin)
    log = tmp_path / "f.log"
    log.write_text('{"ts":"2026-03-02T08:00:00Z","src":"filler","msg":"FILL start","station":"F1"}\n'
                   '{"ts":"9999-12-31T23:30:00Z","src":"filler","msg":"FILL start","station":"F1"}\n'
                   '{"ts":"2026-03-02T08:00:08.25Z","src":"filler","msg":"FILL end","level":"info","station":"F1",'
                   '"data":{"vol":499.3,"unit":"ml"}}\n')
    data = tmp_path / "d"
    code, _, err = run_cli("monitor", "--config", cfg, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    assert [r[:4] for r in read_rows(data / "process_metrics.csv")] == [
        ["2026-03-02T09:00:08.250000+01:00", "filler_1", "fill_time", "8.25"],
        ["2026-03-02T09:00:08.250000+01:00", "filler_1", "fill_volume", "499.3"]]
    assert "f.log:2: bad timestamp: out of range" in (data / "rejected_lines.log").read_text()
