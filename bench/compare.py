"""logloom end to end against its peers and the limits of reading, on one machine.

For each size, makes (or with --reuse, reuses) a log of the bundled line in
bench/out/ with ``logloom simulate --lines N --seed 1``, and from it the same log
with every timestamp rewritten as ``%d.%m.%Y %H:%M:%S,%f`` (the simulator writes
ISO). Then runs, each as its own process (wall seconds; peak RSS from wait4's
rusage of that process):

- the reading limits: ``wc -l``, a bare Python line loop over bytes and over text;
- ``mtail --one_shot`` with bench/mtail/dispense_line.mtail (the same patterns,
  per-station durations into histograms), pinned to one core and unpinned;
- the pandas script a user would write (bench/pandas_peer.py), when pandas is
  installed and the log fits comfortably in memory;
- ``logloom monitor`` with a fresh --data dir: pinned to one core and unpinned,
  each without and with an active baseline (so every row is also scored), and
  unpinned on the rewritten log with a copy of config/ whose timestamp format is
  that strptime format (written to bench/out/; its metrics must equal the ISO run's).

Before timing, logloom's modules are compiled to bytecode, as ``pip install`` leaves
them: here the package is installed editable and PYTHONDONTWRITEBYTECODE is set, so
every run would otherwise compile them again.

Every run's output is checked (lines counted equal the lines of the log) before its
time counts. Pinned runs use ``taskset -c 0``. The ratios are mtail's seconds over
the tool's, mtail's reference being its fastest run (wall time) on the same log,
pinned or not; the CPU ratio takes that run's CPU seconds. Prints the table and
writes docs/benchmarks.md with the date and machine.

    .venv/bin/python bench/compare.py                     # 1M and 10M lines, best of 3
    .venv/bin/python bench/compare.py --sizes 1000000 --repeat 1 --reuse --skip-pandas

Targets: end to end >= 3x mtail's speed (goal 10x); peak RSS < 150 MB at 10M lines;
scoring costs at most 15 % of the throughput (issue #4).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
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
SPEED_TARGET, SPEED_GOAL, RSS_TARGET_MB = 3.0, 10.0, 150.0  # issue #12: the foreign log >= 3x
BUNDLED_TARGET = 5.0  # issue #12: the bundled log >= 5x mtail's best on 2 cores
FOREIGN_MTAIL = ROOT / "bench" / "foreign" / "mtail"
FOREIGN_CONFIG = ROOT / "bench" / "foreign" / "config"
PURE = "logloom monitor, pure Python"  # LOGLOOM_PURE_PYTHON=1: no hyperscan
SCORING_BUDGET = 0.15  # issue #4: scoring costs at most this share of the throughput

MONITOR = "logloom monitor"
SCORED = "logloom monitor, scored"
STRPTIME = "logloom monitor, strptime format"

# The simulator's ISO stamp (2026-01-21 06:00:35.195) -> 21.01.2026 06:00:35,195
TO_STRPTIME_SED = r"s/^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9:]{8})\.([0-9]+)/\3.\2.\1 \4,\5/"
STRPTIME_FORMAT = "%d.%m.%Y %H:%M:%S,%f"
STRPTIME_REGEX = r"^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d+)"

Check = Callable[[str, int], None]


@dataclass(frozen=True)
class Tool:
    """One way of reading the log; ``argv`` takes the log and a scratch dir.

    ``log``, when set, is read instead of the size's log: a variant with the same lines.
    """

    name: str
    argv: Callable[[Path, Path], list[str]]
    pinned: bool
    check: Check
    prepare: Callable[[Path], None] | None = None
    log: Path | None = None
    kind: str = "bundled"  # which log: the simulator's ("bundled") or bench/foreign_log.py's ("foreign")


@dataclass(frozen=True)
class Result:
    tool: str
    pinned: bool
    lines: int
    size_bytes: int
    seconds: float
    cpu_seconds: float
    rss_mb: float
    kind: str = "bundled"

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


def metrics_difference(data: Path, reference: Path) -> str | None:
    """How the process_metrics CSVs in ``data`` differ from those in ``reference``, if they do.

    Compared by ``filecmp`` in small buffers: whatever this process holds at its peak
    counts in every later child's peak RSS (wait4 reports the larger of the two).
    """
    mine = sorted(p.name for p in data.glob("process_metrics*.csv"))
    theirs = sorted(p.name for p in reference.glob("process_metrics*.csv"))
    if mine != theirs:
        return f"parts {mine} against {theirs}"
    return next((name for name in mine
                 if not filecmp.cmp(data / name, reference / name, shallow=False)), None)


def check_logloom(data: Path, same_metrics_as: Path | None = None) -> Check:
    """A check of the run summary in ``data``; with ``same_metrics_as``, also that the
    metrics are byte for byte those of the run that wrote that directory."""

    def check(stdout: str, lines: int) -> None:
        summary = json.loads((data / "run_summary.json").read_text())
        if summary["lines_read"] != lines or summary["rows_written"] == 0:
            raise RuntimeError(f"logloom read {summary['lines_read']} of {lines} lines")
        differs = None if same_metrics_as is None else metrics_difference(data, same_metrics_as)
        if differs is not None:
            raise RuntimeError(f"metrics in {data} differ from {same_metrics_as}: {differs}")

    return check


# ---------------------------------------------------------------- the tools


def mtail_argv(log: Path, scratch: Path, progs: Path = MTAIL_PROGS) -> list[str]:
    return ["mtail", "--one_shot", "--one_shot_format", "prometheus", "--logtostderr",
            "--port", "0", "--progs", str(progs), "--logs", str(log)]


def loop_argv(text: bool) -> Callable[[Path, Path], list[str]]:
    mode = "encoding='utf-8', errors='replace'" if text else "'rb'"
    return lambda log, _: [PY, "-c", f"for line in open({str(log)!r}, {mode}): pass"]


def monitor_argv(config: Path, data: Path, pure: bool = False) -> Callable[[Path, Path], list[str]]:
    env = ["env", "LOGLOOM_PURE_PYTHON=1"] if pure else []
    return lambda log, _: [*env, LOGLOOM, "monitor", "--config", str(config), "--data", str(data),
                           "--logs", str(log), "-q"]


def fresh_data(data: Path, baseline: Path | None) -> Callable[[Path], None]:
    """An empty ``data`` dir before each run, holding ``baseline`` if one is given."""

    def prepare(_: Path) -> None:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        if baseline is not None:
            shutil.copy(baseline, data / "process_baseline.json")

    return prepare


def data_dir(scratch: Path, name: str, pinned: bool, kind: str = "bundled") -> Path:
    """Each monitor run's own data dir, so one run's metrics can be checked against another's."""
    return scratch / re.sub(r"\W+", "-", f"{kind} {run_label(name, pinned)}").strip("-")


