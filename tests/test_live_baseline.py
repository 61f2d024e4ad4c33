"""A running follower notices a newly activated baseline (record, baseline activate) and says
which baseline it scores against."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.test_durability import simulate


def _scored_against(data: Path) -> str | None:
    try:
        scorer = json.loads((data / "machine_state.json").read_text())["scorer"]
    except (OSError, ValueError, KeyError):
        return None
    return scorer["baseline_id"] if scorer else ""


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _record(run_cli, data: Path, log: Path) -> tuple[str, str]:
    code, out, err = run_cli("record", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    return out.split()[1], err  # "recorded <id> and made it the active baseline"


def test_a_follower_switches_to_a_newly_activated_baseline(tmp_path: Path, run_cli) -> None:
    good = simulate(run_cli, tmp_path / "good.log", "--cycles", "150", "--seed", "51")
    other = simulate(run_cli, tmp_path / "other.log", "--cycles", "150", "--seed", "52")
    live = simulate(run_cli, tmp_path / "live.log", "--cycles", "30", "--seed", "53")
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data),
           "--logs", str(live), "--follow", "--checkpoint-every", "0.1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _scored_against(data) == "", "the follower without a baseline")
        first, err = _record(run_cli, data, good)
        assert f"a monitor is running on {data} (pid {proc.pid}): it scores against {first}" in err
        _wait_for(lambda: _scored_against(data) == first, f"scoring against {first}")
        assert (data / "anomalies.csv").exists()  # begun with the baseline
        second, _ = _record(run_cli, data, other)
        _wait_for(lambda: _scored_against(data) == second, f"scoring against {second}")
        code, _, err = run_cli("baseline", "activate", first, "--data", data)
        assert code == 0 and f"pid {proc.pid}" in err, err
        _wait_for(lambda: _scored_against(data) == first, f"back to {first}")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err
    assert f"{first} was activated: scoring against it" in err and f"{second} was activated" in err
    assert f"scored against {first}" in err  # the final summary says which one
    assert json.loads((data / "run_summary.json").read_text())["baseline"] == first
