"""The Parquet dataset (SPEC 5): its columns, and appends exactly once across kills and resumes."""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.errors import StateFileError
from logloom.outputs.parquet import ParquetSink
from logloom.records import MetricRow
from tests.helpers import EXAMPLE_CONFIG, ROOT, run_without

SCREWDRIVER = ROOT / "examples" / "screwdriver_berlin"


def parquet_rows(root: Path, source: str) -> list[dict]:
    """The rows of a partition, part after part, as Python values."""
    rows: list[dict] = []
    for part in sorted((root / f"source={source}").glob("part-*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def csv_rows(data: Path) -> list[dict]:
    out = []
    for path in sorted(data.glob("process_metrics*.csv")):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                out.append({**r, "value": float(r["value"])})
    return out


def parquet_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


# -- the sink alone: any sequence of writes, checkpoints and kills ------------------------------
def _rows(n: int, seed: int) -> list[tuple[MetricRow, str | None]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ctx = rng.choice(["IDLE", "DISPENSING", "MOVING:inferred"])
        row = MetricRow(1_700_000_000_000_000 + i * 1_500_000, rng.choice(["a", "b"]), "m", round(rng.random(), 6),
                        "s", ctx)
        out.append((row, rng.choice([None, f"P-{i:06d}"])))
    return out


def _write(sink: ParquetSink, rows: list[tuple[MetricRow, str | None]]) -> None:
    if rows:
        sink.write_rows([r for r, _ in rows], [p for _, p in rows])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 90), part_rows=st.integers(1, 25), data=st.data())
def test_killed_anywhere_and_resumed_the_parts_are_those_of_one_run(
    n: int, part_rows: int, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    rows = _rows(n, n * 31 + part_rows)
    whole = tmp_path_factory.mktemp("whole")
    sink = ParquetSink(whole / "pq", "m1", whole / "stage", "Europe/Berlin", None, part_rows=part_rows)
    _write(sink, rows)
    sink.close()

    work = tmp_path_factory.mktemp("killed")
    lengths: dict[str, int] | None = None  # the last durable checkpoint
    done = 0  # rows that checkpoint covers: a resumed run produces the rest again
    for _ in range(data.draw(st.integers(0, 4), label="kills")):
        sink = ParquetSink(work / "pq", "m1", work / "stage", "Europe/Berlin", lengths, part_rows=part_rows)
        pos = done
        for _ in range(data.draw(st.integers(0, 4), label="checkpoints")):
            step = data.draw(st.integers(0, 30), label="rows")
            _write(sink, rows[pos:pos + step])
            pos = min(n, pos + step)
            sink.flush(sync=True)
            lengths, done = sink.lengths(), pos
            sink.committed()
        _write(sink, rows[pos:pos + data.draw(st.integers(0, 30), label="lost rows")])
        if data.draw(st.booleans(), label="flushed before the kill"):
            sink.flush()
        del sink  # kill -9: nothing closed, nothing checkpointed after ``lengths``
    sink = ParquetSink(work / "pq", "m1", work / "stage", "Europe/Berlin", lengths, part_rows=part_rows)
    _write(sink, rows[done:])
    sink.close()
    assert parquet_files(work / "pq") == parquet_files(whole / "pq")
    assert [r["pallet"] for r in parquet_rows(work / "pq", "m1")] == [p for _, p in rows]


def test_a_run_closed_after_its_last_checkpoint_keeps_its_last_part(tmp_path: Path) -> None:
    """monitor checkpoints, then closes the open part: the next run keeps that part and
    starts the next one, and the staging file is removed."""
    rows = _rows(30, 1)
    sink = ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, None, part_rows=100)
    _write(sink, rows[:12])
    sink.flush(sync=True)
    lengths = sink.lengths()
    sink.committed()
    sink.close()
    assert [p.name for p in sink.paths()] == ["part-00001.parquet"]
    assert not list((tmp_path / "stage").rglob("*.arrows"))  # the checkpoint's rows are all in the part
    sink = ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, lengths, part_rows=100)
    _write(sink, rows[12:])
    sink.close()
    assert [p.name for p in sink.paths()] == ["part-00001.parquet", "part-00002.parquet"]
    assert len(parquet_rows(tmp_path / "pq", "m1")) == 30
    assert not list((tmp_path / "stage").rglob("part-00001.arrows"))


def test_a_part_closed_with_rows_after_the_checkpoint_is_written_again_from_staging(tmp_path: Path) -> None:
    """Closed with rows the checkpoint does not know (no final checkpoint), then resumed from
    that checkpoint: the part is not kept, the staging file rebuilds it, nothing is doubled."""
    rows = _rows(40, 3)
    whole = ParquetSink(tmp_path / "whole", "m1", tmp_path / "whole_stage", None, None, part_rows=100)
    _write(whole, rows)
    whole.close()
    sink = ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, None, part_rows=100)
    _write(sink, rows[:15])
    sink.flush(sync=True)
    lengths = sink.lengths()
    sink.committed()
    _write(sink, rows[15:22])
    sink.close()
    assert list((tmp_path / "stage").rglob("part-00001.arrows"))  # still needed
    sink = ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, lengths, part_rows=100)
    _write(sink, rows[15:])
    sink.close()
    assert parquet_files(tmp_path / "pq") == parquet_files(tmp_path / "whole")


