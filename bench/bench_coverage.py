"""`logloom coverage` against `logloom monitor` on the same log: the target is coverage
within 2x monitor's time.

Makes (or with --reuse, reuses) bench/out/pipeline_<lines>.log exactly as
bench_pipeline.py does (``simulate --seed 1 --sparse 0.3 --drop 0.005 --garbage 0.001``,
the simulator's 10 % noise), a noise-heavy one (``--noise 0.6``: most lines are
unmatched) and bench/foreign_log.py's screwing line (semicolon fields, 63 % noise with
counters in nearly every line: few texts repeat). Each tool runs as its own process on
each log, ``--repeat`` times; the best run counts. Times are CPU seconds (user + sys of
the process and its children: monitor parses large files in a second process) and wall
seconds; the machine is shared, so CPU is the figure to compare. Peak RSS is the
process's (wait4).

    .venv/bin/python bench/bench_coverage.py [--lines 1000000] [--repeat 3] [--reuse]
    .venv/bin/python bench/bench_coverage.py --log my.log --config my/config   # any log
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

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
LOGLOOM = [sys.executable, "-m", "logloom"]


def simulate(config: Path, lines: int, out: Path, noise: float | None) -> None:
    args = [*LOGLOOM, "simulate", "--config", str(config), "--out", str(out), "--lines", str(lines), "--seed", "1",
            "--quiet", "--sparse", "0.3", "--drop", "0.005", "--garbage", "0.001"]
    if noise is not None:
        args += ["--noise", str(noise)]
    subprocess.run(args, check=True)


def timed(args: list[str]) -> tuple[float, float, float]:
    """(CPU seconds of the process itself, wall seconds, peak RSS MB) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def best(args: list[str], repeat: int, fresh_data: bool) -> tuple[float, float, float]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as data:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu, wall, rss = timed([*args, "--data", data] if fresh_data else args)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # wait4 reports the process alone; its own children (the parse worker) are in RUSAGE_CHILDREN
            grand = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) - cpu
            runs.append((cpu + max(grand, 0.0), wall, rss))
    return min(runs)


def compare(label: str, config: Path, log: Path, repeat: int) -> None:
    lines = sum(1 for _ in log.open("rb"))
    monitor = best([*LOGLOOM, "monitor", "--config", str(config), "--logs", str(log), "-q"], repeat, True)
    coverage = best([*LOGLOOM, "coverage", "--config", str(config), "--logs", str(log), "-q", "--json"],
                    repeat, False)
    print(f"{label}: {log.name}, {lines:,} lines")
    for name, (cpu, wall, rss) in (("monitor", monitor), ("coverage", coverage)):
        print(f"  {name:<9} {cpu:6.2f} s CPU  {wall:6.2f} s wall  {lines / cpu:>10,.0f} lines/s (CPU)  "
              f"peak RSS {rss:.0f} MB")
    print(f"  coverage / monitor: {coverage[0] / monitor[0]:.2f}x CPU, {coverage[1] / monitor[1]:.2f}x wall "
          "(target: at most 2x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--config", type=Path, default=ROOT / "config")
    ap.add_argument("--log", type=Path, help="an existing log (with --config) instead of simulated ones")
    ap.add_argument("--reuse", action="store_true", help="reuse the logs in bench/out/")
    args = ap.parse_args()
    if args.log is not None:
        compare("given log", args.config, args.log, args.repeat)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for label, noise, name in (("simulated shift (10 % noise)", None, f"pipeline_{args.lines}.log"),
                               ("noise-heavy (60 % noise)", 0.6, f"coverage_noise60_{args.lines}.log")):
        log = OUT / name
        if not (args.reuse and log.exists()):
            simulate(args.config, args.lines, log, noise)
        compare(label, args.config, log, args.repeat)
    foreign = OUT / f"foreign_{args.lines}.log"
    if not (args.reuse and foreign.exists()):
        subprocess.run([sys.executable, str(ROOT / "bench" / "foreign_log.py"), "--out", str(foreign),
                        "--lines", str(args.lines)], check=True)
    compare("a PLC log unlike the simulator's (bench/foreign_log.py, 63 % noise)",
            ROOT / "bench" / "foreign" / "config", foreign, args.repeat)


if __name__ == "__main__":
    main()
