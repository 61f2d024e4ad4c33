"""monitor --from-start: the earlier outputs are archived under DATA/runs/<time>/, never
deleted, and the log is processed afresh; a re-run with nothing new says so."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from logloom.outputs.runs import archive_outputs
from tests.helpers import EXAMPLE_CONFIG

RunCli = Callable[..., tuple[int, str, str]]
OUTPUTS = ("process_metrics.csv", "anomalies.csv", "rejected_lines.log", "run_summary.json", "machine_state.json")


@pytest.fixture
def shift(tmp_path: Path, run_cli: RunCli) -> tuple[Path, Path]:
    """A recorded baseline in DATA and a shift with a spike and garbage lines, monitored once."""
    good, log, data = tmp_path / "good.log", tmp_path / "shift.log", tmp_path / "data"
    for out, args in ((good, ["--seed", "1"]),
                      (log, ["--seed", "2", "--garbage", "0.02", "--anomalies",
                             "spike:l1_dispenser.process_cycle_time@10x2.0"])):
        code, _, err = run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", out, "--cycles", "40", "-q", *args)
        assert code == 0, err
    assert run_cli("record", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", good, "-q")[0] == 0
    code, _, err = _monitor(run_cli, data, log)
    assert code == 0, err
    return log, data


def _monitor(run_cli: RunCli, data: Path, log: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, *extra)


def _files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in OUTPUTS if (directory / name).exists()}


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_from_start_archives_the_outputs_and_processes_the_log_again(shift: tuple[Path, Path],
                                                                     run_cli: RunCli) -> None:
    log, data = shift
    before = _files(data)
    assert set(before) == set(OUTPUTS) and b"limits" in before["anomalies.csv"]  # the spike was flagged
    baselines = _tree(data / "baselines")
    active = (data / "process_baseline.json").read_bytes()

    code, _, err = _monitor(run_cli, data, log, "--from-start")
    assert code == 0, err
    archived = list((data / "runs").iterdir())
    assert len(archived) == 1 and archived[0].name[:8].isdigit()
    assert f"are in {archived[0]}" in err
    assert _files(archived[0]) == before  # moved whole, byte for byte
    # processed afresh: the same log gives the same rows and anomalies again, not appended to
    after = _files(data)
    for name in ("process_metrics.csv", "anomalies.csv", "rejected_lines.log"):
        assert after[name] == before[name], name
    summary = json.loads(after["run_summary.json"])
    assert summary["resumed_from"] is None
    assert summary["this_run"]["lines_read"] == summary["lines_read"] == log.read_bytes().count(b"\n")
    # the baselines stay where they are
    assert _tree(data / "baselines") == baselines
    assert (data / "process_baseline.json").read_bytes() == active


def test_a_rerun_with_nothing_new_says_so_and_repeats_no_totals(shift: tuple[Path, Path], run_cli: RunCli) -> None:
    log, data = shift
    before = _files(data)
    code, _, err = _monitor(run_cli, data, log)
    assert code == 0, err
    assert "nothing new since the checkpoint" in err and "--from-start" in err
    assert "Anomaly summary" not in err and " rows," not in err  # no table, no figures as if of this run
    summary = json.loads((data / "run_summary.json").read_text())
    assert summary["this_run"]["lines_read"] == summary["this_run"]["rows_written"] == 0
    assert summary["lines_read"] == json.loads(before["run_summary.json"])["lines_read"]
    for name in ("process_metrics.csv", "anomalies.csv", "rejected_lines.log"):
        assert (data / name).read_bytes() == before[name], name


def test_a_resumed_run_reports_its_own_lines(shift: tuple[Path, Path], tmp_path: Path, run_cli: RunCli) -> None:
    log, data = shift
    lines_before = json.loads((data / "run_summary.json").read_text())["lines_read"]
    more = tmp_path / "more.log"
    assert run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", more, "--cycles", "3", "--seed", "9",
                   "--start", "2026-01-23T06:00:00", "-q")[0] == 0
    added = more.read_bytes()
    new_lines = added.count(b"\n")
    with log.open("ab") as fh:
        fh.write(added)
    code, _, err = _monitor(run_cli, data, log)
    assert code == 0, err
    summary = json.loads((data / "run_summary.json").read_text())
    assert summary["this_run"]["lines_read"] == new_lines
    assert summary["lines_read"] == lines_before + new_lines
    assert err.startswith(f"{new_lines} lines,") or f"\n{new_lines} lines," in err
    assert f"since the outputs began: {summary['lines_read']} lines" in err


def test_an_interrupted_archive_is_completed_before_anything_is_read(shift: tuple[Path, Path],
                                                                     run_cli: RunCli) -> None:
    log, data = shift
    before = _files(data)
    # --from-start died after moving the checkpoint and one output
    partial = data / "runs" / "20260101T000000Z.partial"
    partial.mkdir(parents=True)
    for name in ("machine_state.json", "process_metrics.csv"):
        os.rename(data / name, partial / name)
    code, _, err = _monitor(run_cli, data, log, "-q")
    assert code == 0, err
    assert not partial.exists()
    assert _files(data / "runs" / "20260101T000000Z") == before
    assert (data / "process_metrics.csv").read_bytes() == before["process_metrics.csv"]  # afresh, whole


def test_two_archives_never_share_a_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    made = []
    for text in ("first", "second"):
        (data / "process_metrics.csv").write_text(text)
        made.append(archive_outputs(data))
    assert made[0] != made[1] and all(p is not None for p in made)
    assert [(p / "process_metrics.csv").read_text() for p in made if p] == ["first", "second"]
    assert archive_outputs(data) is None  # nothing left to archive: no empty directory
    assert len(list((data / "runs").iterdir())) == 2


def test_a_runs_symlink_is_refused(shift: tuple[Path, Path], tmp_path: Path, run_cli: RunCli) -> None:
    log, data = shift
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data / "runs").symlink_to(elsewhere)
    code, _, err = _monitor(run_cli, data, log, "--from-start")
    assert code == 2 and "runs" in err and "Traceback" not in err
    assert not list(elsewhere.iterdir()) and (data / "machine_state.json").exists()


def test_monitor_help_offers_from_start(run_cli: RunCli) -> None:
    code, out, _ = run_cli("monitor", "--help")
    assert code == 0 and "--from-start" in out and "DATA/runs/" in out
