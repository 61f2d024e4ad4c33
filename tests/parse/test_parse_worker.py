"""The parse worker never outlives the monitor that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.test_durability import simulate


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
