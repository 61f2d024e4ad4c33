"""The fleet on Dask: N sources of M lines on LocalCluster(W workers) against one after another.

Measures, on the same simulated logs (one seed per source):
  - one after another: `logloom monitor --parquet --serial` per source (a fleet task's code
    path: one core), and `logloom monitor --parquet` (its default, a parse worker beside it);
  - the fleet: LocalCluster(W processes, one thread each), one task per source, as
    `logloom fleet monitor` runs them (fleet.cluster.connect / execute);
  - memory: each worker's peak RSS (getrusage in the worker, after the run);
  - the scheduler's overhead per task: no-op tasks submitted in a batch and one at a time,
    and logloom's fixed cost of a source (a fleet of sources of 10 lines each).
Wall and CPU (user+sys of this process's children: the runs, the cluster's processes) are
both printed with the load average: the machine is shared, so wall is noisy.

    .venv/bin/python bench/bench_fleet.py [--sources 8] [--lines 1000000] [--workers 2] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logloom.fleet import cluster
from logloom.fleet.runner import jobs
from logloom.fleet.spec import load_fleet

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "fleet"


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + s.ru_utime + s.ru_stime


def simulate(n: int, lines: int, reuse: bool) -> list[Path]:
    logs = []
    for i in range(n):
        log = OUT / f"src{i}_{lines}.log"
        if not (reuse and log.exists()):
            log.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "logloom", "simulate", "--config", str(ROOT / "config"),
                            "--out", str(log), "--lines", str(lines), "--seed", str(i + 1), "--sparse", "0.2",
                            "--quiet"], check=True)
        logs.append(log)
    return logs


def write_fleet(work: Path, logs: list[Path]) -> Path:
    lines = ["data: data", "sources:"]
    lines += [f"  - {{name: s{i}, config: {ROOT / 'config'}, logs: {log}}}" for i, log in enumerate(logs)]
    fleet = work / "fleet.yaml"
    fleet.write_text("\n".join(lines) + "\n")
    return fleet


def one_after_another(logs: list[Path], mode: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as work:
        cpu0, t0 = cpu_children(), time.monotonic()
        for i, log in enumerate(logs):
            subprocess.run([sys.executable, "-m", "logloom", "monitor", "--config", str(ROOT / "config"), "--data",
                            f"{work}/s{i}", "--logs", str(log), "-q", "--parquet", mode], check=True,
                           stderr=subprocess.DEVNULL)
        return time.monotonic() - t0, cpu_children() - cpu0


def _peak_rss_mb() -> float:
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024


def _noop() -> None:
    return None


def _cpu_s() -> float:
    import resource as r

    u = r.getrusage(r.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def fleet_run(logs: list[Path], workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as work:
        fleet = load_fleet(write_fleet(Path(work), logs))
        cpu0, t0 = cpu_children(), time.monotonic()
        with cluster.connect(None, workers, len(logs)) as client:
            started = time.monotonic()
            rss_before = client.run(_peak_rss_mb)
            cpu_before = client.run(_cpu_s)
            t1 = time.monotonic()
            outcomes = cluster.execute(client, jobs(fleet, "monitor"), lambda line: None)
            run_wall = time.monotonic() - t1
            rss = client.run(_peak_rss_mb)
            cpu_after = client.run(_cpu_s)
            worker_cpu = sum(cpu_after[w] - cpu_before[w] for w in cpu_before)
            # the scheduler's overhead per task: no-op tasks, in a batch and one at a time
            t2 = time.monotonic()
            client.gather([client.submit(cluster.run_call, _noop, pure=False) for _ in range(500)])
            batch = (time.monotonic() - t2) / 500
            t3 = time.monotonic()
            for _ in range(100):
                client.submit(cluster.run_call, _noop, pure=False).result()
            single = (time.monotonic() - t3) / 100
            tiny = _tiny_sources(client, Path(work), logs[0], 40)
        wall = time.monotonic() - t0
        cpu = cpu_children() - cpu0
    failed = [o.name for o in outcomes if o.status != "done"]
    if failed:
        raise SystemExit(f"sources failed: {failed}: {[o.error for o in outcomes if o.status != 'done']}")
    return {"wall_total": wall, "cpu_total": cpu, "start_s": started - t0, "run_wall": run_wall,
            "task_walls": [o.wall_s for o in outcomes], "lines": sum(o.counts["lines_read"] for o in outcomes),
            "rows": sum(o.counts["rows_written"] for o in outcomes),
            "rss_before": rss_before, "rss": rss, "worker_cpu": worker_cpu,
            "noop_batch_s": batch, "noop_single_s": single, "tiny": tiny}


def _tiny_sources(client: object, work: Path, sample: Path, n: int) -> float:
    """logloom's fixed cost of a source: a fleet of ``n`` sources of 10 lines each, per source."""
    tiny = work / "tiny"
    tiny.mkdir()
    with sample.open("rb") as fh:
        (tiny / "tiny.log").write_bytes(b"".join(fh.readline() for _ in range(10)))
    fleet = load_fleet(write_fleet(tiny, [tiny / "tiny.log"] * n))
    t0 = time.monotonic()
    cluster.execute(client, jobs(fleet, "monitor"), lambda line: None)
    return (time.monotonic() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=8)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="keep logs already simulated in bench/out/fleet/")
    ap.add_argument("--skip-sequential", action="store_true")
    args = ap.parse_args()
    logs = simulate(args.sources, args.lines, args.reuse)
    size = sum(p.stat().st_size for p in logs)
    print(f"{args.sources} sources x {args.lines:,} lines ({size / 1e6:,.0f} MB), {os.cpu_count()} cores, "
          f"load average before {os.getloadavg()[0]:.1f}")
    if not args.skip_sequential:
        for mode in ("--serial", "--parallel"):
            wall, cpu = one_after_another(logs, mode)
            print(f"one after another, monitor --parquet {mode:10}: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
                  f"{args.sources * args.lines / wall:10,.0f} lines/s (load {os.getloadavg()[0]:.1f})")
    r = fleet_run(logs, args.workers)
    walls = r["task_walls"]
    assert isinstance(walls, list)
    print(f"fleet, LocalCluster({args.workers} workers): {r['run_wall']:7.1f} s wall for the tasks "
          f"({r['wall_total']:.1f} s with the cluster's start {r['start_s']:.1f} s and the overhead probes), "
          f"{r['cpu_total']:.1f} s CPU in all; {r['lines']:,} lines, {r['rows']:,} rows, "
          f"{r['lines'] / r['run_wall']:,.0f} lines/s (load {os.getloadavg()[0]:.1f})")
    print(f"  task wall: min {min(walls):.1f} s, max {max(walls):.1f} s, sum {sum(walls):.1f} s "
          f"({args.lines / (sum(walls) / len(walls)):,.0f} lines/s per task); the workers' CPU during the run "
          f"{r['worker_cpu']:.1f} s ({r['worker_cpu'] / args.sources:.2f} s a source)")  # type: ignore[operator]
    print(f"  peak RSS per worker: {', '.join(f'{v:.0f} MB' for v in r['rss'].values())} "  # type: ignore[attr-defined]
          f"(idle worker before the run: {', '.join(f'{v:.0f} MB' for v in r['rss_before'].values())})")  # type: ignore[attr-defined]
    print(f"  scheduler overhead per task: {1000 * r['noop_batch_s']:.2f} ms (500 no-op tasks in a batch), "  # type: ignore[operator]
          f"{1000 * r['noop_single_s']:.2f} ms (one at a time, round trip); "  # type: ignore[operator]
          f"a source of 10 lines costs {1000 * r['tiny']:.0f} ms of wall per source (40 of them on the cluster)")  # type: ignore[operator]


if __name__ == "__main__":
    main()
