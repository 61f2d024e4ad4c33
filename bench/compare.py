"""logloom end to end against its peers and the limits of reading, on one machine.

For each size, makes (or with --reuse, reuses) a log of the bundled line in
bench/out/ with ``logloom simulate --lines N --seed 1``, then runs, each as its own
process (wall seconds; peak RSS from wait4's rusage of that process):

- the reading limits: ``wc -l``, a bare Python line loop over bytes and over text;
- ``mtail --one_shot`` with bench/mtail/dispense_line.mtail (the same patterns,
  per-station durations into histograms);
- the pandas script a user would write (bench/pandas_peer.py), when pandas is
  installed and the log fits comfortably in memory;
- ``logloom monitor`` with a fresh --data dir: pinned to one core, unpinned, and
  pinned with an active baseline (so every row is also scored).

Every run's output is checked (lines counted equal the lines of the log) before its
time counts. Pinned runs use ``taskset -c 0``; the ratio is mtail's seconds over the
tool's, against mtail pinned or unpinned alike. Prints the table and writes
docs/benchmarks.md with the date and machine.

    .venv/bin/python bench/compare.py                     # 1M and 10M lines, best of 3
    .venv/bin/python bench/compare.py --sizes 1000000 --repeat 1 --reuse --skip-pandas

Targets: end to end >= 3x mtail's speed (goal 10x); peak RSS < 150 MB at 10M lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "config"
PY = sys.executable
LOGLOOM = str(Path(PY).with_name("logloom"))
MTAIL_PROGS = ROOT / "bench" / "mtail"
DOC = ROOT / "docs" / "benchmarks.md"
PIN = ["taskset", "-c", "0"]
PANDAS_BYTES_PER_LINE = 600  # measured: ~560 MB peak RSS at 1M lines
SPEED_TARGET, SPEED_GOAL, RSS_TARGET_MB = 3.0, 10.0, 150.0

Check = Callable[[str, int], None]


@dataclass(frozen=True)
class Tool:
    """One way of reading the log; ``argv`` takes the log and a scratch dir."""

    name: str
    argv: Callable[[Path, Path], list[str]]
    pinned: bool
    check: Check
    prepare: Callable[[Path], None] | None = None


@dataclass(frozen=True)
class Result:
    tool: str
    pinned: bool
    lines: int
    size_bytes: int
    seconds: float
    cpu_seconds: float
    rss_mb: float

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.size_bytes / 1e6 / self.seconds


# ---------------------------------------------------------------- output checks


def expect_number(pattern: str) -> Check:
    """A check that the output holds ``pattern``'s number and it equals the lines."""

    def check(stdout: str, lines: int) -> None:
        m = re.search(pattern, stdout, re.MULTILINE)
        if m is None or int(float(m.group(1))) != lines:
            found = m.group(1) if m else "nothing"
            raise RuntimeError(f"expected {lines} lines for /{pattern}/, found {found}")

    return check


def no_check(stdout: str, lines: int) -> None:
    """The bare loops print nothing to check."""


def check_logloom(scratch: Path) -> Check:
    def check(stdout: str, lines: int) -> None:
        summary = json.loads((scratch / "data" / "run_summary.json").read_text())
        if summary["lines_read"] != lines or summary["rows_written"] == 0:
            raise RuntimeError(f"logloom read {summary['lines_read']} of {lines} lines")

    return check


# ---------------------------------------------------------------- the tools


def mtail_argv(log: Path, scratch: Path) -> list[str]:
    return ["mtail", "--one_shot", "--one_shot_format", "prometheus", "--logtostderr",
            "--port", "0", "--progs", str(MTAIL_PROGS), "--logs", str(log)]


def logloom_argv(log: Path, scratch: Path) -> list[str]:
    return [LOGLOOM, "monitor", "--config", str(CONFIG), "--data", str(scratch / "data"),
            "--logs", str(log), "-q"]


def fresh_data(scratch: Path) -> None:
    shutil.rmtree(scratch / "data", ignore_errors=True)


