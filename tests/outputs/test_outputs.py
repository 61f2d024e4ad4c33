"""Outputs (SPEC 5): exact CSV format, partitioning, epoch time format, run summary."""

from __future__ import annotations

import json
from pathlib import Path

from logloom.outputs.sinks import MetricsSink
from logloom.records import METRICS_HEADER, MetricRow
from tests.helpers import EXAMPLE_CONFIG, WALKTHROUGH_CONFIG

CYCLE = [
    "2026-01-21 10:{m:02d}:00.000 Pallet P-{m} arrived at L1",
    "2026-01-21 10:{m:02d}:01.250 Dispensing Started at L1",
    "2026-01-21 10:{m:02d}:16.500 Process finished volume=12.{m}ml",
]


def _log(tmp_path: Path, cycles: int) -> Path:
    lines = []
    for m in range(cycles):
        lines += [c.format(m=m) for c in CYCLE]
        lines.append(f"2026-01-21 10:{m:02d}:20 Pallet P-{m} released from L1")
    path = tmp_path / "log.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _formatted(tmp_path: Path, row: MetricRow) -> str:
    sink = MetricsSink(tmp_path, lambda ts: "T", 1e9)
    sink.write_rows([row])
    sink.close()
    return (tmp_path / "process_metrics.csv").read_text().splitlines(keepends=True)[-1]


def test_value_and_timestamp_formatting(tmp_path: Path) -> None:
    row = MetricRow(1_768_989_915_120_000, "c", "m", 2.75, "s", "S")
    assert _formatted(tmp_path / "a", row) == "T,c,m,2.75,s,S\n"
    assert _formatted(tmp_path / "b", row._replace(value=15.0)) == "T,c,m,15.0,s,S\n"
    assert _formatted(tmp_path / "c", row._replace(value=round(1 / 3, 6))) == "T,c,m,0.333333,s,S\n"


def test_values_are_written_rounded_to_six_decimals(tmp_path: Path, run_cli) -> None:
    from tests.helpers import ROOT

    log = tmp_path / "l.log"
    log.write_text("2026-01-21 10:00:00 arrive L1\n2026-01-21 10:00:01 start L1\n2026-01-21 10:00:02 vol L1 1.0\n"
                   "2026-01-21 10:00:03 vol L1 0.0\n2026-01-21 10:00:03.5 vol L1 0.0\n2026-01-21 10:00:04.1 end at L1\n")
    code, _, err = run_cli("monitor", "--config", ROOT / "tests" / "fixtures" / "rules_config", "--data",
                           tmp_path / "d", "--logs", log, "-q")
    assert code == 0, err
    rows = {r[2]: r[3] for r in (line.split(",") for line in (tmp_path / "d" / "process_metrics.csv").read_text().splitlines())}
    assert (rows["vol_mean"], rows["cycle_time"], rows["retries"]) == ("0.333333", "3.1", "0.0")


def test_partitions_never_split_rows_and_each_has_the_header(tmp_path: Path, run_cli) -> None:
    log = _log(tmp_path, 50)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", whole, "--logs", log, "-q")[0] == 0
    assert run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", parts, "--logs", log, "-q",
                   "--max-part-mb", "0.001")[0] == 0
    files = sorted(parts.glob("process_metrics*.csv"), key=lambda p: (len(p.name), p.name))
    assert [p.name for p in files[:3]] == ["process_metrics.csv", "process_metrics_part2.csv", "process_metrics_part3.csv"]
    body: list[str] = []
    for p in files:
        lines = p.read_text().splitlines()
        assert lines[0] == METRICS_HEADER
        body += lines[1:]
        # a part passes 1000 bytes only by its last row
        assert len("\n".join(lines[:-1])) + 1 <= 1000
    assert body == (whole / "process_metrics.csv").read_text().splitlines()[1:]


