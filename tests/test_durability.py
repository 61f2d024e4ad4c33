"""Durability (SPEC 7): resume anywhere, crash snapshots, SIGKILL, one writer, state files."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.outputs.state_store import SCHEMA_VERSION, load_state
from logloom.records import StateChange
from tests.helpers import EXAMPLE_CONFIG, ROOT, inject_bug, nth

OUTPUTS = ("process_metrics*.csv", "rejected_lines.log", "anomalies.csv", "incidents.csv")


def simulate(run_cli, out: Path, *args: str) -> Path:
    code, _, err = run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", out, "--quiet", *args)
    assert code == 0, err
    return out


def outputs(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for pattern in OUTPUTS for p in sorted(data.glob(pattern))}


def record_into(run_cli, good: Path, whole: Path, data: Path) -> None:
    """Record a baseline from ``good`` in ``whole`` and make it the active one of ``data`` too."""
    code, _, err = run_cli("record", "--config", EXAMPLE_CONFIG, "--data", whole, "--logs", good, "-q")
    assert code == 0, err
    data.mkdir()
    shutil.copy(whole / "process_baseline.json", data / "process_baseline.json")


def monitor(run_cli, data: Path, log: Path, *extra: str) -> None:
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q", *extra)
    assert code == 0, err


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from logloom.cli import main

    out = tmp_path_factory.mktemp("sim") / "shift.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(out), "--quiet", "--cycles", "60",
                 "--seed", "5", "--drop", "0.02", "--garbage", "0.01", "--sparse", "0.5", "--faults", "0.05"]) == 0
    return out


@pytest.fixture(scope="module")
def uninterrupted(sim_log: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from logloom.cli import main

    data = tmp_path_factory.mktemp("whole")
    assert main(["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data), "--logs", str(sim_log), "-q",
                 "--max-part-mb", "0.02"]) == 0
    return outputs(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=3))
def test_stop_after_any_line_and_resume_gives_the_same_outputs(
    cuts: list[float], sim_log: Path, uninterrupted: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory,
    run_cli,
) -> None:
    content = sim_log.read_bytes()
    ends = [i + 1 for i, b in enumerate(content) if b == 10]
    stops = sorted({ends[int(c * (len(ends) - 1))] for c in cuts})
    work = tmp_path_factory.mktemp("resume")
    log, data = work / "shift.log", work / "data"
    written = 0
    with log.open("wb") as fh:  # the file grows in place, like a machine's log
        for stop in [*stops, len(content)]:
            fh.write(content[written:stop])
            fh.flush()
            written = stop
            monitor(run_cli, data, log, "--max-part-mb", "0.02", "--parallel" if stop % 2 else "--serial")
    assert outputs(data) == uninterrupted


@pytest.fixture(scope="module")
def scored_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """A shift with stuck states, spikes and a drift; a baseline from a good shift; the
    outputs of one uninterrupted scored run."""
    from logloom.cli import main

    work = tmp_path_factory.mktemp("scored")
    good, bad, whole = work / "good.log", work / "bad.log", work / "whole"
    sim = ["simulate", "--config", str(EXAMPLE_CONFIG), "--quiet"]
    assert main([*sim, "--out", str(good), "--cycles", "150", "--seed", "31"]) == 0
    assert main([*sim, "--out", str(bad), "--cycles", "80", "--seed", "32", "--sparse", "0.3", "--faults", "0.05",
                 "--anomalies", "stuck:l1_clamp.CLOSED@20x20,stuck:l2_dispenser.DISPENSING@50x5,random-spikes:0.05,"
                 "drift:l2_dispenser.process_cycle_time@30+0.01"]) == 0
    assert main(["record", "--config", str(EXAMPLE_CONFIG), "--data", str(whole), "--logs", str(good), "-q"]) == 0
    baseline = whole / "process_baseline.json"
    assert main(["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(whole), "--logs", str(bad), "-q"]) == 0
    expected = outputs(whole)
    rules = {line.rsplit(",", 1)[1] for line in expected["anomalies.csv"].decode().splitlines()[1:]}
    assert {"stuck", "limits", "ewma", "fault", "fault_end"} <= rules, rules
    incidents = [line.split(",") for line in expected["incidents.csv"].decode().splitlines()[1:]]
    kinds = {row[5] for row in incidents}
    assert {"fault", "stuck", "drift"} <= kinds, kinds  # incidents of every kind, knock-ons attached
    assert any(row[14] for row in incidents) and any(not row[1] for row in incidents), incidents
    return bad, baseline, expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=3))
def test_scored_stop_and_resume_anywhere_gives_the_same_anomalies(
    cuts: list[float], scored_log: tuple[Path, Path, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory,
    run_cli,
) -> None:
    """Drift statistics, stuck visits and burst windows continue across the cuts."""
    source, baseline, expected = scored_log
    content = source.read_bytes()
    ends = [i + 1 for i, b in enumerate(content) if b == 10]
    stops = sorted({ends[int(c * (len(ends) - 1))] for c in cuts})
    work = tmp_path_factory.mktemp("scored_resume")
    log, data = work / "shift.log", work / "data"
    data.mkdir()
    shutil.copy(baseline, data / "process_baseline.json")
    written = 0
    with log.open("wb") as fh:
        for stop in [*stops, len(content)]:
            fh.write(content[written:stop])
            fh.flush()
            written = stop
            monitor(run_cli, data, log, "--parallel" if stop % 2 else "--serial")
    assert outputs(data) == expected


@pytest.mark.parametrize("mode", ["--serial", "--parallel"])
def test_an_internal_crash_leaves_a_snapshot_and_the_next_run_resumes(
    mode: str, sim_log: Path, uninterrupted: dict[str, bytes], tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fix = inject_bug(monkeypatch, nth(700))  # the state moved and the step's rows are out, then the bug strikes
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path, "--logs", sim_log, "-q",
                           "--max-part-mb", "0.02", mode)
    assert code == 1 and "injected bug" in err
    snapshot = tmp_path / "snapshots" / "crash_state.json"
    last = err.strip().splitlines()[-1]  # names the real place, not a placeholder
    assert last.startswith("logloom: internal error (a bug)") and f"saved to {snapshot}" in last, last
    crashed_at = load_state(snapshot)["stats"]["events"]
    fix()
    monitor(run_cli, tmp_path, sim_log, "--max-part-mb", "0.02")
    assert 0 < crashed_at < json.loads((tmp_path / "run_summary.json").read_text())["events"]
    assert not snapshot.exists() and list((tmp_path / "snapshots").glob("crash_state.*.used.json"))
    assert outputs(tmp_path) == uninterrupted


@pytest.mark.parametrize("mode", ["--serial", "--parallel"])
def test_a_crash_that_ends_a_stuck_visit_loses_no_anomaly(
    mode: str, tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stuck visits of a block in time order are found after the block; the step that
    crashes here ends the stuck visit half-way, and its anomaly must still be written."""
    good = simulate(run_cli, tmp_path / "good.log", "--cycles", "200", "--seed", "21")
    log = simulate(run_cli, tmp_path / "bad.log", "--cycles", "60", "--seed", "22",
                   "--anomalies", "stuck:l1_clamp.CLOSED@30x20")
    whole, data = tmp_path / "whole", tmp_path / "crashed"
    record_into(run_cli, good, whole, data)
    monitor(run_cli, whole, log, mode)
    assert "stuck" in (whole / "anomalies.csv").read_text()
    entered: dict[tuple[str, str], int] = {}

    def leaving_stuck(change: StateChange) -> bool:
        """l1_clamp leaving CLOSED after more than 100 s in it (the injected stuck visit)."""
        since = entered.get((change.component_id, change.from_state), change.ts)
        entered[change.component_id, change.to_state] = change.ts
        return change.component_id == "l1_clamp" and change.from_state == "CLOSED" and change.ts - since > 100_000_000

    fix = inject_bug(monkeypatch, leaving_stuck)
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q", mode)
    assert code == 1 and "injected bug" in err
    fix()
    monitor(run_cli, data, log, mode)
    assert outputs(data) == outputs(whole)


