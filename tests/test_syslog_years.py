"""Syslog timestamps end to end: the year from the log's modification time (auto), a
monitor stopped before New Year and resumed after it, and one line tried with --line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "bottling_syslog"
EXPECTED = (EXAMPLE / "expected.csv").read_text()  # worked out by hand (examples/bottling_syslog/README.md)


def auto_config(tmp_path: Path) -> Path:
    """The example's config with its `year: 2025` taken out: auto decides."""
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE / "config", config)
    patterns = config / "log_patterns.yaml"
    text = patterns.read_text()
    assert "  year: 2025\n" in text
    patterns.write_text(text.replace("  year: 2025\n", ""))
    return config


def touch(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def monitor(run_cli, config: Path, data: Path, log: Path) -> str:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("monitor", "--config", config, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    return (data / "process_metrics.csv").read_text()


def shifted(csv: str, years: int) -> str:
    head, *rows = csv.splitlines(keepends=True)
    return head + "".join(f"{int(row[:4]) + years}{row[4:]}" for row in rows)


def test_auto_takes_the_year_from_the_modification_time(tmp_path: Path, run_cli) -> None:
    config = auto_config(tmp_path)
    log = tmp_path / "syslog"
    shutil.copy(EXAMPLE / "input.log", log)
    touch(log, datetime(2026, 1, 1, 0, 2, tzinfo=UTC))  # a minute after the last line
    assert monitor(run_cli, config, tmp_path / "a", log) == EXPECTED
    touch(log, datetime(2026, 12, 30, 9, 0, tzinfo=UTC))  # a copy made a year later: read as the last New Year
    assert monitor(run_cli, config, tmp_path / "b", log) == EXPECTED
    touch(log, datetime(2027, 1, 1, 0, 2, tzinfo=UTC))
    assert monitor(run_cli, config, tmp_path / "c", log) == shifted(EXPECTED, 1)


def test_a_monitor_stopped_before_new_year_and_resumed_after_it(tmp_path: Path, run_cli) -> None:
    config, data = auto_config(tmp_path), tmp_path / "data"
    lines = (EXAMPLE / "input.log").read_bytes().splitlines(keepends=True)
    log = tmp_path / "syslog"
    log.write_bytes(b"".join(lines[:7]))  # up to Dec 31 23:59:58
    touch(log, datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))
    monitor(run_cli, config, data, log)
    state = json.loads((data / "machine_state.json").read_text())
    assert state["parser"]["last_ts"] == (datetime(2025, 12, 31, 23, 59, 58) - datetime(1970, 1, 1)) \
        // timedelta(microseconds=1)
    with log.open("ab") as fh:
        fh.write(b"".join(lines[7:]))
    touch(log, datetime(2026, 1, 1, 0, 2, tzinfo=UTC))
    assert monitor(run_cli, config, data, log) == EXPECTED


def test_parse_line_places_a_syslog_line_by_the_clock(tmp_path: Path) -> None:
    """A line on its own was written by now: it reads as the latest 31 December that is not
    more than a day ahead of the clock."""
    done = subprocess.run([sys.executable, "-m", "logloom", "parse", "--config", str(auto_config(tmp_path)),
                           "--line", "Dec 31 23:59:52 plc-line3 filler[211]: FILL start station=F1"],
                          capture_output=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    when = datetime.fromisoformat(event["time"])
    now = datetime.now(UTC).replace(tzinfo=None)
    assert (when.month, when.day) == (12, 31) and now - timedelta(days=366) < when <= now + timedelta(days=1)

