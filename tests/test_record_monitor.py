"""Record then monitor, end to end through the CLI, against the simulator's injected anomalies."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_CONFIG


@pytest.fixture(scope="module")
def shifts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from logloom.cli import main

    work = tmp_path_factory.mktemp("shifts")
    good, bad, data = work / "good.log", work / "bad.log", work / "data"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(good), "--cycles", "400",
                 "--seed", "1", "--quiet"]) == 0
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(bad), "--cycles", "200", "--seed", "2",
                 "--start", "2026-01-22T06:00:00", "--quiet", "--anomalies",
                 "spike:l1_dispenser.process_cycle_time@50x2.0,stuck:l2_clamp.CLOSED@120x20"]) == 0
    assert main(["record", "--config", str(EXAMPLE_CONFIG), "--data", str(data), "--logs", str(good), "-q"]) == 0
    assert main(["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data), "--logs", str(bad), "-q"]) == 0
    return bad, data, work


def _anomalies(data: Path) -> list[dict[str, str]]:
    with (data / "anomalies.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_record_archives_and_activates_a_baseline(shifts: tuple[Path, Path, Path]) -> None:
    _, data, _ = shifts
    archived = list((data / "baselines").glob("baseline_*/process_baseline.json"))
    assert len(archived) == 1
    assert archived[0].read_bytes() == (data / "process_baseline.json").read_bytes()
    baseline = json.loads(archived[0].read_text())
    cycle = baseline["metrics"]["l1_dispenser"]["process_cycle_time"]
    assert cycle["n"] >= 390 and cycle["lower"] < cycle["median"] < cycle["upper"]
    assert (archived[0].parent / "process_metrics.csv").exists()


def test_the_injected_spike_is_flagged_by_limits(shifts: tuple[Path, Path, Path]) -> None:
    bad, data, _ = shifts
    with Path(f"{bad}.anomalies.csv").open() as fh:
        spike = next(r for r in csv.DictReader(fh) if r["kind"] == "spike")
    found = [a for a in _anomalies(data) if a["rule"] == "limits" and a["timestamp"] == spike["timestamp"]
             and a["component_id"] == spike["component_id"] and a["metric_name"] == spike["metric_name"]]
    assert len(found) == 1 and float(found[0]["value"]) > float(found[0]["upper"])


def test_a_stuck_state_is_flagged_while_it_lasts(shifts: tuple[Path, Path, Path]) -> None:
    bad, data, _ = shifts
    with Path(f"{bad}.anomalies.csv").open() as fh:
        stuck = next(r for r in csv.DictReader(fh) if r["kind"] == "stuck")
    flagged = [a for a in _anomalies(data) if a["rule"] == "stuck" and a["component_id"] == stuck["component_id"]]
    assert flagged, "the stuck clamp was not flagged"
    # flagged before the visit ended, once the log's time passed the learned upper limit
    first = min(flagged, key=lambda a: a["timestamp"])
    assert first["timestamp"] < stuck["timestamp"]
    assert float(first["value"]) > float(first["upper"])


def test_monitor_without_a_baseline_warns_and_writes_metrics(tmp_path: Path, run_cli, make_config) -> None:
    """Without a baseline nothing is scored; a fault state is flagged all the same."""
    log = tmp_path / "s.log"
    assert run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", log, "--cycles", "8", "--quiet",
                   "--anomalies", "fault:l1_dispenser@4")[0] == 0
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "d", "--logs", log)
    assert code == 0 and "no active baseline" in err and "fault states are still flagged" in err
    assert (tmp_path / "d" / "process_metrics.csv").read_text().count("\n") > 10
    rules = [a["rule"] for a in _anomalies(tmp_path / "d")]
    assert rules == ["fault", "fault_end"]
    with (tmp_path / "d" / "incidents.csv").open() as fh:
        [incident] = list(csv.DictReader(fh))
    assert (incident["component_id"], incident["kind"]) == ("l1_dispenser", "fault")
    assert "1 incident in" in err and "fault: ERROR for" in err
    no_faults = make_config(EXAMPLE_CONFIG, edit=lambda d: d["process_logic.yaml"]["machines"]["dispenser"]
                            ["states"]["ERROR"].pop("fault"))
    code, _, err = run_cli("monitor", "--config", no_faults, "--data", tmp_path / "e", "--logs", log)
    assert code == 0 and "no active baseline" in err and "fault" not in err
    assert not (tmp_path / "e" / "anomalies.csv").exists()


def test_baseline_commands(shifts: tuple[Path, Path, Path], run_cli) -> None:
    _, data, _ = shifts
    code, out, _ = run_cli("baseline", "list", "--data", data)
    baseline_id = next(p.name for p in (data / "baselines").iterdir() if p.name.startswith("baseline_"))
    assert code == 0 and baseline_id[:20] in out
    code, out, _ = run_cli("baseline", "show", baseline_id, "--data", data)
    assert code == 0 and "process_cycle_time" in out
    code, out, _ = run_cli("baseline", "activate", baseline_id, "--data", data)
    assert code == 0 and "active" in out
    code, _, err = run_cli("baseline", "activate", "baseline_19990101T000000Z", "--data", data)
    assert code == 2 and "no baseline" in err


def test_baseline_show_clips_the_lower_limit_of_a_count_at_0(shifts: tuple[Path, Path, Path], run_cli) -> None:
    """As the monitor summary and the report do (``detect.bounds.clip``), from DATA alone:
    record keeps each duration's and count's ``floor`` in the baseline."""
    _, data, _ = shifts
    baseline_id = next(p.name for p in (data / "baselines").iterdir() if p.name.startswith("baseline_"))
    metrics = json.loads((data / "baselines" / baseline_id / "process_baseline.json").read_text())["metrics"]
    retries = metrics["l1_dispenser"]["retries"]
    assert retries["lower"] < 0 and retries["floor"] == 0.0  # learned below 0 (median - k * scale)
    assert "floor" not in metrics["l1_dispenser"]["dispense_pressure"]  # a value metric has no bound
    code, out, _ = run_cli("baseline", "show", baseline_id, "--data", data)
    assert code == 0
    row = next(line for line in out.splitlines() if "l1_dispenser" in line and " retries " in line)
    assert re.search(r"\s0\.\.\S+ count", row) and not re.search(r"-\d", row), row