def monitor_tool(scratch: Path, name: str, pinned: bool, *, baseline: Path | None = None,
                 config: Path = CONFIG, log: Path | None = None,
                 same_metrics_as: Path | None = None, kind: str = "bundled") -> Tool:
    data = data_dir(scratch, name, pinned, kind)
    return Tool(name, monitor_argv(config, data, pure=name == PURE), pinned, check_logloom(data, same_metrics_as),
                fresh_data(data, baseline), log, kind)


def foreign_tools(scratch: Path, log: Path) -> list[Tool]:
    """mtail and logloom monitor on bench/foreign_log.py's log, and the forced pure-Python
    run, whose metrics must equal the fast path's."""
    lines_total = r"^lines_total\{[^}]*\} (\S+)"
    argv: Callable[[Path, Path], list[str]] = lambda log, scratch: mtail_argv(log, scratch, FOREIGN_MTAIL)  # noqa: E731
    found = [Tool("mtail --one_shot", argv, pinned, expect_number(lines_total), None, log, "foreign")
             for pinned in (True, False)]
    found += [monitor_tool(scratch, MONITOR, pinned, config=FOREIGN_CONFIG, log=log, kind="foreign")
              for pinned in (True, False)]
    found.append(monitor_tool(scratch, PURE, False, config=FOREIGN_CONFIG, log=log, kind="foreign",
                              same_metrics_as=data_dir(scratch, MONITOR, False, "foreign")))
    return found


def monitor_tools(scratch: Path, baseline: Path | None, strptime: tuple[Path, Path]) -> list[Tool]:
    """logloom monitor pinned and unpinned, scored alike, and on the strptime variant.

    ``strptime`` is (log, config) of that variant; its metrics must equal the unpinned
    ISO run's.
    """
    found = [monitor_tool(scratch, MONITOR, True), monitor_tool(scratch, MONITOR, False)]
    if baseline is not None:
        found += [monitor_tool(scratch, SCORED, True, baseline=baseline),
                  monitor_tool(scratch, SCORED, False, baseline=baseline)]
    log, config = strptime
    found.append(monitor_tool(scratch, STRPTIME, False, config=config, log=log,
                              same_metrics_as=data_dir(scratch, MONITOR, False)))
    found.append(monitor_tool(scratch, PURE, False, same_metrics_as=data_dir(scratch, MONITOR, False)))
    return found


