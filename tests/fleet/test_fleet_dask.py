"""`logloom fleet` on a real Dask scheduler and two workers (SPEC 10).

Each source's outputs are compared byte for byte with plain `record`/`monitor` runs
of its logs; a worker is killed mid-run; a broken source fails alone; DuckDB reads
the Parquet dataset of the whole fleet.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.fleet.conftest import DaskCluster
from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.integrations.live import wait_for

OUTPUTS = ("process_metrics*.csv", "anomalies.csv", "rejected_lines.log")
# (name, simulate options of the monitored shift): noise, lost lines, unnamed stations, faults
SOURCES = {
    "line1": ["--seed", "1"],
    "line2": ["--seed", "2", "--sparse", "0.4", "--drop", "0.02"],
    "line3": ["--seed", "3", "--garbage", "0.01", "--faults", "0.05"],
    "line4": ["--seed", "4", "--anomalies", "random-spikes:0.03"],
}


def simulate(run_cli, out: Path, cycles: int, *args: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    code, _, err = run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", out, "--quiet", "--cycles", str(cycles),
                           *args)
    assert code == 0, err
    return out


def make_fleet(run_cli, work: Path, cycles: int, *, checkpoint_every: float = 1.0,
               sources: dict[str, list[str]] = SOURCES) -> Path:
    """A fleet file, a good shift to record and a shift to monitor per source. line4's
    shift comes as two rotated files whose names sort against their time order."""
    lines = [f"data: fleet-data\nparquet_part_rows: 1500\ncheckpoint_every: {checkpoint_every}\nsources:"]
    for i, (name, args) in enumerate(sources.items()):
        simulate(run_cli, work / name / "good.log", 150, "--seed", str(100 + i))
        if name == "line4":
            simulate(run_cli, work / name / "logs" / "b.log", cycles // 2, *args, "--start", "2026-01-21T06:00:00")
            simulate(run_cli, work / name / "logs" / "a.log", cycles // 2, *args, "--start", "2026-01-22T06:00:00")
            logs = f"{name}/logs/*.log"
        else:
            simulate(run_cli, work / name / "shift.log", cycles, *args)
            logs = f"{name}/shift.log"
        lines.append(f"  - {{name: {name}, config: {EXAMPLE_CONFIG}, logs: '{logs}', record_logs: {name}/good.log}}")
    fleet = work / "fleet.yaml"
    fleet.write_text("\n".join(lines) + "\n")
    return fleet


def shift_logs(work: Path, name: str) -> list[Path]:
    if (work / name / "shift.log").exists():
        return [work / name / "shift.log"]
    return [work / name / "logs" / "b.log", work / name / "logs" / "a.log"]  # in time order


def reference(run_cli, work: Path, name: str) -> Path:
    """Plain `record` and `monitor --parquet` of one source's logs, outside the fleet."""
    data = work / "reference" / name
    code, _, err = run_cli("record", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", work / name / "good.log",
                           "-q")
    assert code == 0, err
    for log in shift_logs(work, name):
        code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q",
                               "--parquet", "--parquet-part-rows", "1500", "--serial")
        assert code == 0, err
    return data


def outputs(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for pattern in OUTPUTS for p in sorted(data.glob(pattern))}


def parquet_parts(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(root.glob("part-*.parquet"))]


def assert_same_as_plain(run_cli, work: Path, name: str) -> None:
    data, ref = work / "fleet-data" / name, reference(run_cli, work, name)
    fleet_baseline = json.loads((data / "process_baseline.json").read_text())
    plain_baseline = json.loads((ref / "process_baseline.json").read_text())
    assert fleet_baseline["metrics"] == plain_baseline["metrics"]
    assert outputs(data) == outputs(ref) and outputs(ref)["process_metrics.csv"].count(b"\n") > 100
    # the Parquet files, byte for byte (the partition is named after the source, not the log)
    ref_parts = [ref / "parquet" / f"source={log.stem}" for log in shift_logs(work, name)]
    fleet_parts = parquet_parts(work / "fleet-data" / "parquet" / f"source={name}")
    assert fleet_parts and fleet_parts == [b for d in ref_parts for b in parquet_parts(d)]