def fresh_data_with_baseline(baseline: Path) -> Callable[[Path], None]:
    def prepare(scratch: Path) -> None:
        fresh_data(scratch)
        (scratch / "data").mkdir(parents=True)
        shutil.copy(baseline, scratch / "data" / "process_baseline.json")

    return prepare


def loop_argv(text: bool) -> Callable[[Path, Path], list[str]]:
    mode = "encoding='utf-8', errors='replace'" if text else "'rb'"
    return lambda log, _: [PY, "-c", f"for line in open({str(log)!r}, {mode}): pass"]


def tools(scratch: Path, baseline: Path | None, pandas: bool) -> list[Tool]:
    """Every run for one log, the reading limits first and mtail before its ratios."""
    lines_total = r"^lines_total\{[^}]*\} (\S+)"
    found: list[Tool] = [
        Tool("wc -l", lambda log, _: ["wc", "-l", str(log)], True, expect_number(r"^(\d+) ")),
        Tool("python loop (bytes)", loop_argv(False), True, no_check),
        Tool("python loop (text)", loop_argv(True), True, no_check),
        Tool("mtail --one_shot", mtail_argv, True, expect_number(lines_total)),
        Tool("mtail --one_shot", mtail_argv, False, expect_number(lines_total)),
    ]
    if pandas:
        found.append(Tool("pandas peer", lambda log, _: [
            PY, str(ROOT / "bench" / "pandas_peer.py"), str(log), "--config", str(CONFIG)],
            True, expect_number(r"^lines (\d+)")))
    check = check_logloom(scratch)
    found += [Tool("logloom monitor", logloom_argv, True, check, fresh_data),
              Tool("logloom monitor", logloom_argv, False, check, fresh_data)]
    if baseline is not None:
        found.append(Tool("logloom monitor, scored", logloom_argv, True, check,
                          fresh_data_with_baseline(baseline)))
    return found


# ---------------------------------------------------------------- measuring