def _spawn(data: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data),
           "--logs", str(log), "-q", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def test_sigkill_at_random_instants_loses_and_duplicates_nothing(tmp_path: Path, run_cli) -> None:
    good = simulate(run_cli, tmp_path / "good.log", "--cycles", "300", "--seed", "10")
    log = simulate(run_cli, tmp_path / "big.log", "--cycles", "8000", "--seed", "11", "--drop", "0.01",
                   "--garbage", "0.005", "--sparse", "0.3", "--start", "2026-01-21T12:00:00",
                   "--anomalies", "drift:l2_dispenser.process_cycle_time@4000+0.004,random-spikes:0.01")
    whole, data = tmp_path / "whole", tmp_path / "killed"
    record_into(run_cli, good, whole, data)
    started = time.monotonic()
    proc = _spawn(whole, log, "--max-part-mb", "0.5")
    assert proc.wait(timeout=120) == 0
    duration = time.monotonic() - started
    assert (whole / "anomalies.csv").read_text().count("\n") > 10, "the baseline should flag something"

    rng = random.Random(2026)
    kills = 0
    for _ in range(100):
        mode = rng.choice(["--serial", "--parallel"])
        proc = _spawn(data, log, "--max-part-mb", "0.5", "--checkpoint-every", "0.1", mode)
        try:  # each attempt gets part of the way, so several kills land mid-run
            proc.wait(timeout=rng.uniform(0.2, 0.4) * duration)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        break
    else:
        raise AssertionError("monitor never finished between kills")
    assert kills >= 3
    assert outputs(data) == outputs(whole)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_shuts_down_cleanly_and_resumes(signum: int, tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "300", "--seed", "3")
    data = tmp_path / "d"
    proc = _spawn(data, log, "--follow")
    _wait_for(lambda: (data / "machine_state.json").exists() and _offset(data) == log.stat().st_size)
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 0
    whole = tmp_path / "whole"
    monitor(run_cli, whole, log)
    assert outputs(data) == outputs(whole)


