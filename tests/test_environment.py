"""A failing environment and hand-edited state (SPEC 2 and 7): the user's to fix, said in one
line with exit 2, never a traceback; nothing written through a symlink; nothing lost once fixed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_CONFIG, ROOT, inject_bug, nth
from tests.test_durability import monitor, outputs, simulate


def _monitor(run_cli, data: Path, log: Path, *extra: str) -> tuple[int, str]:
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", log, "-q", *extra)
    return code, err


def _user_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A 300-cycle shift (about 500 kB of metrics) and the outputs of one uninterrupted run."""
    from logloom.cli import main

    work = tmp_path_factory.mktemp("shift")
    log = work / "shift.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(log), "--quiet", "--cycles", "300",
                 "--seed", "13", "--garbage", "0.01"]) == 0
    assert main(["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(work / "whole"), "--logs", str(log),
                 "-q"]) == 0
    return log, outputs(work / "whole")


def _halves(log: Path, into: Path) -> tuple[Path, bytes]:
    """``into`` gets the first half of ``log`` (whole lines); returns it and the rest."""
    content = log.read_bytes()
    cut = content.rfind(b"\n", 0, len(content) // 2) + 1
    into.write_bytes(content[:cut])
    return into, content[cut:]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, where this test may mount one (root, and a kernel that lets it)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (full disk and read-only data dirs are simulated with one)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)


# -- full disk, read-only -----------------------------------------------------------------
def test_a_full_disk_is_the_users_to_fix_and_loses_nothing(tmpfs: Path, shift, tmp_path: Path, run_cli) -> None:
    log, expected = shift
    _remount(tmpfs, "size=384k")  # room for the metrics of half the shift, not of all of it
    data = tmpfs / "data"
    live, rest = _halves(log, tmp_path / "shift.log")
    monitor(run_cli, data, live)
    lines_done = live.read_bytes().count(b"\n")
    with live.open("ab") as fh:
        fh.write(rest)
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "No space left on device", str(data / "process_metrics.csv"))
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err
    assert "crash" not in err and "snapshot" not in err  # none was written: none is claimed
    assert "as of the last checkpoint" in err and f"after line {lines_done})" in err, err
    _remount(tmpfs, "size=16m")  # the user frees space
    monitor(run_cli, data, live)
    assert outputs(data) == expected


def test_a_read_only_data_dir_is_the_users_to_fix(tmpfs: Path, shift, tmp_path: Path, run_cli) -> None:
    log, expected = shift
    _remount(tmpfs, "size=16m")
    data = tmpfs / "data"
    live, rest = _halves(log, tmp_path / "live.log")
    monitor(run_cli, data, live)
    before = outputs(data)
    with live.open("ab") as fh:
        fh.write(rest)
    _remount(tmpfs, "ro")
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "Read-only file system", ".logloom.lock", "nothing was written")
    _remount(tmpfs, "rw")
    assert outputs(data) == before
    monitor(run_cli, data, live)
    produced = outputs(data)
    produced["rejected_lines.log"] = produced["rejected_lines.log"].replace(b"live.log:", b"shift.log:")
    assert produced == expected


# -- symlinks -------------------------------------------------------------------------------
def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "5")
    victim = tmp_path / "precious.conf"
    victim.write_text("do not touch\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / ".logloom.lock").symlink_to(victim)
    code, err = _monitor(run_cli, data, log)
    _user_error(code, err, ".logloom.lock", "symlink")
    assert victim.read_text() == "do not touch\n"


def test_no_output_is_written_through_a_symlink(tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "20")
    data = tmp_path / "data"
    monitor(run_cli, data, log)
    victim = tmp_path / "elsewhere.csv"
    victim.write_bytes(b"x" * 100_000)  # longer than the checkpoint says the metrics are
    (data / "process_metrics.csv").unlink()
    (data / "process_metrics.csv").symlink_to(victim)
    code, err = _monitor(run_cli, data, log)
    _user_error(code, err, "process_metrics.csv", "symlink")
    assert victim.read_bytes() == b"x" * 100_000


def test_a_report_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path, run_cli) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "20")
    data = tmp_path / "data"
    monitor(run_cli, data, log)
    victim = tmp_path / "index.html"
    victim.write_text("keep me")
    (data / "report.html").symlink_to(victim)
    code, _, err = run_cli("report", "--config", EXAMPLE_CONFIG, "--data", data)
    assert code == 0, err
    assert victim.read_text() == "keep me"
    assert not (data / "report.html").is_symlink() and "<html" in (data / "report.html").read_text().lower()


def test_a_crash_snapshot_is_not_written_through_a_symlinked_folder(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "20")
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (data / "snapshots").symlink_to(elsewhere, target_is_directory=True)
    inject_bug(monkeypatch, nth(50))
    code, err = _monitor(run_cli, data, log, "--serial")
    assert code == 1 and "injected bug" in err
    assert not list(elsewhere.iterdir())
    assert "no crash snapshot could be written" in err and "symlink" in err