def run_once(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS in MB and stdout of one child process."""
    with open(OUT / "stdout.txt", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (OUT / "stderr.txt").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, (OUT / "stdout.txt").read_text(errors="replace")


def measure(tool: Tool, log: Path, lines: int, scratch: Path, repeat: int) -> Result:
    """Best wall and CPU time of ``repeat`` checked runs, and the largest peak RSS seen."""
    best, best_cpu, rss = float("inf"), float("inf"), 0.0
    for _ in range(repeat):
        if tool.prepare:
            tool.prepare(scratch)
        argv = tool.argv(log, scratch)
        seconds, cpu, peak, stdout = run_once(PIN + argv if tool.pinned else argv)
        tool.check(stdout, lines)
        best, best_cpu, rss = min(best, seconds), min(best_cpu, cpu), max(rss, peak)
    return Result(tool.name, tool.pinned, lines, log.stat().st_size, best, best_cpu, rss)


# ---------------------------------------------------------------- logs and baseline


def ensure_log(lines: int, reuse: bool) -> Path:
    """bench/out/log_N.log from the simulator (only the log is kept)."""
    log = OUT / f"log_{lines}.log"
    if reuse and log.exists():
        return log
    print(f"simulating {lines:,} lines -> {log.relative_to(ROOT)}", flush=True)
    subprocess.run([LOGLOOM, "simulate", "--config", str(CONFIG), "--out", str(log),
                    "--lines", str(lines), "--seed", "1", "--quiet"], check=True)
    for side in OUT.glob(f"{log.name}.*.csv"):
        side.unlink()
    return log


def record_baseline(log: Path, scratch: Path) -> Path:
    """A baseline recorded (untimed) on ``log``, for the scored monitor runs."""
    data = scratch / "baseline"
    shutil.rmtree(data, ignore_errors=True)
    print(f"recording a baseline on {log.name} (not timed)", flush=True)
    subprocess.run([LOGLOOM, "record", "--config", str(CONFIG), "--data", str(data),
                    "--logs", str(log), "-q"], check=True, stdout=subprocess.DEVNULL)
    return data / "process_baseline.json"


def pandas_fits(lines: int) -> bool:
    """Whether the pandas peer's estimated peak stays under half the available memory."""
    avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return lines * PANDAS_BYTES_PER_LINE < avail / 2


# ---------------------------------------------------------------- reporting


def label(r: Result | Tool) -> str:
    name = r.tool if isinstance(r, Result) else r.name
    return f"{name} ({'1 core' if r.pinned else '2 cores'})"


def mtail_peer(r: Result, results: list[Result]) -> Result | None:
    """mtail's result on the same log, pinned the same way."""
    return next((m for m in results if m.tool.startswith("mtail") and m.pinned == r.pinned
                 and m.lines == r.lines), None)


def ratios(r: Result, results: list[Result]) -> str:
    """mtail's wall and CPU seconds over this tool's, as two table cells."""
    ref = mtail_peer(r, results)
    if ref is None:
        return "- | -"
    return f"{ref.seconds / r.seconds:.2f}x | {ref.cpu_seconds / max(r.cpu_seconds, 1e-3):.2f}x"


def table(results: list[Result]) -> list[str]:
    head = ("| tool | lines | seconds | CPU s | lines/s | MB/s | peak RSS MB | speed vs mtail "
            "| CPU vs mtail |")
    rows = [head, "|" + "---|" * 9]
    for r in results:
        rows.append(f"| {label(r)} | {r.lines:,} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | "
                    f"{r.lines_per_s:,.0f} | "
                    f"{r.mb_per_s:.1f} | {r.rss_mb:.0f} | {ratios(r, results)} |")
    return rows


def verdicts(results: list[Result]) -> list[str]:
    """The issue's targets, per size, for logloom monitor on one core and unpinned."""
    out = []
    for r in results:
        if r.tool != "logloom monitor":
            continue
        mtail = mtail_peer(r, results)
        if mtail is None:
            continue
        speed = mtail.seconds / r.seconds
        mark = "goal met" if speed >= SPEED_GOAL else "met" if speed >= SPEED_TARGET else "NOT met"
        rss = "met" if r.rss_mb < RSS_TARGET_MB else "NOT met"
        out.append(f"- {label(r)}, {r.lines:,} lines: speed {speed:.2f}x mtail "
                   f"({mtail.cpu_seconds / r.cpu_seconds:.2f}x in CPU time) "
                   f"(target {SPEED_TARGET:g}x, goal {SPEED_GOAL:g}x): {mark}; "
                   f"peak RSS {r.rss_mb:.0f} MB (target < {RSS_TARGET_MB:g} MB"
                   f"{' at 10M lines' if r.lines < 10_000_000 else ''}): {rss}")
    return out


def command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(load_before: float) -> list[str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in command_output(["lscpu"]).splitlines()
                if ln.startswith("Model name")), platform.processor())
    mem_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return [f"- date: {datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- machine: `{command_output(['uname', '-a'])}`",
            f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem_gb:.0f} GiB; load average "
            f"(1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
            f"- Python: {platform.python_version()}; "
            f"mtail: {command_output(['mtail', '--version']).split(' git')[0]}; "
            f"logloom at commit {commit()}"]


def commit() -> str:
    """HEAD's short hash, and whether src/ differs from it (the package is installed editable)."""
    git = ["git", "-C", str(ROOT)]
    head = command_output([*git, "rev-parse", "--short", "HEAD"])
    dirty = command_output([*git, "status", "--porcelain", "--", "src"])
    return f"{head} with uncommitted changes in src/" if dirty else head