def tools(scratch: Path, baseline: Path | None, pandas: bool,
          strptime: tuple[Path, Path]) -> list[Tool]:
    """Every run for one log, the reading limits first, then mtail, the peers, logloom."""
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
    return found + monitor_tools(scratch, baseline, strptime)


# ---------------------------------------------------------------- measuring


def _tree_peaks(pid: int, peaks: dict[int, int]) -> None:
    """Each process of ``pid``'s tree: its peak resident set so far (VmHWM, kB), into ``peaks``."""
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        m = re.search(r"^VmHWM:\s+(\d+)", status, re.MULTILINE)
        if m:
            peaks[p] = max(peaks.get(p, 0), int(m.group(1)))
        todo += [int(c) for c in children]


def run_once(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (of the child and its children), peak RSS in MB and stdout.

    The peak RSS is that of all the child's processes together (the parse worker's
    included): each one's peak, read from /proc every 20 ms, summed (an upper bound:
    a forked worker shares pages with its parent, and the peaks need not coincide);
    at least the largest peak wait4 reports."""
    peaks: dict[int, int] = {}
    with open(OUT / "stdout.txt", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                _tree_peaks(proc.pid, peaks)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (OUT / "stderr.txt").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    rss_kb = max(usage.ru_maxrss, sum(peaks.values()))
    return seconds, cpu, rss_kb / 1024, (OUT / "stdout.txt").read_text(errors="replace")


def measure(tool: Tool, log: Path, lines: int, scratch: Path, repeat: int) -> Result:
    """Best wall and CPU time of ``repeat`` checked runs, and the largest peak RSS seen."""
    log = tool.log or log
    best, best_cpu, rss = float("inf"), float("inf"), 0.0
    for _ in range(repeat):
        if tool.prepare:
            tool.prepare(scratch)
        argv = tool.argv(log, scratch)
        seconds, cpu, peak, stdout = run_once(PIN + argv if tool.pinned else argv)
        tool.check(stdout, lines)
        best, best_cpu, rss = min(best, seconds), min(best_cpu, cpu), max(rss, peak)
    return Result(tool.name, tool.pinned, lines, log.stat().st_size, best, best_cpu, rss, tool.kind)


def compile_logloom() -> Path:
    """Compile the installed logloom package's modules, as ``pip install`` would.

    Installed editable and with PYTHONDONTWRITEBYTECODE set, every timed run would
    otherwise compile them again (start-up time no installed user pays). Found
    without importing logloom and compiled in a child: this process stays small.
    """
    spec = find_spec("logloom")
    if spec is None or spec.origin is None:
        raise RuntimeError(f"logloom is not installed for {PY}")
    package = Path(spec.origin).parent  # logloom.__file__'s directory
    subprocess.run([PY, "-m", "compileall", "-q", str(package)], check=True)
    return package


# ---------------------------------------------------------------- logs, configs, baseline


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


def ensure_foreign_log(lines: int, reuse: bool) -> Path:
    """bench/out/foreign_N.log from bench/foreign_log.py (seed 1, its default noise share)."""
    log = OUT / f"foreign_{lines}.log"
    if reuse and log.exists():
        return log
    print(f"writing a foreign-style log of {lines:,} lines -> {log.relative_to(ROOT)}", flush=True)
    subprocess.run([PY, str(ROOT / "bench" / "foreign_log.py"), "--out", str(log), "--lines", str(lines),
                    "--seed", "1"], check=True)
    return log


def ensure_strptime_log(log: Path, reuse: bool) -> Path:
    """``log`` with its timestamps rewritten as STRPTIME_FORMAT (by sed), next to it.

    With ``reuse``, a rewritten log at least as new as ``log`` is kept.
    """
    rewritten = log.with_name(f"{log.stem}_strptime.log")
    if reuse and rewritten.exists() and rewritten.stat().st_mtime >= log.stat().st_mtime:
        return rewritten
    print(f"rewriting timestamps -> {rewritten.relative_to(ROOT)}", flush=True)
    partial = rewritten.with_suffix(".partial")
    with open(partial, "wb") as out:
        subprocess.run(["sed", "-E", TO_STRPTIME_SED, str(log)], stdout=out, check=True)
    partial.replace(rewritten)
    return rewritten


def strptime_config() -> Path:
    """A copy of config/ in bench/out/ whose log timestamps are STRPTIME_FORMAT.

    log_patterns.yaml is edited as text (its comments kept, and no YAML library
    loaded into this process); logloom validates the result when it runs.
    """
    config = OUT / "config_strptime"
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(CONFIG, config)
    patterns = config / "log_patterns.yaml"
    text = patterns.read_text()
    block = re.search(r"^timestamp:\n(?:[ \t]+.*\n)+", text, re.MULTILINE)
    if block is None:
        raise RuntimeError(f"no timestamp: block in {CONFIG / patterns.name}")
    new = set_value(set_value(block.group(), "regex", STRPTIME_REGEX), "format", STRPTIME_FORMAT)
    patterns.write_text(text[:block.start()] + new + text[block.end():])
    return config


def set_value(block: str, key: str, value: str) -> str:
    """``block`` of YAML with the value of its one ``key:`` line set to ``value``, quoted."""
    line = re.compile(rf"^([ \t]+{key}:).*$", re.MULTILINE)
    new, found = line.subn(lambda m: f"{m.group(1)} '{value}'", block)
    if found != 1:
        raise RuntimeError(f"expected one {key}: in the timestamp block, found {found}")
    return new


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


def run_label(name: str, pinned: bool) -> str:
    """The name of a run in the table: the tool and the cores it had."""
    return f"{name} ({'1 core' if pinned else '2 cores'})"


def label(r: Result | Tool) -> str:
    name = run_label(r.tool if isinstance(r, Result) else r.name, r.pinned)
    return name if r.kind == "bundled" else f"{name}, foreign log"


def find(results: list[Result], tool: str, pinned: bool, lines: int, kind: str = "bundled") -> Result | None:
    """The run of ``tool``, pinned or not, on the log of ``lines`` lines of ``kind``."""
    return next((r for r in results if (r.tool, r.pinned, r.lines, r.kind) == (tool, pinned, lines, kind)),
                None)


def mtail_best(lines: int, results: list[Result], kind: str = "bundled") -> Result | None:
    """mtail's fastest run (wall time) on the log of ``lines`` lines of ``kind``, pinned or not."""
    runs = [m for m in results if m.tool.startswith("mtail") and m.lines == lines and m.kind == kind]
    return min(runs, key=lambda m: m.seconds, default=None)


