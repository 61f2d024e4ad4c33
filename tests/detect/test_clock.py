"""The log's time going backwards (a clock set back, lines written twice) is seen: on the
console, in the anomalies, in the report; and a resumed run reports what one run would."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import EXAMPLE_CONFIG, WALKTHROUGH_CONFIG
from tests.test_durability import outputs, simulate

STEP_US = 1_000_000


@settings(max_examples=60, deadline=None)
@given(times=st.lists(st.integers(0, 20 * STEP_US), min_size=1, max_size=40), cuts=st.sets(st.integers(1, 39)))
def test_blocks_cut_anywhere_find_the_same_steps(times: list[int], cuts: set[int]) -> None:
    from logloom.detect.clock import STEP_US as step_us
    from logloom.detect.clock import ClockWatch

    assert step_us == STEP_US  # a step back of more than a second is reported
    whole = ClockWatch()
    steps, behind = whole.scan(np.array(times, dtype=np.int64), np.arange(len(times)), 1)
    expected_steps = [i + 1 for i in range(1, len(times)) if times[i] < times[i - 1] - STEP_US]
    assert [s.line_no for s in steps] == expected_steps
    assert behind == sum(t < max(times[:i]) for i, t in enumerate(times) if i)
    pieces, found, seen_behind = ClockWatch(), [], 0
    bounds = [0, *sorted(c for c in cuts if c < len(times)), len(times)]
    for lo, hi in pairwise(bounds):
        part = np.array(times[lo:hi], dtype=np.int64)
        more, n = pieces.scan(part, np.arange(hi - lo), lo + 1)
        found += [s.line_no for s in more]
        seen_behind += n
        pieces.restore(json.loads(json.dumps(pieces.to_dict())))  # as across a checkpoint
    assert found == expected_steps and seen_behind == behind


def _shift_lines(lines: list[bytes], start: int, by: timedelta) -> list[bytes]:
    out = list(lines)
    for i in range(start, len(out)):
        stamp, rest = out[i][:23], out[i][23:]
        try:
            when = datetime.strptime(stamp.decode(), "%Y-%m-%d %H:%M:%S.%f")
        except ValueError:
            continue  # a garbage line
        out[i] = (when + by).strftime("%Y-%m-%d %H:%M:%S.%f")[:23].encode() + rest
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from logloom.cli import main

    work = tmp_path_factory.mktemp("clock_base")
    good = work / "good.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(good), "--quiet", "--cycles", "150",
                 "--seed", "41"]) == 0
    assert main(["record", "--config", str(EXAMPLE_CONFIG), "--data", str(work), "--logs", str(good), "-q"]) == 0
    return work / "process_baseline.json"


def _monitor_with(baseline: Path, data: Path, log: Path, run_cli) -> str:
    data.mkdir(exist_ok=True)
    shutil.copy(baseline, data / "process_baseline.json")
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log)
    assert code == 0, err
    return err


def test_a_duplicated_block_is_reported_everywhere_an_engineer_looks(
    baseline: Path, tmp_path: Path, run_cli,
) -> None:
    lines = simulate(run_cli, tmp_path / "s.log", "--cycles", "60", "--seed", "42").read_bytes().splitlines(True)
    at = 1200
    log = tmp_path / "dup.log"
    log.write_bytes(b"".join([*lines[:at], *lines[at - 100 : at], *lines[at:]]))  # 100 lines written twice
    err = _monitor_with(baseline, tmp_path / "d", log, run_cli)
    assert f"dup.log:{at + 1}: the log's time went back" in err
    assert "went back 1 time by more than a second" in err  # the summary line
    rows = [r.split(",") for r in (tmp_path / "d" / "anomalies.csv").read_text().splitlines()[1:]]
    steps = [r for r in rows if r[-1] == "time_back"]
    assert len(steps) == 1 and steps[0][1] == "log" and steps[0][5] == f"dup.log:{at + 1}"
    summary = json.loads((tmp_path / "d" / "run_summary.json").read_text())
    assert summary["time_back_steps"] == 1 and summary["time_back_lines"] >= 90
    code, _, err = run_cli("report", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "d")
    assert code == 0, err
    page = (tmp_path / "d" / "report.html").read_text()
    assert "Log integrity:" in page and "went back 1 time by more than a second" in page and "time_back" in page


def test_a_clock_set_back_an_hour_is_reported_with_its_size(baseline: Path, tmp_path: Path, run_cli) -> None:
    lines = simulate(run_cli, tmp_path / "s.log", "--cycles", "60", "--seed", "43").read_bytes().splitlines(True)
    at = 900
    log = tmp_path / "dst.log"
    log.write_bytes(b"".join(_shift_lines(lines, at, timedelta(hours=-1))))
    err = _monitor_with(baseline, tmp_path / "d", log, run_cli)
    assert "the log's time went back" in err
    rows = [r.split(",") for r in (tmp_path / "d" / "anomalies.csv").read_text().splitlines()[1:]]
    (step,) = [r for r in rows if r[-1] == "time_back"]
    assert -3600 <= float(step[3]) < -3500  # an hour back, less the gap between the two lines
    assert "ended before they began" in err  # the visits it cut short wrote no duration row


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_stop_and_resume_around_a_step_gives_the_same_anomalies(
    cut: float, baseline: Path, tmp_path_factory: pytest.TempPathFactory, run_cli,
) -> None:
    work = tmp_path_factory.mktemp("clock_resume")
    lines = simulate(run_cli, work / "s.log", "--cycles", "40", "--seed", "44").read_bytes().splitlines(True)
    content = b"".join([*lines[:700], *lines[600:700], *lines[700:]])
    whole = work / "whole"
    (work / "log").mkdir()
    log = work / "log" / "dup.log"
    log.write_bytes(content)
    _monitor_with(baseline, whole, log, run_cli)
    ends = [i + 1 for i, b in enumerate(content) if b == 10]
    stop = ends[int(cut * (len(ends) - 1))]
    log.write_bytes(content[:stop])
    _monitor_with(baseline, work / "cut", log, run_cli)
    log.write_bytes(content)
    _monitor_with(baseline, work / "cut", log, run_cli)
    assert outputs(work / "cut") == outputs(whole)


def test_a_hand_written_log_of_another_shape_reports_its_step(tmp_path: Path, run_cli) -> None:
    """Not the simulator's log: the walkthrough's patterns, seconds only, a step of ten minutes."""
    log = tmp_path / "station.log"
    log.write_text("\n".join([
        "2026-01-21 10:04:50 [INFO] Pallet P-1 arrived at L1",
        "2026-01-21 10:05:00 [INFO] Dispensing Started at L1",
        "2026-01-21 10:05:15 [INFO] Process finished",
        "2026-01-21 09:55:20 [INFO] Pallet P-2 arrived at L1",  # the PLC's clock was set back
        "2026-01-21 09:55:30 [INFO] Dispensing Started at L1",
        "2026-01-21 09:55:41 [INFO] Process finished",
    ]) + "\n")
    code, _, err = run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", tmp_path / "d", "--logs", log)
    assert code == 0, err
    assert "station.log:4: the log's time went back 595.000 s" in err
    summary = json.loads((tmp_path / "d" / "run_summary.json").read_text())
    assert summary["time_back_steps"] == 1 and summary["time_back_lines"] == 3