def write_doc(results: list[Result], notes: list[str], repeat: int, load_before: float) -> None:
    intro = [
        "# Benchmarks",
        "",
        "logloom end to end (`monitor`, fresh data directory) against mtail, the pandas",
        "script a user would write instead, and the limits of reading the file at all, on",
        "logs of the bundled line from `logloom simulate --lines N --seed 1`. Each tool",
        f"runs as its own process; seconds are wall time, best of {repeat}; CPU s is user +",
        "system time (best of the same runs: steadier than wall time when the machine is",
        "shared); peak RSS is the process's maximum resident set (largest of the runs).",
        "\"1 core\" runs are pinned with `taskset -c 0`;",
        "the speed ratios are mtail's wall (and CPU) seconds over the tool's, mtail pinned",
        "alike.",
        "Written by `bench/compare.py`; numbers from one machine, shared with other work.",
        "",
        *machine(load_before),
        "",
        "## Results",
        "",
        *table(results),
        "",
        "## Targets",
        "",
        *verdicts(results),
        "",
        "## What each peer does",
        "",
        "- **mtail** (`bench/mtail/dispense_line.mtail`, run as `mtail --one_shot",
        "  --one_shot_format prometheus --logtostderr --port 0 --progs bench/mtail --logs LOG`):",
        "  every line's timestamp parsed with `strptime`, the patterns of",
        "  `config/log_patterns.yaml` tried in order (first match wins), the entry time of",
        "  each state kept in hidden maps by station, durations into histograms. It has no",
        "  state machines: it cannot route the sparse `Process finished` line, jump over",
        "  lost lines, check guards or score against a baseline.",
        "- **pandas peer** (`bench/pandas_peer.py`): the whole log in a Series,",
        "  `str.extract` of the timestamp and of each pattern, `groupby(station).diff()`",
        "  of event times. Holds everything in memory.",
        "- **python loop**: `for line in open(f, 'rb'): pass`, and the same decoding UTF-8.",
        "- On a small log all three (logloom, mtail, pandas) give the same count and sum of",
        "  every duration metric per station.",
        "",
        *([*notes, ""] if notes else []),
        "## Reproduce",
        "",
        "```sh",
        "apt-get install mtail               # the Debian package",
        ".venv/bin/pip install pandas        # optional, bench only (else --skip-pandas)",
        ".venv/bin/python bench/compare.py   # --sizes 1000000,10000000 --repeat 3 --reuse",
        "```",
        "",
        "Logs and scratch data go to `bench/out/` (gitignored; the 10M-line log is ~600 MB).",
        "",
    ]
    DOC.write_text("\n".join(intro))


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,10000000",
                    help="comma-separated line counts [default: %(default)s]")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs [default: 3]")
    ap.add_argument("--reuse", action="store_true", help="reuse logs already in bench/out/")
    ap.add_argument("--skip-pandas", action="store_true", help="leave out the pandas peer")
    ap.add_argument("--no-scored", action="store_true",
                    help="leave out the monitor run with an active baseline")
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    return ap.parse_args()


def pandas_plan(args: argparse.Namespace, notes: list[str]) -> bool:
    if args.skip_pandas:
        notes.append("The pandas peer was left out (--skip-pandas).")
        return False
    if find_spec("pandas") is None:
        notes.append("The pandas peer was left out: pandas is not installed "
                     "(`.venv/bin/pip install pandas`; it is not a dependency of logloom).")
        return False
    return True


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    scratch = OUT / "scratch"
    notes: list[str] = []
    with_pandas = pandas_plan(args, notes)
    logs = {n: ensure_log(n, args.reuse) for n in sizes}
    baseline = None if args.no_scored else record_baseline(logs[min(sizes)], scratch)
    if baseline is not None:
        notes.append(f"The scored run's baseline was recorded on the {min(sizes):,}-line log.")
    results: list[Result] = []
    for n, log in logs.items():
        fits = with_pandas and pandas_fits(n)
        if with_pandas and not fits:
            notes.append(f"The pandas peer was left out at {n:,} lines: it would not fit in memory.")
        for tool in tools(scratch, baseline, fits):
            print(f"{n:>12,}  {label(tool)} ...", end=" ", flush=True)
            r = measure(tool, log, n, scratch, args.repeat)
            results.append(r)
            print(f"{r.seconds:.2f} s ({r.cpu_seconds:.2f} s CPU), {r.lines_per_s:,.0f} lines/s, "
                  f"{r.rss_mb:.0f} MB", flush=True)
    print("\n".join(["", *table(results), "", *verdicts(results), *notes]))
    if not args.no_doc:
        write_doc(results, notes, args.repeat, load_before)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