def ratios(r: Result, results: list[Result]) -> str:
    """mtail's best wall seconds and that run's CPU seconds over this tool's, as two cells."""
    ref = mtail_best(r.lines, results, r.kind)
    if ref is None:
        return "- | -"
    return f"{ref.seconds / r.seconds:.2f}x | {ref.cpu_seconds / max(r.cpu_seconds, 1e-3):.2f}x"


def table(results: list[Result]) -> list[str]:
    head = ("| tool | lines | seconds | CPU s | lines/s | MB/s | peak RSS MB "
            "| speed vs mtail's best | CPU vs mtail's best |")
    rows = [head, "|" + "---|" * 9]
    for r in results:
        rows.append(f"| {label(r)} | {r.lines:,} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | "
                    f"{r.lines_per_s:,.0f} | "
                    f"{r.mb_per_s:.1f} | {r.rss_mb:.0f} | {ratios(r, results)} |")
    return rows


def mtail_references(results: list[Result]) -> list[str]:
    """Which mtail run each size's ratios are against."""
    out = []
    for lines, kind in dict.fromkeys((r.lines, r.kind) for r in results):
        ref = mtail_best(lines, results, kind)
        if ref is not None:
            out.append(f"- {lines:,} lines ({kind} log): {label(ref)}, {ref.seconds:.2f} s "
                       f"({ref.cpu_seconds:.2f} s CPU)")
    return out


