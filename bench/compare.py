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

The same is run on a PLC log logloom did not write (bench/foreign_log.py, its own
config and mtail program in bench/foreign/), and on each log ``logloom monitor`` with
LOGLOOM_PURE_PYTHON=1 and with the engine compiled (a ``LOGLOOM_COMPILE=1`` build of
this checkout installed into bench/out/compiled; ``--no-compiled`` leaves it out): their
metrics must equal the plain run's.

Every run's output is checked (lines counted equal the lines of the log) before its
time counts. Pinned runs use ``taskset -c 0``. The ratios are mtail's seconds over
the tool's, mtail's reference being its single-core run (wall time) on the same log;
the CPU ratio takes that run's CPU seconds. Peak memory is that of all of a run's
processes: the sum of their peak RSS, and the peak of their summed PSS. Prints the
table and rewrites the generated part of docs/benchmarks.md with the date and machine.

    .venv/bin/python bench/compare.py                     # 1M and 10M lines, best of 3
    .venv/bin/python bench/compare.py --sizes 1000000 --repeat 1 --reuse --skip-pandas

Targets (issue #12), on 2 cores against mtail's single-core run: the foreign log >= 3x,
the bundled log >= 5x (goal 10x); peak RSS of all processes < 150 MB at 10M lines;
scoring costs at most 15 % of the throughput (issue #4).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from compare_logs import (
    CONFIG,
    LOGLOOM,
    OUT,
    PY,
    ROOT,
    ensure_compiled,
    ensure_foreign_log,
    ensure_log,
    ensure_strptime_log,
    pandas_fits,
    record_baseline,
    strptime_config,
)
from compare_report import (
    COMPILED,
    DOC,
    MONITOR,
    PURE,
    SCORED,
    STRPTIME,
    Result,
    log_label,
    run_label,
    summary,
    write_doc,
)

MTAIL_PROGS = ROOT / "bench" / "mtail"
PIN = ["taskset", "-c", "0"]
FOREIGN_MTAIL = ROOT / "bench" / "foreign" / "mtail"
FOREIGN_CONFIG = ROOT / "bench" / "foreign" / "config"

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


def monitor_argv(config: Path, data: Path, env: tuple[str, ...] = ()) -> Callable[[Path, Path], list[str]]:
    """logloom monitor, with ``env`` (NAME=VALUE) set for the run."""
    prefix = ["env", *env] if env else []
    return lambda log, _: [*prefix, LOGLOOM, "monitor", "--config", str(config), "--data", str(data),
                           "--logs", str(log), "-q"]


def variant_env(name: str) -> tuple[str, ...]:
    """The environment of a monitor variant: no Hyperscan, or the compiled build first on the path."""
    if name == PURE:
        return ("LOGLOOM_PURE_PYTHON=1",)
    if name == COMPILED:
        return (f"PYTHONPATH={OUT / 'compiled'}",)
    return ()


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
    return Tool(name, monitor_argv(config, data, variant_env(name)), pinned, check_logloom(data, same_metrics_as),
                fresh_data(data, baseline), log, kind)


def foreign_tools(scratch: Path, log: Path, variants: tuple[str, ...]) -> list[Tool]:
    """mtail and logloom monitor on bench/foreign_log.py's log, and the ``variants`` (forced
    pure Python, compiled engine), whose metrics must equal the plain run's."""
    lines_total = r"^lines_total\{[^}]*\} (\S+)"
    argv: Callable[[Path, Path], list[str]] = lambda log, scratch: mtail_argv(log, scratch, FOREIGN_MTAIL)  # noqa: E731
    found = [Tool("mtail --one_shot", argv, pinned, expect_number(lines_total), None, log, "foreign")
             for pinned in (True, False)]
    found += [monitor_tool(scratch, MONITOR, pinned, config=FOREIGN_CONFIG, log=log, kind="foreign")
              for pinned in (True, False)]
    for variant in variants:
        found.append(monitor_tool(scratch, variant, False, config=FOREIGN_CONFIG, log=log, kind="foreign",
                                  same_metrics_as=data_dir(scratch, MONITOR, False, "foreign")))
    return found


def monitor_tools(scratch: Path, baseline: Path | None, strptime: tuple[Path, Path],
                  variants: tuple[str, ...]) -> list[Tool]:
    """logloom monitor pinned and unpinned, scored alike, on the strptime variant, and the
    ``variants`` (forced pure Python, compiled engine).

    ``strptime`` is (log, config) of that variant; its metrics, and the variants', must
    equal the unpinned ISO run's.
    """
    found = [monitor_tool(scratch, MONITOR, True), monitor_tool(scratch, MONITOR, False)]
    if baseline is not None:
        found += [monitor_tool(scratch, SCORED, True, baseline=baseline),
                  monitor_tool(scratch, SCORED, False, baseline=baseline)]
    log, config = strptime
    found.append(monitor_tool(scratch, STRPTIME, False, config=config, log=log,
                              same_metrics_as=data_dir(scratch, MONITOR, False)))
    for variant in variants:
        found.append(monitor_tool(scratch, variant, False, same_metrics_as=data_dir(scratch, MONITOR, False)))
    return found


def tools(scratch: Path, baseline: Path | None, pandas: bool,
          strptime: tuple[Path, Path], variants: tuple[str, ...]) -> list[Tool]:
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
    return found + monitor_tools(scratch, baseline, strptime, variants)


# ---------------------------------------------------------------- measuring


def _sample_tree(pid: int, peaks: dict[int, int], *, with_pss: bool) -> int:
    """Each process of ``pid``'s tree: its peak resident set so far (VmHWM, kB), into
    ``peaks``; returns the sum of their proportional set sizes now (Pss, kB), read only
    ``with_pss`` (smaps_rollup walks the process's page tables: it costs the run time)."""
    todo, pss = [pid], 0
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text() if with_pss else ""
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        m = re.search(r"^VmHWM:\s+(\d+)", status, re.MULTILINE)
        if m:
            peaks[p] = max(peaks.get(p, 0), int(m.group(1)))
        m = re.search(r"^Pss:\s+(\d+)", rollup, re.MULTILINE)
        pss += int(m.group(1)) if m else 0
        todo += [int(c) for c in children]
    return pss


def run_once(argv: list[str]) -> tuple[float, float, float, float, str]:
    """Wall seconds, CPU seconds (of the child and its children), peak RSS and PSS in MB, stdout.

    The peak RSS is that of all the child's processes together (the parse worker's
    included): each one's peak, read from /proc every 20 ms, summed (an upper bound:
    shared pages count in each process, and the peaks need not coincide); at least
    the largest peak wait4 reports. The peak PSS is the largest sum of the processes'
    proportional set sizes (shared pages split between them), read every 200 ms: that
    read walks a process's page tables, and at every 20 ms it cost the run time.
    """
    peaks: dict[int, int] = {}
    pss = [0]
    with open(OUT / "stdout.txt", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        done = threading.Event()

        def sample() -> None:
            n = 0
            while not done.wait(0.02):
                pss[0] = max(pss[0], _sample_tree(proc.pid, peaks, with_pss=n % 10 == 0))
                n += 1

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
    return seconds, cpu, rss_kb / 1024, pss[0] / 1024, (OUT / "stdout.txt").read_text(errors="replace")


def measure(tool: Tool, log: Path, lines: int, scratch: Path, repeat: int) -> Result:
    """Best wall and CPU time of ``repeat`` checked runs, and the largest peak RSS and PSS seen."""
    log = tool.log or log
    best, best_cpu, rss, pss = float("inf"), float("inf"), 0.0, 0.0
    for _ in range(repeat):
        if tool.prepare:
            tool.prepare(scratch)
        argv = tool.argv(log, scratch)
        seconds, cpu, peak, peak_pss, stdout = run_once(PIN + argv if tool.pinned else argv)
        tool.check(stdout, lines)
        best, best_cpu, rss, pss = min(best, seconds), min(best_cpu, cpu), max(rss, peak), max(pss, peak_pss)
    return Result(tool.name, tool.pinned, lines, log.stat().st_size, best, best_cpu, rss, pss, tool.kind)


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
    ap.add_argument("--no-compiled", action="store_true",
                    help="leave out the runs of the compiled engine (LOGLOOM_COMPILE=1 build)")
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
    variants: tuple[str, ...] = (PURE,)
    if args.no_compiled:
        notes.append("The compiled engine's runs were left out (--no-compiled).")
    else:
        print(f"built logloom with its engine compiled in {ensure_compiled(args.reuse)}", flush=True)
        variants = (PURE, COMPILED)
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
        for tool in [*tools(scratch, baseline, fits, (strptime_logs[n], config), variants),
                     *foreign_tools(scratch, foreign, variants)]:
            print(f"{n:>12,}  {log_label(run_label(tool.name, tool.pinned), tool.kind)} ...", end=" ", flush=True)
            r = measure(tool, log, n, scratch, args.repeat)
            results.append(r)
            print(f"{r.seconds:.2f} s ({r.cpu_seconds:.2f} s CPU), {r.lines_per_s:,.0f} lines/s, "
                  f"RSS {r.rss_mb:.0f} MB, PSS {r.pss_mb:.0f} MB", flush=True)
    print("\n".join(summary(results, notes)))
    if not args.no_doc:
        write_doc(results, notes, args.repeat, load_before)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
