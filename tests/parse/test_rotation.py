"""Rotation while logloom is stopped or killed, copytruncate races, and one file under many
spellings (SPEC 7): every line is read once, or the gap is reported loudly."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_CONFIG, ROOT
from tests.parse.test_follow import _split_at_lines, _wait_for
from tests.test_durability import outputs

Rotate = Callable[[Path], None]


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, bytes]]:
    """A simulated shift (with garbage lines) and the outputs of one run over all of it."""
    from logloom.cli import main

    work = tmp_path_factory.mktemp("rot")
    log = work / "live.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(log), "--quiet", "--cycles", "90",
                 "--seed", "4", "--garbage", "0.02", "--sparse", "0.3"]) == 0
    assert main(["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(work / "whole"), "--logs", str(log),
                 "-q"]) == 0
    return log.read_bytes(), outputs(work / "whole")


def _monitor(run_cli, data: Path, log: Path, *extra: str) -> tuple[int, str]:
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, *extra)
    return code, err


def _cut(content: bytes, *fractions: float) -> list[bytes]:
    """``content`` cut at whole lines near these fractions of its length."""
    cuts = [0, *(content.rfind(b"\n", 0, int(len(content) * f)) + 1 for f in fractions), len(content)]
    return [content[x:y] for x, y in pairwise(cuts)]


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def _gzip_away(path: Path, target: Path) -> None:
    with path.open("rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.utime(target, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))  # as gzip(1) keeps it
    path.unlink()


ROTATIONS: dict[str, tuple[Rotate, tuple[str, ...]]] = {
    "numbered": (lambda p: p.rename(p.with_name("live.log.1")), ()),
    "dated": (lambda p: p.rename(p.with_name("live.log-20260121")), ()),
    "dated-extension-kept": (lambda p: p.rename(p.with_name("live-20260121.log")), ()),
    "gzip": (lambda p: _gzip_away(p, p.with_name("live.log.1.gz")), ()),
    "configured-glob": (lambda p: p.rename(p.parent / "old" / "machine-log-A"), ("--rotated", "old/machine-log-*")),
}


def _rotated_while_stopped(content: bytes, tmp_path: Path, run_cli, rotate: Rotate,
                           *extra: str) -> tuple[int, str, Path]:
    """A third of ``content`` monitored; a third written while monitor is stopped, then
    ``rotate``; the last third in the file now at the path; monitor again."""
    a, b, c = _split_at_lines(content, 3)
    (tmp_path / "old").mkdir(exist_ok=True)
    live, data = tmp_path / "live.log", tmp_path / "data"
    live.write_bytes(a)
    assert _monitor(run_cli, data, live, "-q")[0] == 0
    _append(live, b)
    rotate(live)
    _append(live, c)  # a new file, or the truncated one grown past the old offset again
    code, err = _monitor(run_cli, data, live, *extra)
    return code, err, data


@pytest.mark.parametrize("how", list(ROTATIONS))
def test_rotation_while_stopped_reads_the_rest_of_the_old_file_first(
    how: str, shift, tmp_path: Path, run_cli,
) -> None:
    content, expected = shift
    rotate, extra = ROTATIONS[how]
    code, err, data = _rotated_while_stopped(content, tmp_path, run_cli, rotate, *extra)
    assert code == 0, err
    assert "rotated or truncated since the checkpoint" in err and "from byte" in err
    assert outputs(data) == expected


def test_several_rotations_while_stopped_are_read_in_order(shift, tmp_path: Path, run_cli) -> None:
    content, expected = shift
    a, b, c, d = _split_at_lines(content, 4)
    live, data = tmp_path / "live.log", tmp_path / "data"
    live.write_bytes(a)
    assert _monitor(run_cli, data, live, "-q")[0] == 0
    _append(live, b)
    live.rename(tmp_path / "live.log.1")  # first night
    live.write_bytes(c)
    (tmp_path / "live.log.1").rename(tmp_path / "live.log.2")  # second night: the older one moves on
    _gzip_away(tmp_path / "live.log.2", tmp_path / "live.log.2.gz")
    live.rename(tmp_path / "live.log.1")
    live.write_bytes(d)
    code, err = _monitor(run_cli, data, live)
    assert code == 0, err
    assert "live.log.2.gz" in err and "1 later rotated file" in err
    assert outputs(data) == expected


def test_copytruncate_while_stopped_reads_the_rest_from_the_copy(shift, tmp_path: Path, run_cli) -> None:
    content, expected = shift

    def copytruncate(path: Path) -> None:  # logrotate's copytruncate
        shutil.copy2(path, path.with_name("live.log.1"))
        os.truncate(path, 0)

    code, err, data = _rotated_while_stopped(content, tmp_path, run_cli, copytruncate)
    assert code == 0, err
    assert "rotated or truncated since the checkpoint" in err and "live.log.1 from byte" in err
    assert outputs(data) == expected


def test_a_rotated_file_that_cannot_be_found_is_a_loud_gap(shift, tmp_path: Path, run_cli) -> None:
    content, _ = shift
    live = tmp_path / "live.log"
    # rotated and deleted (rotate 0), or moved where logloom is not told to look
    code, err, data = _rotated_while_stopped(content, tmp_path, run_cli, Path.unlink, "-q")
    assert code == 3, err  # not 0 (done), not 1 (a bug), not 2 (refused)
    assert "was not found among its rotated files" in err and "--rotated" in err
    assert "Traceback" not in err
    summary = json.loads((data / "run_summary.json").read_text())
    assert len(summary["gaps"]) == 1 and str(live) in summary["gaps"][0]
    # the new file was read from its start
    assert summary["lines_read"] == content.count(b"\n") - _split_at_lines(content, 3)[1].count(b"\n")


def test_one_file_under_several_spellings_is_read_once(
    shift, tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    content, expected = shift
    a, b, c, d = _split_at_lines(content, 4)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.log").symlink_to(tmp_path / "live.log")
    monkeypatch.chdir(tmp_path)
    live, data = tmp_path / "live.log", tmp_path / "data"
    spellings = [Path("live.log"), tmp_path / "live.log", Path("sub/../live.log"), Path("link.log")]
    live.write_bytes(b"")
    for part, spelling in zip((a, b, c, d), spellings, strict=True):
        _append(live, part)
        code, err = _monitor(run_cli, data, spelling, "-q")
        assert code == 0, err
    produced = outputs(data)
    # rejected lines are labelled with the name given: the last run was given link.log
    produced["rejected_lines.log"] = produced["rejected_lines.log"].replace(b"link.log:", b"live.log:")
    assert produced == expected


# -- follow mode ----------------------------------------------------------------------------
def _follow(data: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data),
           "--logs", str(log), "--follow", "--checkpoint-every", "0.05"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


def _position(data: Path) -> tuple[str, int]:
    try:
        src = json.loads((data / "machine_state.json").read_text())["source"]
        return src.get("file", src["path"]), int(src["offset"])  # older checkpoints: only the path
    except (OSError, ValueError, KeyError):
        return "", -1


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err
    return err


def test_copytruncate_race_in_follow_is_noticed(shift, tmp_path: Path) -> None:
    """The file is truncated and grows past the old offset before the follower looks again
    (the follower is paused to make the race certain): the content is checked, not the size."""
    content, expected = shift
    a, b, c = _cut(content, 0.3, 0.4)
    assert len(c) > len(a) + len(b)
    live, data = tmp_path / "live.log", tmp_path / "data"
    live.write_bytes(a)
    proc = _follow(data, live)
    try:
        _wait_for(lambda: _position(data)[1] == len(a), "the first lines")
        os.kill(proc.pid, signal.SIGSTOP)
        _append(live, b)  # not read yet when the copy is made
        shutil.copy2(live, tmp_path / "live.log.1")
        with live.open("r+b") as fh:
            fh.truncate(0)
        _append(live, c)
        os.kill(proc.pid, signal.SIGCONT)
        _wait_for(lambda: _position(data) == (str(live), len(c)), "the new content")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        err = _stop(proc)
    assert outputs(data) == expected
    assert "truncated" in err


def test_rotation_between_kills_in_follow_loses_nothing(shift, tmp_path: Path) -> None:
    """Killed, then lines written, the file rotated (renamed, compressed, copy-truncated) and
    the new file begun before the follower is back: each time, nothing lost or doubled."""
    content, expected = shift
    pieces = _split_at_lines(content, 7)
    live, data = tmp_path / "live.log", tmp_path / "data"
    live.write_bytes(pieces[0])
    rotations: list[Rotate] = [
        lambda p: p.rename(p.with_name("live.log.1")),
        lambda p: _gzip_away(p, p.with_name("live.log-20260122.gz")),
        lambda p: (shutil.copy2(p, p.with_name("live.log.0")), os.truncate(p, 0)),
    ]
    for k, rotate in enumerate(rotations):
        proc = _follow(data, live)
        try:
            _wait_for(lambda: _position(data) == (str(live), live.stat().st_size), "caught up")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        _append(live, pieces[2 * k + 1])  # while it is dead: more lines, the rotation, a new file
        rotate(live)
        _append(live, pieces[2 * k + 2])
    proc = _follow(data, live)
    try:
        _wait_for(lambda: _position(data) == (str(live), live.stat().st_size), "the last file")
    finally:
        _stop(proc)
    assert outputs(data) == expected
