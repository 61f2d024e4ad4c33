"""Hot-path benchmark: parse -> engine -> rows on a simulated log of >= 1M lines.

Prints lines per second of each stage cumulatively (parse; parse + engine; the whole
`monitor` with CSV output, checkpoints every second) and the peak RSS of the full
run. Times are CPU seconds of this process (less sensitive to a busy machine than
wall time); the full run also reports wall time.

    .venv/bin/python bench/bench_pipeline.py [--lines 1000000] [--config config] [--reuse]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logloom.config.load import load_config
from logloom.engine.engine import Engine
from logloom.parse.log_parser import LineParser
from logloom.parse.source import LineReader
from logloom.records import Event

ROOT = Path(__file__).resolve().parents[1]


def simulate(config: Path, lines: int, out: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "logloom", "simulate", "--config", str(config), "--out", str(out),
         "--lines", str(lines), "--seed", "1", "--quiet", "--sparse", "0.3", "--drop", "0.005",
         "--garbage", "0.001"],
        check=True,
    )


def stage_parse(config_dir: Path, log: Path, with_engine: bool) -> tuple[int, float]:
    config = load_config(config_dir)
    parser = LineParser(config.patterns)
    engine = Engine(config)
    lines = 0
    start = time.process_time()
    with log.open("rb") as fh:
        for block in LineReader(fh).blocks():
            for text in block.texts():
                lines += 1
                ev = parser.parse(text, lines)
                if with_engine and ev.__class__ is Event:
                    engine.step(ev)  # type: ignore[arg-type]
    return lines, time.process_time() - start


def full_run(config_dir: Path, log: Path) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as data:
        start = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "logloom", "monitor", "--config", str(config_dir), "--data", data,
             "--logs", str(log), "-q"],
            check=True, stderr=subprocess.DEVNULL,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - start
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--config", type=Path, default=ROOT / "config")
    ap.add_argument("--log", type=Path, help="an existing log instead of a simulated one")
    ap.add_argument("--reuse", action="store_true", help="reuse bench/out/pipeline_<lines>.log")
    args = ap.parse_args()
    log = args.log or ROOT / "bench" / "out" / f"pipeline_{args.lines}.log"
    if args.log is None and not (args.reuse and log.exists()):
        log.parent.mkdir(parents=True, exist_ok=True)
        simulate(args.config, args.lines, log)
    size_mb = log.stat().st_size / 1e6
    n, parse_s = stage_parse(args.config, log, with_engine=False)
    _, engine_s = stage_parse(args.config, log, with_engine=True)
    wall, cpu, rss = full_run(args.config, log)
    print(f"log: {log} ({n:,} lines, {size_mb:.0f} MB)")
    print(f"parse only        {n / parse_s:>12,.0f} lines/s (CPU)")
    print(f"parse + engine    {n / engine_s:>12,.0f} lines/s (CPU)")
    print(f"monitor, end to end {n / cpu:>10,.0f} lines/s (CPU), {n / wall:,.0f} lines/s wall, "
          f"{size_mb / wall:.1f} MB/s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
