"""A pattern that backtracks, an endless input, a FIFO (SPEC 7, prompt stop): a line has a
bound on its matching time, and SIGTERM stops a run within two seconds whatever it is on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.test_durability import outputs, simulate

STOP_WITHIN_S = 2.0
# A pattern that backtracks exponentially, for each way lines are matched: the pure-Python
# classifier (a union of the patterns, run by re), and the default one (Hyperscan where it
# installs), which leaves a pattern with a backreference to re.
ENGINES = {
    "pure-python": (r"(a+)+b", {"LOGLOOM_PURE_PYTHON": "1"}),
    "default-backreference": (r"(a+)+\1b", {}),
}


def _config(make_config, regex: str = r"(a+)+b", **settings: object) -> Path:
    def edit(docs: dict[str, dict]) -> None:
        patterns = docs["log_patterns.yaml"]
        patterns["patterns"].insert(0, {"name": "backtracks", "regex": regex, "event": "NOISE"})  # tried first
        patterns.update(settings)

    return make_config(EXAMPLE_CONFIG, edit=edit)


def _hostile_log(run_cli, tmp_path: Path) -> tuple[Path, bytes, int]:
    """A simulated shift with one line of 40 a's in the middle: (log, its bytes, that line's number)."""
    clean = simulate(run_cli, tmp_path / "clean.log", "--cycles", "30", "--seed", "8")
    lines = clean.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    stamp = lines[middle].split(b" [")[0]
    hostile = stamp + b" " + b"a" * 40 + b"\n"
    log = tmp_path / "hostile.log"
    log.write_bytes(b"".join([*lines[:middle], hostile, *lines[middle:]]))
    return log, hostile, middle + 1


def _spawn(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "logloom", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def _cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its children (the parse worker)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _busy_then_term(proc: subprocess.Popen[bytes], cpu_s: float) -> float:
    """Wait until ``proc`` has computed for ``cpu_s`` (past start-up, inside the hostile part),
    then SIGTERM it; return the seconds it took to exit."""
    deadline = time.monotonic() + 120
    while _cpu_seconds(proc.pid) < cpu_s:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "never got busy"
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return time.monotonic() - sent


def test_validate_warns_about_nested_quantifiers(make_config, run_cli) -> None:
    code, out, err = run_cli("validate", "--config", _config(make_config))
    assert code == 0 and out.startswith("OK"), err
    assert "backtracks" in err and "unbounded repeat" in err and "exponential" in err


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("mode", ["--serial", "--parallel"])
def test_a_line_that_takes_too_long_to_match_is_rejected_and_the_rest_measured(
    mode: str, engine: str, make_config, run_cli, tmp_path: Path,
) -> None:
    regex, env = ENGINES[engine]
    config = _config(make_config, regex)
    log, _, line_no = _hostile_log(run_cli, tmp_path)
    data = tmp_path / "data"
    proc = _spawn("monitor", "--config", config, "--data", data, "--logs", log, "-q", mode, env=env)
    try:
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    rejected = (data / "rejected_lines.log").read_text()
    assert f"hostile.log:{line_no}: matching took over 0.5 s of CPU" in rejected
    # every other line gives what it gives without the hostile one
    clean = tmp_path / "clean"
    code, _, err = run_cli("monitor", "--config", config, "--data", clean, "--logs", tmp_path / "clean.log", "-q")
    assert code == 0, err
    assert outputs(data)["process_metrics.csv"] == outputs(clean)["process_metrics.csv"]


def test_parse_rejects_the_line_too(make_config, run_cli, tmp_path: Path) -> None:
    log, _, line_no = _hostile_log(run_cli, tmp_path)
    proc = _spawn("parse", "--config", _config(make_config, ENGINES["default-backreference"][0]), "--logs", log,
                  "--all")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f'{{"line": {line_no}, "malformed": "matching took over 0.5 s' in out.decode()


@pytest.mark.parametrize(("engine", "mode"), [("pure-python", "--serial"), ("default-backreference", "--parallel")])
def test_sigterm_stops_a_run_inside_a_line_that_never_finishes_matching(
    engine: str, mode: str, make_config, run_cli, tmp_path: Path,
) -> None:
    regex, env = ENGINES[engine]
    config = _config(make_config, regex, max_match_seconds=3600)  # the bound is not what stops it here
    log, hostile, _ = _hostile_log(run_cli, tmp_path)
    data = tmp_path / "data"
    proc = _spawn("monitor", "--config", config, "--data", data, "--logs", log, "-q", mode, env=env)
    took = _busy_then_term(proc, 2.5)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert took < STOP_WITHIN_S, took
    # the checkpoint is before the line, which the next run reads again
    offset = json.loads((data / "machine_state.json").read_text())["source"]["offset"]
    assert offset <= log.read_bytes().index(hostile)


def test_sigterm_stops_record_reading_an_endless_stream(tmp_path: Path) -> None:
    proc = _spawn("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "data", "--logs", "/dev/zero")
    took = _busy_then_term(proc, 2.0)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 2 and "record interrupted" in err and "Traceback" not in err, err
    assert took < STOP_WITHIN_S, took


def test_sigterm_stops_monitor_inside_gigabytes_without_a_newline(tmp_path: Path) -> None:
    log = tmp_path / "zeros.log"
    with log.open("wb") as fh:
        fh.truncate(64 << 30)  # sparse: costs no disk, reads as 64 GiB of NULs (a crashed file system's log)
    data = tmp_path / "data"
    proc = _spawn("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q", "--serial")
    took = _busy_then_term(proc, 2.0)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert took < STOP_WITHIN_S, took


def test_record_reads_a_fifo_as_a_stream(run_cli, tmp_path: Path) -> None:
    log = simulate(run_cli, tmp_path / "good.log", "--cycles", "40", "--seed", "2")
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb") as fh:
            fh.write(log.read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        code, _, err = run_cli("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "from_fifo",
                               "--logs", fifo, "-q")
    finally:
        writer.join(timeout=30)
    assert code == 0, err
    code, _, err = run_cli("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "from_file", "--logs", log,
                           "-q")
    assert code == 0, err
    fifo_run = json.loads((tmp_path / "from_fifo" / "process_baseline.json").read_text())["metrics"]
    file_run = json.loads((tmp_path / "from_file" / "process_baseline.json").read_text())["metrics"]
    assert fifo_run == file_run