def verdicts(results: list[Result]) -> list[str]:
    """The issue's targets, per size, for logloom monitor on one core and unpinned."""
    out = []
    for r in results:
        mtail = mtail_best(r.lines, results, r.kind) if r.tool == MONITOR else None
        if mtail is None:
            continue
        speed = mtail.seconds / r.seconds
        target = SPEED_TARGET if r.kind == "foreign" else BUNDLED_TARGET
        mark = "goal met" if speed >= SPEED_GOAL else "met" if speed >= target else "NOT met"
        rss = "met" if r.rss_mb < RSS_TARGET_MB else "NOT met"
        out.append(f"- {label(r)}, {r.lines:,} lines: speed {speed:.2f}x mtail's best "
                   f"({mtail.cpu_seconds / r.cpu_seconds:.2f}x in CPU time) "
                   f"(target {target:g}x on 2 cores, goal {SPEED_GOAL:g}x): {mark}; "
                   f"peak RSS {r.rss_mb:.0f} MB (target < {RSS_TARGET_MB:g} MB"
                   f"{' at 10M lines' if r.lines < 10_000_000 else ''}): {rss}")
    return out


def scoring_costs(results: list[Result]) -> list[str]:
    """Throughput lost to scoring, scored against unscored pinned the same way."""
    out = []
    for scored in results:
        plain = find(results, MONITOR, scored.pinned, scored.lines)
        if scored.tool != SCORED or plain is None:
            continue
        cost = 1 - scored.lines_per_s / plain.lines_per_s
        mark = "met" if cost <= SCORING_BUDGET else "NOT met"
        out.append(f"- scoring's cost, {run_label('logloom monitor', scored.pinned)}, "
                   f"{scored.lines:,} lines: {cost * 100:.0f} % of the throughput "
                   f"({plain.lines_per_s:,.0f} -> {scored.lines_per_s:,.0f} lines/s) "
                   f"(budget {SCORING_BUDGET * 100:.0f} %, issue #4): {mark}")
    return out


def strptime_vs_iso(results: list[Result]) -> list[str]:
    """The strptime run's speed next to the ISO run pinned the same way."""
    out = []
    for s in results:
        iso = find(results, MONITOR, s.pinned, s.lines)
        if s.tool != STRPTIME or iso is None:
            continue
        out.append(f"- {run_label('logloom monitor', s.pinned)}, {s.lines:,} lines: "
                   f"strptime {s.seconds:.2f} s, ISO {iso.seconds:.2f} s; strptime vs ISO "
                   f"{iso.seconds / s.seconds:.2f}x the speed "
                   f"({iso.cpu_seconds / s.cpu_seconds:.2f}x in CPU time); "
                   "process_metrics byte-identical")
    return out


def summary(results: list[Result], notes: list[str]) -> list[str]:
    """What the run prints after its progress lines."""
    return ["", *table(results), "", "Ratios against mtail's fastest run on each log:",
            *mtail_references(results), "", *verdicts(results), *scoring_costs(results),
            "", "Timestamps as strptime `" + STRPTIME_FORMAT + "` against ISO:",
            *strptime_vs_iso(results), "", *notes]


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


def method(repeat: int) -> list[str]:
    """The doc's opening: what is measured and how."""
    return [
        "logloom end to end (`monitor`, fresh data directory) against mtail, the pandas",
        "script a user would write instead, and the limits of reading the file at all, on",
        "logs of the bundled line from `logloom simulate --lines N --seed 1`. Each tool",
        f"runs as its own process; seconds are wall time, best of {repeat}; CPU s is user +",
        "system time (best of the same runs: steadier than wall time when the machine is",
        "shared); peak RSS is the process's maximum resident set (largest of the runs).",
        "\"1 core\" runs are pinned with `taskset -c 0`. The speed ratios are mtail's",
        "best wall seconds on the same log over the tool's: the reference is mtail's",
        "fastest run, pinned or not (listed under the table); the CPU ratio takes that",
        "run's CPU seconds.",
        "Before timing, logloom's modules are compiled to bytecode (`compileall` of the",
        "installed package's directory), as `pip install` leaves them: here logloom is",
        "installed editable and `PYTHONDONTWRITEBYTECODE=1` is set, so every run would",
        "otherwise compile them again (about 20 ms of start-up).",
        "Written by `bench/compare.py`; numbers from one machine, shared with other work.",
    ]


def timestamp_section(results: list[Result]) -> list[str]:
    """The doc's section on the strptime run against the ISO one."""
    return [
        "## Timestamp formats",
        "",
        "The same log with every timestamp rewritten as `" + STRPTIME_FORMAT + "`",
        "(`2026-01-21 06:00:35.195` -> `21.01.2026 06:00:35,195`, in",
        "`bench/out/log_N_strptime.log`), monitored with a copy of `config/` whose",
        "`log_patterns.yaml` has that `timestamp.format` and a regex to match",
        "(`bench/out/config_strptime/`). Each of its runs counts only if its",
        "`process_metrics` CSVs are byte-identical to those of the ISO run above it.",
        "",
        *strptime_vs_iso(results),
        "",
    ]