def fleet_cli(fleet: Path, mode: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "logloom", "fleet", mode, str(fleet), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def run_fleet(fleet: Path, mode: str, *extra: str) -> tuple[int, str, str]:
    proc = fleet_cli(fleet, mode, *extra)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def fleet_run(dask_cluster: DaskCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fleet of four sources recorded and monitored on the scheduler and its two workers."""
    from logloom.cli import main

    work = tmp_path_factory.mktemp("fleet")

    def run_cli(*args: str | Path) -> tuple[int, str, str]:
        return main([str(a) for a in args]), "", ""

    fleet = make_fleet(run_cli, work, 120)
    for mode in ("record", "monitor"):
        code, out, err = run_fleet(fleet, mode, "--scheduler", dask_cluster.address)
        assert code == 0, err + out
        assert "4 sources on " + dask_cluster.address in err
    return work


def test_each_source_is_byte_identical_to_a_plain_run(fleet_run: Path, run_cli) -> None:
    for name in SOURCES:
        assert_same_as_plain(run_cli, fleet_run, name)
    summary = json.loads((fleet_run / "fleet-data" / "fleet_summary.json").read_text())
    assert summary["failed"] == [] and [s["name"] for s in summary["sources"]] == list(SOURCES)
    by_name = {s["name"]: s for s in summary["sources"]}
    assert by_name["line4"]["files"] == 2
    for name, s in by_name.items():
        data = fleet_run / "fleet-data" / name
        assert s["rows_written"] == outputs(data)["process_metrics.csv"].count(b"\n") - 1
        assert s["lines_read"] == sum(p.read_bytes().count(b"\n") for p in shift_logs(fleet_run, name))
    workers = {s["worker"] for s in summary["sources"]}
    assert len(workers) == 2, workers  # both workers ran sources


def test_a_second_monitor_reads_nothing_twice(fleet_run: Path, dask_cluster: DaskCluster) -> None:
    before = {name: outputs(fleet_run / "fleet-data" / name) for name in SOURCES}
    code, _, err = run_fleet(fleet_run / "fleet.yaml", "monitor", "--scheduler", dask_cluster.address)
    assert code == 0, err
    assert {name: outputs(fleet_run / "fleet-data" / name) for name in SOURCES} == before
    summary = json.loads((fleet_run / "fleet-data" / "fleet_summary.json").read_text())
    assert {s["name"]: s["lines_read"] for s in summary["sources"]} == dict.fromkeys(SOURCES, 0)


DOCUMENTED_QUERY = """
SELECT source, component_id, metric_name, count(*) AS n, sum(value) AS total,
       min(timestamp) AS first, max(timestamp) AS last, count(*) FILTER (WHERE inferred) AS inferred
FROM read_parquet('{root}/parquet/*/*.parquet', hive_partitioning = true)
GROUP BY ALL ORDER BY ALL
"""


def test_a_duckdb_query_over_the_fleets_parquet_equals_the_csvs(fleet_run: Path) -> None:
    root = fleet_run / "fleet-data"
    con = duckdb.connect()
    got = con.execute(DOCUMENTED_QUERY.format(root=root)).fetchall()
    expected: dict[tuple[str, str, str], list] = {}
    for name in SOURCES:
        for path in sorted((root / name).glob("process_metrics*.csv")):
            with path.open(newline="") as fh:
                for r in csv.DictReader(fh):
                    key = (name, r["component_id"], r["metric_name"])
                    e = expected.setdefault(key, [0, 0.0, r["timestamp"], r["timestamp"], 0])
                    e[0] += 1
                    e[1] += float(r["value"])
                    e[2], e[3] = min(e[2], r["timestamp"]), max(e[3], r["timestamp"])
                    e[4] += r["state_context"].endswith(":inferred")
    assert len(got) == len(expected) > 10
    for source, comp, metric, n, total, first, last, inferred in got:
        n_csv, total_csv, first_csv, last_csv, inferred_csv = expected[source, comp, metric]
        assert (n, first.isoformat(), last.isoformat(), inferred) == (n_csv, first_csv, last_csv, inferred_csv)
        assert total == pytest.approx(total_csv, rel=1e-12)
    # every row, not only the aggregates
    rows = con.execute(f"SELECT source, timestamp, component_id, metric_name, value, unit, state_context "
                       f"FROM read_parquet('{root}/parquet/*/*.parquet', hive_partitioning = true)").fetchall()
    as_text = sorted((s, t.isoformat(), c, m, repr(v), u, x) for s, t, c, m, v, u, x in rows)
    from_csv = sorted((name, *line.split(","))
                      for name in SOURCES for path in sorted((root / name).glob("process_metrics*.csv"))
                      for line in path.read_text().splitlines()[1:])
    assert as_text == from_csv


def test_a_broken_source_fails_alone(dask_cluster: DaskCluster, tmp_path: Path, run_cli) -> None:
    sources = {"good1": ["--seed", "7"], "badconfig": ["--seed", "8"], "nologs": ["--seed", "9"],
               "good2": ["--seed", "10", "--sparse", "0.3"]}
    fleet = make_fleet(run_cli, tmp_path, 60, sources=sources)
    broken = tmp_path / "broken-config"
    shutil.copytree(EXAMPLE_CONFIG, broken)
    (broken / "process_logic.yaml").write_text((broken / "process_logic.yaml").read_text() + "\n  nonsense: [\n")
    text = fleet.read_text().replace(f"name: badconfig, config: {EXAMPLE_CONFIG}", f"name: badconfig, config: {broken}")
    fleet.write_text(text.replace("nologs/shift.log", "nologs/missing.log"))
    code, out, err = run_fleet(fleet, "record", "--scheduler", dask_cluster.address)
    assert code == 2, err
    summary = json.loads((tmp_path / "fleet-data" / "fleet_summary.json").read_text())
    assert summary["failed"] == ["badconfig"]
    assert "process_logic.yaml" in out and "Traceback" not in err + out
    code, out, err = run_fleet(fleet, "monitor", "--scheduler", dask_cluster.address)
    assert code == 2, err
    summary = json.loads((tmp_path / "fleet-data" / "fleet_summary.json").read_text())
    assert summary["failed"] == ["badconfig", "nologs"]
    assert "nologs: " in out and "missing.log: log file not found" in out
    for name in ("good1", "good2"):
        assert_same_as_plain(run_cli, tmp_path, name)


def _offset(data: Path) -> int:
    try:
        return int(json.loads((data / "machine_state.json").read_text())["source"]["offset"])
    except (OSError, ValueError, KeyError):
        return 0


def test_killing_a_worker_mid_run_still_gives_identical_outputs(tmp_path: Path, run_cli) -> None:
    """The scheduler runs the dead worker's task again on the other worker; it resumes from
    the checkpoint (the OS lock died with the killed process)."""
    fleet = make_fleet(run_cli, tmp_path, 1500, checkpoint_every=0.05)
    cluster = DaskCluster(tmp_path)
    try:
        cluster.start(workers=2)
        code, _, err = run_fleet(fleet, "record", "--scheduler", cluster.address)
        assert code == 0, err
        proc = fleet_cli(fleet, "monitor", "--scheduler", cluster.address)
        pids = {w.pid for w in cluster.workers}

        def mid_run() -> tuple[str, int] | None:
            for name in SOURCES:
                data, size = tmp_path / "fleet-data" / name, shift_logs(tmp_path, name)[0].stat().st_size
                if 0 < _offset(data) < size // 2 and (data / ".logloom.lock").exists():
                    pid = int((data / ".logloom.lock").read_text() or 0)
                    if pid in pids:
                        return name, pid
            return None

        name, pid = wait_for(mid_run, timeout=120, what="a source checkpointed half-way")
        os.kill(pid, signal.SIGKILL)
        killed_at = _offset(tmp_path / "fleet-data" / name)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err + out
        assert killed_at < shift_logs(tmp_path, name)[0].stat().st_size  # it was killed before its end
        summary = json.loads((tmp_path / "fleet-data" / "fleet_summary.json").read_text())
        by_name = {s["name"]: s for s in summary["sources"]}
        assert by_name[name]["worker"].rsplit(":", 1)[1] != str(pid)  # finished by the other worker
    finally:
        cluster.stop()
    for source in SOURCES:
        assert_same_as_plain(run_cli, tmp_path, source)
