"""logloom simulate against logloom monitor: the engine must find exactly the truth.

On a clean simulated log (noise, safe sparse lines, faults, out-of-order lines and
injected anomalies, but no dropped lines and no ambiguous sparse lines) monitor's
process_metrics.csv equals <log>.truth.csv byte for byte. With lines dropped (and
sparse lines routed wrongly), every visit the simulator did not list in
<log>.affected.csv comes out unchanged, row for row.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.simulator import SimOptions, parse_anomalies, side_paths, simulate

pytest.importorskip("logloom.main")  # the monitor pipeline

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
RunCli = Callable[..., tuple[int, str, str]]
ANOMALIES = (
    "spike:l1_dispenser.process_cycle_time@20x1.6,spike:l2_dispenser.process_cycle_time@40x0.45,"
    "stuck:l1_clamp.CLOSED@60x20,drift:l2_dispenser.process_cycle_time@100+0.004,"
    "spike:l1_dispenser.dispensed_volume@30x1.3,fault:l2_dispenser@70,random-spikes:0.01"
)


def _simulate(out: Path, **changes: object) -> None:
    options = replace(SimOptions(config_dir=CONFIG, cycles=300), **changes)  # type: ignore[arg-type]
    simulate(out, options)


def _monitor(run_cli: RunCli, log: Path, data: Path, config: Path = CONFIG) -> Path:
    code, _, err = run_cli("monitor", "--config", config, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    return data / "process_metrics.csv"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))[1:]


def _unaffected(log: Path, metrics: Path) -> tuple[list[list[str]], list[list[str]]]:
    """(truth rows, monitor rows) of the visits the simulator did not list as affected."""
    truth_path, _, affected_path = side_paths(log)
    affected = {tuple(row) for row in _rows(affected_path)}
    truth = [r for r in _rows(truth_path) if (r[0], r[1], r[5]) not in affected]
    found = [r for r in _rows(metrics)
             if not r[5].endswith(":inferred") and (r[0], r[1], r[5]) not in affected]
    return truth, found


def test_a_clean_log_gives_exactly_the_truth(tmp_path: Path, run_cli: RunCli) -> None:
    injections, rate = parse_anomalies([ANOMALIES])
    log = tmp_path / "clean.log"
    _simulate(log, noise=0.2, sparse=0.5, faults=0.02, disorder=0.05, injections=injections,
              random_spikes=rate)
    metrics = _monitor(run_cli, log, tmp_path / "data")
    truth = side_paths(log)[0]
    assert len(_rows(truth)) > 7000
    assert metrics.read_text() == truth.read_text()


def test_garbage_lines_change_no_row(tmp_path: Path, run_cli: RunCli) -> None:
    log = tmp_path / "garbage.log"
    _simulate(log, garbage=0.05, noise=0.05)
    metrics = _monitor(run_cli, log, tmp_path / "data")
    assert metrics.read_text() == side_paths(log)[0].read_text()


def test_dropped_lines_leave_the_other_visits_unchanged(tmp_path: Path,
                                                        run_cli: RunCli) -> None:
    log = tmp_path / "drops.log"
    _simulate(log, drop=0.05, sparse=0.5, faults=0.02)
    metrics = _monitor(run_cli, log, tmp_path / "data")
    truth, found = _unaffected(log, metrics)
    assert found == truth
    all_truth = _rows(side_paths(log)[0])
    assert len(truth) > 0.7 * len(all_truth)  # the filter keeps most of the log
    assert any(r[5].endswith(":inferred") for r in _rows(metrics))  # the engine jumped


def _settings_config(directory: Path, permissive: bool, max_jump: int) -> Path:
    """The bundled config with other jump settings."""
    config = directory / "config"
    shutil.copytree(CONFIG, config)
    logic = yaml.safe_load((config / "process_logic.yaml").read_text())
    logic["settings"] = {"permissive": permissive, "max_jump": max_jump}
    (config / "process_logic.yaml").write_text(yaml.safe_dump(logic, sort_keys=False))
    return config


MIXES = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32),
    "drop": st.sampled_from([0.02, 0.1, 0.3]),
    "sparse": st.sampled_from([0.0, 0.5, 0.9]),
    "ambiguous_sparse": st.booleans(),
    "disorder": st.sampled_from([0.0, 0.1]),
    "garbage": st.sampled_from([0.0, 0.02]),
    "faults": st.sampled_from([0.0, 0.05]),
})


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(MIXES, st.booleans(), st.sampled_from([1, 2, 4]))
def test_unaffected_visits_match_for_any_mix(run_cli: RunCli, mix: dict[str, object],
                                             permissive: bool, max_jump: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = _settings_config(Path(tmp), permissive, max_jump)
        log = Path(tmp) / "mix.log"
        _simulate(log, cycles=80, config_dir=config, **mix)
        metrics = _monitor(run_cli, log, Path(tmp) / "data", config)
        truth, found = _unaffected(log, metrics)
        assert found == truth


def test_a_jump_keeps_the_value_of_its_line_as_the_truth_has_it(tmp_path: Path, run_cli: RunCli) -> None:
    """A lost start: the finish line's volume is the true dispensed_volume of the visit
    the jump closes (SPEC 4 step 6), row for row as the simulator's truth writes it."""
    log = tmp_path / "drops.log"
    _simulate(log, drop=0.1, seed=3)
    rows = _rows(_monitor(run_cli, log, tmp_path / "data"))
    jumped = {(r[0], r[1]) for r in rows if r[2] == "process_cycle_time" and r[5] == "DISPENSING:inferred"}
    kept = [r for r in rows if (r[0], r[1]) in jumped and r[2] == "dispensed_volume"]
    assert len(kept) >= 3 and all(r[5] == "DISPENSING" for r in kept)
    truth = {tuple(r) for r in _rows(side_paths(log)[0])}
    assert all(tuple(r) in truth for r in kept)


def test_a_jump_that_closes_another_state_than_the_truth_is_listed(tmp_path: Path, run_cli: RunCli) -> None:
    """A machine where PROCESS_END also leaves READY_TO_DISPENSE (an aborted dispense)
    that measures a volume: from IDLE the engine jumps through READY_TO_DISPENSE, not
    DISPENSING as the truth did, and writes its volume there; that key is listed."""
    config = _settings_config(tmp_path, True, 4)
    logic = yaml.safe_load((config / "process_logic.yaml").read_text())
    dispenser = logic["machines"]["dispenser"]
    dispenser["transitions"].append({"from": "READY_TO_DISPENSE", "event": "PROCESS_END", "to": "UNCLAMPING"})
    dispenser["states"]["READY_TO_DISPENSE"]["metrics"].append(
        {"name": "aborted_volume", "type": "value", "field": "volume", "unit": "ml"})
    (config / "process_logic.yaml").write_text(yaml.safe_dump(logic, sort_keys=False))
    log = tmp_path / "aborts.log"
    _simulate(log, cycles=150, config_dir=config, drop=0.3, seed=5)
    metrics = _monitor(run_cli, log, tmp_path / "data", config)
    assert any(r[2] == "aborted_volume" for r in _rows(metrics))  # the case happened
    truth, found = _unaffected(log, metrics)
    assert found == truth
