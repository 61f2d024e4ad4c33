"""monitor --follow behaves like tail -F: growth, partial lines, rotation, copy-truncate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.test_durability import outputs, simulate


def _checkpoint_offset(data: Path) -> int:
    try:
        return int(json.loads((data / "machine_state.json").read_text())["source"]["offset"])
    except (OSError, ValueError, KeyError):
        return -1


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _split_at_lines(content: bytes, parts: int) -> list[bytes]:
    ends = [i + 1 for i, b in enumerate(content) if b == 10]
    cuts = [0] + [ends[len(ends) * k // parts] for k in range(1, parts)] + [len(content)]
    return [content[a:b] for a, b in pairwise(cuts)]


def test_follow_through_growth_rotation_and_truncation(tmp_path: Path, run_cli) -> None:
    source = simulate(run_cli, tmp_path / "sim.log", "--cycles", "120", "--seed", "9", "--garbage", "0.01")
    a, b, c, d = _split_at_lines(source.read_bytes(), 4)
    log, data = tmp_path / "live" / "machine.log", tmp_path / "data"
    log.parent.mkdir()
    log.write_bytes(b"")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data),
         "--logs", str(log), "--follow", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    try:
        # growth, with the last line arriving in two writes: nothing is taken before its newline
        head, tail = a[: len(a) - 20], a[len(a) - 20 :]
        with log.open("ab") as fh:
            fh.write(head)
            fh.flush()
            complete = head.rfind(b"\n") + 1
            _wait_for(lambda: _checkpoint_offset(data) == complete, "the complete lines of the first chunk")
            fh.write(tail)
            fh.flush()
        _wait_for(lambda: _checkpoint_offset(data) == len(a), "the completed last line")

        # rename rotation: lines written to the old file just before the rename are not lost
        with log.open("ab") as fh:
            fh.write(b)
        os.rename(log, log.with_suffix(".log.1"))
        log.write_bytes(c[: len(c) // 2])
        with log.open("ab") as fh:
            fh.write(c[len(c) // 2 :])
        _wait_for(lambda: _checkpoint_offset(data) == len(c), "the rotated file")

        # copy-truncate: the file shrinks in place and is read again from its start
        shutil.copy(log, log.with_suffix(".log.2"))
        with log.open("r+b") as fh:
            fh.truncate(0)
        _wait_for(lambda: _checkpoint_offset(data) == 0, "noticing the truncation", timeout=10)
        with log.open("ab") as fh:
            fh.write(d)
        _wait_for(lambda: _checkpoint_offset(data) == len(d), "the truncated file's new lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err

    whole = tmp_path / "whole"
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", whole, "--logs", source, "-q")
    assert code == 0, err
    produced, expected = outputs(data), outputs(whole)
    produced["rejected_lines.log"] = produced["rejected_lines.log"].replace(b"machine.log:", b"sim.log:")
    assert produced == expected
