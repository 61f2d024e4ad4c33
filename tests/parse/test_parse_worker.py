"""The parse worker: a lean process of its own, whose blocks are those parsed here, and
which never outlives the monitor that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logloom.config.load import load_config
from logloom.parse.log_parser import ParsedBlock
from logloom.parse.parse_worker import ParsedBlocks, WorkerFailed
from logloom.parse.parsers import block_parser
from logloom.parse.rules import ParseRules
from logloom.parse.source import LineReader
from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.test_durability import simulate

EXAMPLES = ROOT / "examples"
HEAVY = ("pydantic", "yaml", "click", "rich", "logloom.config", "logloom.engine", "logloom.detect",
         "logloom.outputs", "logloom.run", "logloom.main", "multiprocessing")


def test_the_worker_imports_the_parse_stage_only() -> None:
    script = ("import sys\nfrom logloom.parse.parse_worker import serve\n"
              f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def _blocks_here(config: Path, log: Path, offset: int, last_ts: int, take_partial: bool) -> list[ParsedBlock]:
    patterns = load_config(config).patterns
    parser = block_parser(ParseRules.of(patterns), last_ts)
    with log.open("rb") as fh:
        return [parser.parse(b) for b in LineReader(fh, offset).blocks(take_partial=take_partial, first=4096)]


@pytest.mark.parametrize("example", ["screw_line_noisy", "dispense_line", "filler_json"])
@pytest.mark.parametrize(("offset", "take_partial"), [(0, True), (12345, False)])
def test_the_workers_blocks_are_those_parsed_here(example: str, offset: int, take_partial: bool,
                                                  tmp_path: Path) -> None:
    config, log = EXAMPLES / example / "config", tmp_path / "cut.log"
    base = (EXAMPLES / example / "input.log").read_bytes()
    text = base * -(-60_000 // len(base))  # several blocks of 4 KiB here
    log.write_bytes(text + text[:100])  # ends inside a line
    offset = text.index(b"\n", offset) + 1 if offset else 0
    worker = ParsedBlocks(load_config(config).patterns, log, offset, -(1 << 62), take_partial=take_partial)
    try:
        got = list(worker)
    finally:
        worker.close()
    want = _blocks_here(config, log, offset, -(1 << 62), take_partial)
    assert len(want) > 1  # line by line across blocks of other sizes
    # block sizes differ (the worker's first block is larger): compare line by line
    assert sum(b.lines for b in got) == sum(b.lines for b in want)
    assert _events(got) == _events(want)
    assert got[-1].end == want[-1].end


def _events(blocks: list[ParsedBlock]) -> list[tuple[object, ...]]:
    """Every event line as (line number, time, parse result), whatever the blocks' sizes."""
    table: list[object] = []
    out: list[tuple[object, ...]] = []
    line = 0
    for b in blocks:
        if b.first_new_id == 0:
            table.clear()
        table.extend(b.new)
        out += [(line + i, t, table[c]) for i, c, t in zip(b.index, b.codes, b.times, strict=True)]
        line += b.lines
    return out


def test_a_worker_that_fails_says_why(tmp_path: Path) -> None:
    worker = ParsedBlocks(load_config(EXAMPLE_CONFIG).patterns, tmp_path / "gone.log", 0, 0, take_partial=True)
    with pytest.raises(WorkerFailed, match="FileNotFoundError"):
        list(worker)
    worker.close()


def test_a_worker_that_dies_is_reported_and_close_ends_a_live_one(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes((EXAMPLES / "dispense_line" / "input.log").read_bytes() * 100)
    patterns = load_config(EXAMPLE_CONFIG).patterns
    worker = ParsedBlocks(patterns, log, 0, 0, take_partial=True)
    blocks = iter(worker)
    next(blocks)
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(WorkerFailed, match="ended unexpectedly"):
        list(blocks)
    worker.close()
    live = ParsedBlocks(patterns, log, 0, 0, take_partial=True)
    next(iter(live))  # it runs ahead, then waits on the full pipe
    live.close()
    assert live.returncode is not None


def test_a_standby_worker_is_taken_by_the_run_or_ends_on_its_own(tmp_path: Path) -> None:
    """``prestart`` (before the configs are loaded) starts a worker the run then takes;
    one no run took ends by itself when its stdin closes; none for what is no big file."""
    from logloom.parse import parse_worker

    log = tmp_path / "small.log"
    log.write_bytes((EXAMPLES / "dispense_line" / "input.log").read_bytes())
    for path, parallel, follow in ((log, None, False), (log, True, True), (log, False, False),
                                   (tmp_path / "missing.log", True, False), (tmp_path, True, False)):
        parse_worker.prestart(path, parallel=parallel, follow=follow)
        assert parse_worker._standby is None, (path, parallel, follow)
    parse_worker.prestart(log, parallel=True, follow=False)
    standby = parse_worker._standby
    assert standby is not None
    worker = ParsedBlocks(load_config(EXAMPLE_CONFIG).patterns, log, 0, 0, take_partial=True)
    assert worker.pid == standby.pid and parse_worker._standby is None
    assert sum(b.lines for b in worker) == log.read_bytes().count(b"\n")
    worker.close()
    parse_worker.prestart(log, parallel=True, follow=False)
    unused = parse_worker._standby
    assert unused is not None
    parse_worker.discard_standby()
    assert unused.returncode == 0 and parse_worker._standby is None


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its entry waits to be reaped


def test_a_killed_parallel_monitor_leaves_no_worker_behind(tmp_path: Path, run_cli) -> None:
    shift = simulate(run_cli, tmp_path / "shift.log", "--cycles", "300", "--seed", "6").read_bytes()
    log = tmp_path / "week.log"
    log.write_bytes(shift * 12)  # 6 MB: the worker is still parsing, or waiting on a full pipe, when killed
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data",
           str(tmp_path / "data"), "--logs", str(log), "-q", "--parallel", "--checkpoint-every", "0.05"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers:
            assert proc.poll() is None and time.monotonic() < deadline, "no worker was started"
            workers = _children(proc.pid)
            time.sleep(0.01)
        while not (tmp_path / "data" / "machine_state.json").exists():  # both sides at work
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers):
        assert time.monotonic() < deadline, f"parse worker(s) {workers} outlived the killed monitor"
        time.sleep(0.02)