def test_a_closed_part_changed_behind_its_back_is_a_clear_error(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, None, part_rows=5)
    _write(sink, _rows(7, 2))
    sink.flush(sync=True)
    lengths = sink.lengths()
    (tmp_path / "pq" / "source=m1" / "part-00001.parquet").write_bytes(b"PAR1")
    with pytest.raises(StateFileError, match=r"part-00001\.parquet: 4 bytes, the checkpoint recorded"):
        ParquetSink(tmp_path / "pq", "m1", tmp_path / "stage", None, lengths, part_rows=5)


# -- monitor --parquet end to end ----------------------------------------------------------------
def _monitor(run_cli, config: Path, data: Path, log: Path, *extra: str) -> None:
    code, _, err = run_cli("monitor", "--config", config, "--data", data, "--logs", log, "-q", "--parquet", *extra)
    assert code == 0, err


def test_columns_are_the_csvs_with_a_zoned_timestamp_inferred_and_pallet(tmp_path: Path, run_cli) -> None:
    """A strptime log in Europe/Berlin across the spring DST change (not the simulator's format)."""
    data = tmp_path / "d"
    _monitor(run_cli, SCREWDRIVER / "config", data, SCREWDRIVER / "input.log")
    table = ds.dataset(data / "parquet", format="parquet", partitioning="hive").to_table()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="Europe/Berlin")
    assert table.schema.field("inferred").type == pa.bool_()
    expected = csv_rows(data)
    assert len(expected) == table.num_rows > 0
    for got, want in zip(table.to_pylist(), expected, strict=True):
        assert got["timestamp"] == datetime.fromisoformat(want["timestamp"])
        assert got["timestamp"].isoformat() == want["timestamp"]
        assert {k: got[k] for k in want if k != "timestamp"} == {k: v for k, v in want.items() if k != "timestamp"}
        assert got["inferred"] == want["state_context"].endswith(":inferred")
        assert got["source"] == "input"


def test_pallets_and_naive_times_of_the_simulated_line(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "shift.log"
    assert run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", log, "--quiet", "--cycles", "40",
                   "--drop", "0.05", "--seed", "4")[0] == 0
    data = tmp_path / "d"
    _monitor(run_cli, EXAMPLE_CONFIG, data, log, "--parquet-part-rows", "300")
    got = parquet_rows(data / "parquet", "shift")
    want = csv_rows(data)
    assert [r["timestamp"].isoformat() for r in got] == [r["timestamp"] for r in want]
    assert any(r["inferred"] for r in got) and not all(r["inferred"] for r in got)
    # the dispensers' rows carry the pallet they worked on, as the log named it
    pallets = {r["pallet"] for r in got if r["component_id"] == "l1_dispenser"}
    assert len(pallets) > 30 and all(p.startswith("P-") for p in pallets)
    assert len(list((data / "parquet" / "source=shift").glob("part-*.parquet"))) == -(-len(want) // 300)


def _spawn(data: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data),
           "--logs", str(log), "-q", "--parquet", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def test_sigkill_at_random_instants_gives_the_parquet_files_of_one_run(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "big.log"
    assert run_cli("simulate", "--config", EXAMPLE_CONFIG, "--out", log, "--quiet", "--cycles", "3000",
                   "--seed", "12", "--sparse", "0.3", "--drop", "0.01")[0] == 0
    whole, data = tmp_path / "whole", tmp_path / "killed"
    extra = ("--parquet-part-rows", "7000")
    assert _spawn(whole, log, *extra).wait(timeout=120) == 0
    rng = random.Random(17)
    size, kills = log.stat().st_size, 0
    for _ in range(30):
        proc = _spawn(data, log, *extra, "--checkpoint-every", "0.05", rng.choice(["--serial", "--parallel"]))
        target = _offset(data) + rng.uniform(0.1, 0.3) * size  # killed once it got this far
        deadline = time.monotonic() + 120
        while proc.poll() is None and _offset(data) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        break
    else:
        raise AssertionError("monitor never finished between kills")
    assert kills >= 2
    assert len(parquet_files(whole / "parquet")) > 3
    assert parquet_files(data / "parquet") == parquet_files(whole / "parquet")
    assert (data / "process_metrics.csv").read_bytes() == (whole / "process_metrics.csv").read_bytes()


def _offset(data: Path) -> int:
    try:
        return int(json.loads((data / "machine_state.json").read_text())["source"]["offset"])
    except (OSError, ValueError, KeyError):
        return 0


def test_without_pyarrow_parquet_says_how_to_install_it(tmp_path: Path) -> None:
    done = run_without(("pyarrow",), "monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path,
                       "--logs", ROOT / "data" / "machine_logs.txt", "-q", "--parquet")
    assert done.returncode == 2, done.stderr
    assert "pip install 'logloom[fleet]'" in done.stderr and "Traceback" not in done.stderr
