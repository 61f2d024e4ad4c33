"""Hostile logs exit 0 and the good lines around the bad ones are still measured."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.helpers import WALKTHROUGH_CONFIG, read_rows

GOOD = (
    b"2026-01-21 10:04:50 [INFO] Pallet P-1 arrived at L1\n"
    b"2026-01-21 10:05:00 [INFO] Dispensing Started at L1\n"
)
END = b"2026-01-21 10:05:15 [INFO] Process finished"
EXPECTED = [["2026-01-21T10:05:15", "l1_dispenser", "process_cycle_time", "15.0", "s", "DISPENSING"]]


def _monitor(run_cli, tmp_path: Path, content: bytes) -> tuple[list[list[str]], Path]:
    log = tmp_path / "hostile.log"
    log.write_bytes(content)
    data = tmp_path / "data"
    code, _, err = run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", log, "-q")
    assert code == 0, err
    return read_rows(data / "process_metrics.csv"), data


@pytest.mark.parametrize(
    "content",
    [
        GOOD + END + b"\n",
        (GOOD + END + b"\n").replace(b"\n", b"\r\n"),  # CRLF
        GOOD + b"\xff\xfe\xc3(\x80 invalid utf-8\n" + END + b"\n",
        GOOD + b"2026-01-21 10:05:01 \x00\x00 NUL bytes \x00\n" + END + b"\n",
        GOOD + b"x" * (5 << 20) + b"\n" + END + b"\n",  # a 5 MB line
        GOOD + b"2026-01-21 10:05:02 " + b"y" * (5 << 20) + b"\n" + END + b"\n",
        GOOD + bytes(random.Random(7).randrange(256) for _ in range(20000)).replace(b"\n", b"") + b"\n" + END + b"\n",
    ],
    ids=["plain", "crlf", "invalid-utf8", "nul", "5mb-line", "5mb-timestamped", "random-bytes"],
)
def test_hostile_log_still_measures_good_lines(content: bytes, tmp_path: Path, run_cli) -> None:
    rows, _ = _monitor(run_cli, tmp_path, content)
    assert rows == EXPECTED


def test_a_last_line_without_newline_waits_for_it_in_monitor(tmp_path: Path, run_cli) -> None:
    rows, data = _monitor(run_cli, tmp_path, GOOD + END)
    assert rows == []  # "Process finished" may still be growing: not taken yet
    with (tmp_path / "hostile.log").open("ab") as fh:
        fh.write(b" volume=12.5ml\n")
    code, _, err = run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs",
                           tmp_path / "hostile.log", "-q")
    assert code == 0, err
    volume = ["2026-01-21T10:05:15", "l1_dispenser", "dispensed_volume", "12.5", "ml", "DISPENSING"]
    assert read_rows(data / "process_metrics.csv") == [*EXPECTED, volume]
    assert (data / "rejected_lines.log").read_text() == ""


def test_a_last_line_without_newline_is_read_by_record(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "shift.log"
    log.write_bytes(GOOD + END)
    code, _, err = run_cli("record", "--config", WALKTHROUGH_CONFIG, "--data", tmp_path / "d", "--logs", log, "-q")
    assert code == 0, err
    (archive,) = (tmp_path / "d" / "baselines").glob("baseline_*")
    assert read_rows(archive / "process_metrics.csv") == EXPECTED


def test_empty_log(tmp_path: Path, run_cli) -> None:
    rows, data = _monitor(run_cli, tmp_path, b"")
    assert rows == []
    assert (data / "process_metrics.csv").read_text().startswith("timestamp,component_id")


def test_random_bytes_only(tmp_path: Path, run_cli) -> None:
    blob = bytes(random.Random(3).randrange(256) for _ in range(200_000))
    rows, data = _monitor(run_cli, tmp_path, blob)
    assert rows == []
    rejected = (data / "rejected_lines.log").read_text()
    assert rejected.count("\n") == blob.count(b"\n")  # the unterminated last line waits for its newline


def test_rejected_lines_name_line_and_reason(tmp_path: Path, run_cli) -> None:
    _, data = _monitor(run_cli, tmp_path, GOOD + b"garbage\n" + b"z" * (3 << 20) + b"\n" + END + b"\n")
    lines = (data / "rejected_lines.log").read_text().splitlines()
    assert lines[0] == "hostile.log:3: no timestamp: garbage"
    assert lines[1].startswith(f"hostile.log:4: line too long ({3 << 20} bytes)")
    assert len(lines[1]) < 1000


BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark: Windows writers (.NET, PowerShell, Notepad) start a file with it


def test_a_byte_order_mark_at_the_start_of_the_file_does_not_cost_its_first_line(tmp_path: Path, run_cli) -> None:
    # the first line must be read as written: its station's pallet arrival, not "no timestamp"
    rows, data = _monitor(run_cli, tmp_path, BOM + (GOOD + END + b"\n").replace(b"\n", b"\r\n"))
    assert rows == EXPECTED
    assert (data / "rejected_lines.log").read_text() == ""
    code, out, _ = run_cli("parse", "--config", WALKTHROUGH_CONFIG, "--logs", tmp_path / "hostile.log", "--all")
    assert code == 0
    assert '"line": 1, "time": "2026-01-21T10:04:50"' in out.splitlines()[0]


def test_a_byte_order_mark_later_in_the_file_is_text_of_its_line(tmp_path: Path, run_cli) -> None:
    # only the start of a file can hold a BOM; elsewhere U+FEFF belongs to the line (and its offset counts)
    _, data = _monitor(run_cli, tmp_path, GOOD + BOM + END + b"\n")
    assert (data / "rejected_lines.log").read_text() == "hostile.log:3: no timestamp: \ufeff" + END.decode() + "\n"
