"""What durability costs: monitor with checkpoints every 0.1 s, every 1 s (the default)
and practically never (60 s), on the same log; prints wall and CPU seconds and the
cost relative to the run without checkpoints. Best of --repeat runs each.

    .venv/bin/python bench/bench_checkpoint.py [--lines 1000000] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(log: Path, every: float, mode: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as data:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child execs
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # the "no active baseline" warning
            os.execv(sys.executable, [sys.executable, "-m", "logloom", "monitor", "--config", str(ROOT / "config"),
                                      "--data", data, "--logs", str(log), "-q", mode,
                                      "--checkpoint-every", str(every)])
        _, status, usage = os.wait4(pid, 0)
        if status != 0:
            raise SystemExit(f"monitor failed with status {status}")
        return time.monotonic() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mode", choices=["--serial", "--parallel"], default="--serial")
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    log = ROOT / "bench" / "out" / f"pipeline_{args.lines}.log"
    if not (args.reuse and log.exists()):
        log.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "logloom", "simulate", "--config", str(ROOT / "config"), "--out",
                        str(log), "--lines", str(args.lines), "--seed", "1", "--quiet"], check=True)
    results = {}
    for every in (60.0, 1.0, 0.1):
        runs = [run_once(log, every, args.mode) for _ in range(args.repeat)]
        results[every] = (min(r[0] for r in runs), min(r[1] for r in runs))
    base_wall, base_cpu = results[60.0]
    print(f"{args.lines:,} lines, {args.mode[2:]}, best of {args.repeat}")
    for every, (wall, cpu) in results.items():
        print(f"checkpoint every {every:>5} s: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
              f"cost {100 * (wall / base_wall - 1):+5.1f} % wall, {100 * (cpu / base_cpu - 1):+5.1f} % CPU")


if __name__ == "__main__":
    main()