def test_epoch_time_format(tmp_path: Path, run_cli) -> None:
    log = _log(tmp_path, 1)
    assert run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", tmp_path / "d", "--logs", log, "-q",
                   "--time-format", "epoch")[0] == 0
    rows = (tmp_path / "d" / "process_metrics.csv").read_text().splitlines()[1:]
    # 2026-01-21 10:00:16.5 as naive wall-clock seconds since 1970
    assert rows[0].split(",")[0] == "1768989616.5"
    assert rows[0].split(",")[3] == "15.25"


def test_run_summary(tmp_path: Path, run_cli) -> None:
    log = _log(tmp_path, 3)
    with log.open("a") as fh:
        fh.write("garbage\n2026-01-21 11:00:00 noise\n")
    assert run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "d", "--logs", log, "-q")[0] == 0
    summary = json.loads((tmp_path / "d" / "run_summary.json").read_text())
    assert (summary["lines_read"], summary["malformed"], summary["unmatched"], summary["events"]) == (14, 1, 1, 12)
    # per cycle: wait, cycle time, volume, retries, unclamp; idle from the second cycle on
    assert summary["rows_written"] == 5 + 6 + 6
    d1 = summary["components"]["l1_dispenser"]
    assert (d1["transitions"], d1["missing_value"]) == (12, 3)  # no pressure line: mean pressure missing
    assert summary["lines_per_second"] > 0


def test_sink_resumes_in_the_newest_part(tmp_path: Path) -> None:
    sink = MetricsSink(tmp_path, str, 100)  # header 60 bytes, rows 14: three rows a part
    for i in range(7):
        sink.write_rows([MetricRow(i, "c", "m", float(i), "s", "S")])
    sink.flush()
    lengths = sink.lengths()
    sink.close()
    again = MetricsSink(tmp_path, str, 100, lengths)
    again.write_rows([MetricRow(9, "c", "m", 9.0, "s", "S")])
    again.close()
    newest = max(tmp_path.glob("process_metrics*.csv"), key=lambda p: (len(p.name), p.name))
    assert newest.name == "process_metrics_part3.csv" and newest.name in lengths
    assert newest.read_text().splitlines()[1:] == ["6,c,m,6.0,s,S", "9,c,m,9.0,s,S"]


def test_bundled_example_config_runs(tmp_path: Path, run_cli) -> None:
    from tests.helpers import ROOT

    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path,
                           "--logs", ROOT / "data" / "machine_logs.txt", "-q")
    assert code == 0, err
    assert len((tmp_path / "process_metrics.csv").read_text().splitlines()) > 1


def test_every_output_gets_the_permissions_the_umask_gives(tmp_path: Path, run_cli) -> None:
    """A dashboard or a web server reading run_summary.json or report.html as another user
    sees them as it sees process_metrics.csv: the atomic writes' temp files are not private."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        log = _log(tmp_path, 3)
        data = tmp_path / "d"
        assert run_cli("record", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", log, "-q")[0] == 0
        assert run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", log, "-q")[0] == 0
        assert run_cli("report", "--data", data)[0] == 0
        os.umask(0o027)  # a stricter umask is kept too
        assert run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", log, "-q",
                       "--from-start")[0] == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(data).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
    (archive,) = (p for p in modes if p.startswith("baselines/") and p.count("/") == 1)
    (run,) = (p for p in modes if p.startswith("runs/") and p.count("/") == 1)  # the first monitor's outputs
    for name in ("process_baseline.json", f"{run}/report.html", f"{run}/run_summary.json",
                 archive, f"{archive}/process_baseline.json", f"{archive}/run_summary.json"):
        assert modes[name] == (0o755 if (data / name).is_dir() else 0o644), (name, oct(modes[name]))
    for name in ("run_summary.json", "machine_state.json", "runs", run):  # made under umask 027
        assert modes[name] == (0o750 if (data / name).is_dir() else 0o640), (name, oct(modes[name]))