def test_a_second_writer_is_refused(tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "20")
    data = tmp_path / "d"
    proc = _spawn(data, log, "--follow")
    try:
        _wait_for(lambda: (data / "machine_state.json").exists())
        code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q")
        assert code == 2 and "in use by another logloom process" in err and f"pid {proc.pid}" in err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "5")
    monitor(run_cli, tmp_path / "d", log)
    state = tmp_path / "d" / "machine_state.json"
    for text in ("{not json", json.dumps({"hello": 1}), json.dumps({"schema_version": 99})):
        state.write_text(text)
        code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "d", "--logs", log, "-q")
        assert code == 2 and "machine_state.json" in err and "move" in err and "Traceback" not in err


def test_a_replaced_source_is_read_from_its_start_keeping_states(tmp_path: Path, run_cli) -> None:
    first = simulate(run_cli, tmp_path / "a.log", "--cycles", "10", "--seed", "1")
    monitor(run_cli, tmp_path / "d", first)
    rows_before = (tmp_path / "d" / "process_metrics.csv").read_text().count("\n")
    replacement = tmp_path / "b.log"
    simulate(run_cli, replacement, "--cycles", "10", "--seed", "2",
             "--start", "2026-01-21T08:00:00")
    os.replace(replacement, first)  # same path, another file; the old one is gone
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "d", "--logs", first)
    # whether lines were written to the old file after the checkpoint cannot be known: a loud gap
    assert code == 3 and "rotated or truncated since the checkpoint" in err and "not found" in err
    assert (tmp_path / "d" / "process_metrics.csv").read_text().count("\n") > rows_before


def test_the_first_state_version_still_loads() -> None:
    fixture = ROOT / "tests" / "fixtures" / "state_v1" / "machine_state.json"
    state = load_state(fixture)
    assert state["schema_version"] == SCHEMA_VERSION
    assert state["source"]["offset"] > 0


def _offset(data: Path) -> int:
    try:
        return int(json.loads((data / "machine_state.json").read_text())["source"]["offset"])
    except (OSError, ValueError, KeyError):
        return -1


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)



