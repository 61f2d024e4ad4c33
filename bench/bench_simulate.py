"""How fast ``logloom simulate`` writes, and how much memory it holds.

Runs the simulator for each requested size in a fresh child process (so each peak
RSS is that run's own), with the CLI's default options plus any given, and prints
lines per second (wall and CPU), bytes written and the child's peak RSS.

    .venv/bin/python bench/bench_simulate.py                 # 1M and 10M lines
    .venv/bin/python bench/bench_simulate.py --lines 1000000 --extra "--drop 0.05 --sparse 0.3"

The target: at least 200k lines/s, memory flat however long the log.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(lines: int, out: Path, extra: list[str]) -> None:
    """One run in this process; print its numbers as JSON."""
    from click.testing import CliRunner

    from logloom.simulator import simulate_command

    args = ["--out", str(out), "--lines", str(lines), "--quiet", *extra]
    wall, cpu = time.perf_counter(), time.process_time()
    result = CliRunner().invoke(simulate_command, args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if result.exit_code != 0:
        raise SystemExit(result.output)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in out.parent.iterdir())
    print(json.dumps({"lines": lines, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb,
                      "bytes": size}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, action="append",
                    help="sizes to run (repeatable) [default: 1M and 10M]")
    ap.add_argument("--extra", default="", help="more simulate options, as one string")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    extra = shlex.split(args.extra)
    if args.child:
        child(args.child, args.out, extra)
        return
    print(f"{'lines':>12} {'wall s':>8} {'lines/s':>10} {'cpu lines/s':>12} "
          f"{'peak RSS MB':>12} {'MB written':>11}")
    for lines in args.lines or [1_000_000, 10_000_000]:
        with tempfile.TemporaryDirectory(prefix="logloom-bench-sim-") as tmp:
            out = Path(tmp) / "sim.log"
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(lines), "--out", str(out),
                 "--extra", args.extra],
                check=True, capture_output=True, text=True,
            )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{lines:>12,} {r['wall_s']:>8.1f} {lines / r['wall_s']:>10,.0f} "
              f"{lines / r['cpu_s']:>12,.0f} {r['rss_mb']:>12.0f} {r['bytes'] / 1e6:>11.0f}",
              flush=True)


if __name__ == "__main__":
    main()