def test_a_bug_says_where_its_crash_snapshot_is_only_when_it_was_written(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = simulate(run_cli, tmp_path / "s.log", "--cycles", "20")
    data = tmp_path / "data"
    inject_bug(monkeypatch, nth(1))
    code, err = _monitor(run_cli, data, log, "--serial")
    assert code == 1 and "internal error (a bug)" in err
    assert f"saved to {data / 'snapshots' / 'crash_state.json'}" in err
    assert (data / "snapshots" / "crash_state.json").exists()


# -- edited state ---------------------------------------------------------------------------
@pytest.fixture
def checkpointed(shift, tmp_path: Path, run_cli) -> tuple[Path, Path, bytes]:
    """Half the shift monitored into a data dir; returns (data, live log, the rest of the shift)."""
    log, _ = shift
    live, rest = _halves(log, tmp_path / "shift.log")
    data = tmp_path / "data"
    monitor(run_cli, data, live)
    return data, live, rest


def _edit_checkpoint(data: Path, change, *, reseal: bool = False) -> None:  # type: ignore[no-untyped-def]
    path = data / "machine_state.json"
    state = json.loads(path.read_text())
    change(state)
    if reseal:  # a tool that rewrites the checksum too: the content checks must still hold
        from logloom.outputs.state_store import state_checksum

        state["checksum"] = state_checksum(state)
    path.write_text(json.dumps(state, indent=1))


@pytest.mark.parametrize("change", [
    lambda s: s["source"].update(offset=-5),
    lambda s: s["source"].update(offset=s["source"]["offset"] + 7),
    lambda s: s["engine"]["components"][0].update(state="NO_SUCH_STATE"),
], ids=["offset-5", "offset+7", "unknown-state"])
def test_an_edited_checkpoint_is_refused_with_the_way_out(checkpointed, change, run_cli) -> None:
    data, live, rest = checkpointed
    with live.open("ab") as fh:
        fh.write(rest)
    before = outputs(data)
    _edit_checkpoint(data, change)
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "machine_state.json", "edited", "move")
    assert outputs(data) == before


def test_the_way_out_it_names_works(checkpointed, shift, run_cli) -> None:
    data, live, rest = checkpointed
    with live.open("ab") as fh:
        fh.write(rest)
    _edit_checkpoint(data, lambda s: s["source"].update(offset=s["source"]["offset"] + 7))
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "monitor --from-start")
    code, err = _monitor(run_cli, data, live, "--from-start")
    assert code == 0, err
    assert outputs(data) == shift[1]
    assert list((data / "runs").iterdir())  # the refused state was kept, not deleted


def test_an_unknown_state_is_refused_even_with_a_matching_checksum(checkpointed, run_cli) -> None:
    data, live, _ = checkpointed
    _edit_checkpoint(data, lambda s: s["engine"]["components"][1].update(state="NO_SUCH_STATE"), reseal=True)
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "NO_SUCH_STATE", "does not have", "move")


def test_a_negative_offset_is_refused_even_with_a_matching_checksum(checkpointed, run_cli) -> None:
    data, live, _ = checkpointed
    _edit_checkpoint(data, lambda s: s["source"].update(offset=-5), reseal=True)
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "negative offset", "move")


def test_an_output_edited_before_its_end_is_refused(checkpointed, run_cli) -> None:
    """One byte more in the middle of the metrics would merge two rows after the cut."""
    data, live, rest = checkpointed
    with live.open("ab") as fh:
        fh.write(rest)
    metrics = data / "process_metrics.csv"
    text = metrics.read_bytes()
    metrics.write_bytes(text[: len(text) // 2] + b"9" + text[len(text) // 2 :])
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "process_metrics.csv", "edited", "move")


def test_an_output_shorter_than_its_checkpoint_is_refused(checkpointed, run_cli) -> None:
    data, live, _ = checkpointed
    metrics = data / "process_metrics.csv"
    with metrics.open("r+b") as fh:
        fh.truncate(metrics.stat().st_size - 10)
    code, err = _monitor(run_cli, data, live)
    _user_error(code, err, "process_metrics.csv", "shorter", "move")


def test_a_fifo_without_a_writer_does_not_keep_monitor_from_stopping(tmp_path: Path) -> None:
    """A FIFO is read as a stream (no resume); opening one waits for its writer, and SIGTERM
    ends that wait at once."""
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    cmd = [sys.executable, "-m", "logloom", "monitor", "--config", str(EXAMPLE_CONFIG), "--data",
           str(tmp_path / "d"), "--logs", str(fifo)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not _waits_in_open(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0 and "Traceback" not in err, err
    assert time.monotonic() - sent < 2.0


def _waits_in_open(pid: int) -> bool:
    """True once ``pid`` sleeps in the kernel with the FIFO not yet open (its wait channel)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() in ("fifo_open", "wait_for_partner")
    except OSError:
        return False


@pytest.mark.parametrize("name", ["rejected_lines.log", "process_metrics.csv", "process_metrics_part2.csv"])
def test_a_log_that_is_one_of_monitor_s_outputs_is_refused_untouched(tmp_path: Path, run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    """``--logs DATA/rejected_lines.log`` (directly or through a link): the monitor would
    truncate the very log it reads. Refused with exit 2; the file keeps every byte."""
    data = tmp_path / "data"
    data.mkdir()
    log = data / name
    text = b"2026-01-21 10:04:50 [INFO] Pallet P-1 arrived at L1\n"
    log.write_bytes(text)
    link = tmp_path / "line.log"
    link.symlink_to(log)
    for given in (log, link):
        for extra in ((), ("--from-start",)):
            code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", given, *extra)
            assert code == 2, err
            assert f"{given}: is {name}, an output of monitor in --data {data}" in err
            assert log.read_bytes() == text