def peers() -> list[str]:
    """The doc's section on what each peer computes, and what it cannot."""
    return [
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
        "- **The foreign log** (`bench/foreign_log.py --seed 1`, config `bench/foreign/config/`,",
        "  mtail program `bench/foreign/mtail/screw_line.mtail`): a screwing line's PLC log that",
        "  logloom did not write: `21.01.2026 06:00:00,152;ST10;INFO;Screwing done torque=2.41Nm",
        "  angle=712deg`, 12 patterns, 63 % of the lines noise no pattern matches, counters in",
        "  nearly every line (so few texts repeat). mtail tries its patterns in order on every",
        "  line, as logloom's config says.",
        "- **logloom monitor, pure Python**: `LOGLOOM_PURE_PYTHON=1`, no Hyperscan (the union",
        "  prefilter of `parse/classify.py`); its run counts only if its `process_metrics` CSVs",
        "  are byte-identical to those of the fast path's run on the same log.",
        "- **peak RSS** is that of all of a run's processes together: each process's peak",
        "  (VmHWM, sampled every 20 ms from /proc) summed, the parse worker's included (an upper",
        "  bound: the forked worker shares pages with its parent).",
        "",
    ]


def write_doc(results: list[Result], notes: list[str], repeat: int, load_before: float) -> None:
    doc = [
        "# Benchmarks",
        "",
        *method(repeat),
        "",
        *machine(load_before),
        "",
        "## Results",
        "",
        *table(results),
        "",
        "mtail's fastest run, the reference of the ratios:",
        "",
        *mtail_references(results),
        "",
        "## Targets",
        "",
        *verdicts(results),
        *scoring_costs(results),
        "",
        *timestamp_section(results),
        *peers(),
        *([*notes, ""] if notes else []),
        "## Reproduce",
        "",
        "```sh",
        "apt-get install mtail               # the Debian package",
        ".venv/bin/pip install pandas        # optional, bench only (else --skip-pandas)",
        ".venv/bin/python bench/compare.py   # --sizes 1000000,10000000 --repeat 3 --reuse",
        "```",
        "",
        "Logs and scratch data go to `bench/out/` (gitignored; the 10M-line log is ~600 MB,",
        "its strptime copy as much again, the foreign one ~650 MB).",
        "",
    ]
    DOC.write_text("\n".join(doc))


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,10000000",
                    help="comma-separated line counts [default: %(default)s]")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs [default: 3]")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse logs (and their strptime copies) already in bench/out/")
    ap.add_argument("--skip-pandas", action="store_true", help="leave out the pandas peer")
    ap.add_argument("--no-scored", action="store_true",
                    help="leave out the monitor runs with an active baseline")
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
    print(f"compiled logloom's modules in {compile_logloom()}", flush=True)
    logs = {n: ensure_log(n, args.reuse) for n in sizes}
    config = strptime_config()
    strptime_logs = {n: ensure_strptime_log(log, args.reuse) for n, log in logs.items()}
    baseline = None if args.no_scored else record_baseline(logs[min(sizes)], scratch)
    if baseline is not None:
        notes.append(f"The scored runs' baseline was recorded on the {min(sizes):,}-line log.")
    results: list[Result] = []
    for n, log in logs.items():
        fits = with_pandas and pandas_fits(n)
        if with_pandas and not fits:
            notes.append(f"The pandas peer was left out at {n:,} lines: it would not fit in memory.")
        foreign = ensure_foreign_log(n, args.reuse)
        for tool in [*tools(scratch, baseline, fits, (strptime_logs[n], config)), *foreign_tools(scratch, foreign)]:
            print(f"{n:>12,}  {label(tool)} ...", end=" ", flush=True)
            r = measure(tool, log, n, scratch, args.repeat)
            results.append(r)
            print(f"{r.seconds:.2f} s ({r.cpu_seconds:.2f} s CPU), {r.lines_per_s:,.0f} lines/s, "
                  f"{r.rss_mb:.0f} MB", flush=True)
    print("\n".join(summary(results, notes)))
    if not args.no_doc:
        write_doc(results, notes, args.repeat, load_before)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
