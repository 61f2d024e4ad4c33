"""stdin and single lines: ``--logs -`` for parse, record and monitor (the real CLI, stdin
piped), ``parse --line``, and a stream that has nothing to say still stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import EXAMPLE_CONFIG, ROOT, WALKTHROUGH_CONFIG, read_rows
from tests.parse.test_follow import _wait_for

WALK = (ROOT / "examples" / "walkthrough" / "input.log").read_bytes()
CYCLE_ROW = ["2026-01-21T10:05:15", "l1_dispenser", "process_cycle_time", "15.0", "s", "DISPENSING"]


def logloom(*args: str | Path, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logloom", *map(str, args)], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=timeout, check=False)


def test_parse_reads_stdin_with_a_dash_and_through_dev_stdin() -> None:
    lines = (b"2026-01-21 10:00:00 Clamp closed at L1\nnoise\n2026-01-21 10:00:01 heartbeat\n"
             b"2026-01-21 10:00:02 Process finished volume=12.5ml")  # the last line has no newline
    for source in ("-", "/dev/stdin"):
        done = logloom("parse", "--config", EXAMPLE_CONFIG, "--logs", source, "--all", stdin=lines)
        assert done.returncode == 0, done.stderr
        got = [json.loads(line) for line in done.stdout.splitlines()]
        assert [sorted(g)[-1] for g in got] == ["time", "text", "unmatched", "time"]
        assert (got[0]["event"], got[0]["target"], got[3]["fields"]) == ("CLAMP_CLOSE", "L1", {"volume": 12.5})
        assert b"4 lines: 2 events, 1 unmatched, 1 malformed" in done.stderr


def test_monitor_reads_stdin_says_there_is_no_resume_and_carries_states(tmp_path: Path) -> None:
    head, tail = WALK.split(b"\n", 2)[:2], WALK.split(b"\n", 2)[2]
    data = tmp_path / "data"
    first = logloom("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", "-",
                    stdin=b"\n".join(head) + b"\n")
    assert first.returncode == 0, first.stderr
    assert b"no resume for a stream" in first.stderr
    assert read_rows(data / "process_metrics.csv") == []
    # a second stream into the same data: the dispenser is still DISPENSING from the first
    second = logloom("monitor", "--config", WALKTHROUGH_CONFIG, "--data", data, "--logs", "-", "-q", stdin=tail)
    assert second.returncode == 0, second.stderr
    assert read_rows(data / "process_metrics.csv") == [CYCLE_ROW]
    summary = json.loads((data / "run_summary.json").read_text())
    assert (summary["lines_read"], summary["events"], summary["rows_written"]) == (3, 3, 1)


def test_monitor_takes_lines_from_a_live_stream_as_they_come(tmp_path: Path) -> None:
    """A pipe that stays open: lines are processed (and checkpointed) before the stream
    ends, and SIGTERM stops a monitor that is waiting for more."""
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "logloom", "monitor", "--config", str(WALKTHROUGH_CONFIG),
                             "--data", str(data), "--logs", "-", "-q", "--checkpoint-every", "0.05"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdin is not None
        proc.stdin.write(WALK)
        proc.stdin.flush()
        metrics = data / "process_metrics.csv"
        _wait_for(lambda: metrics.exists() and len(read_rows(metrics)) == 1, "the row of the live stream")
        _wait_for(lambda: (data / "machine_state.json").exists(), "a checkpoint")
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert time.monotonic() - start < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert read_rows(metrics) == [CYCLE_ROW]
    assert json.loads((data / "machine_state.json").read_text())["stats"]["lines_read"] == 3


def test_record_learns_from_stdin(tmp_path: Path) -> None:
    shift = tmp_path / "shift.log"
    made = logloom("simulate", "--config", EXAMPLE_CONFIG, "--out", shift, "--cycles", "40", "--seed", "3", "-q")
    assert made.returncode == 0, made.stderr
    piped = logloom("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "piped", "--logs", "-", "-q",
                    stdin=shift.read_bytes())
    from_file = logloom("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "file", "--logs", shift, "-q")
    assert piped.returncode == 0 and from_file.returncode == 0, piped.stderr
    (piped_dir,), (file_dir,) = (list((tmp_path / d / "baselines").iterdir()) for d in ("piped", "file"))
    assert (piped_dir / "process_metrics.csv").read_bytes() == (file_dir / "process_metrics.csv").read_bytes()
    assert json.loads((piped_dir / "process_baseline.json").read_text())["metrics"] == \
        json.loads((file_dir / "process_baseline.json").read_text())["metrics"]
    twice = logloom("record", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "twice", "--logs", "-",
                    "--logs", "-", "-q")
    assert twice.returncode == 2 and b"stdin can be read only once" in twice.stderr


def test_parse_line_says_what_one_line_becomes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli("parse", "--config", EXAMPLE_CONFIG,
                           "--line", "2026-01-21 10:00:02 Process finished volume=12.5ml",
                           "--line", "2026-01-21 10:00:03 [DEBUG] heartbeat 7",
                           "--line", "2026-01-21 10:00:04 Process finished volume=1.2.3ml",
                           "--line", "no time here")
    assert code == 0
    event, unmatched, bad_field, no_time = (json.loads(line) for line in out.splitlines())
    assert event == {"line": 1, "time": "2026-01-21T10:00:02", "event": "PROCESS_END", "target": None,
                     "component": None, "routed": "at run time, first in first out (SPEC 4.2)",
                     "target_type": "dispenser", "pattern": "process_finished", "fields": {"volume": 12.5}}
    assert unmatched == {"line": 2, "unmatched": "2026-01-21 10:00:03 [DEBUG] heartbeat 7",
                         "time": "2026-01-21T10:00:03", "reason": "no pattern matches the text after the timestamp",
                         "searched": " [DEBUG] heartbeat 7"}
    assert bad_field == {"line": 3, "malformed": "field 'volume' of pattern 'process_finished': '1.2.3' is not float",
                         "text": "2026-01-21 10:00:04 Process finished volume=1.2.3ml"}
    assert no_time == {"line": 4, "malformed": "no timestamp", "text": "no time here"}
    code, _, err = run_cli("parse", "--config", EXAMPLE_CONFIG, "--line", "x", "--logs", "-")
    assert code == 2 and "not both" in err


def test_a_byte_order_mark_at_the_start_of_a_stream_is_not_part_of_its_first_line() -> None:
    lines = b"\xef\xbb\xbf2026-01-21 10:00:00 Clamp closed at L1\n2026-01-21 10:00:02 Process finished volume=12.5ml\n"
    done = logloom("parse", "--config", EXAMPLE_CONFIG, "--logs", "-", "--all", stdin=lines)
    assert done.returncode == 0, done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert [g.get("event") for g in got] == ["CLAMP_CLOSE", "PROCESS_END"]


def test_parse_line_reads_invalid_utf8_and_a_carriage_return_as_a_log_line_would() -> None:
    """``--line`` with bytes from a latin-1 log pasted into a shell, as in a file: invalid
    UTF-8 replaced (U+FFFD), a trailing CR dropped; never a lone surrogate in the JSON."""
    text = b"2026-01-21 10:00:00 \xdcberlast Spindel 2\r"
    done = subprocess.run([sys.executable, "-m", "logloom", "parse", "--config", str(EXAMPLE_CONFIG),
                           "--line", text], capture_output=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    done.stdout.decode("utf-8")  # strict: valid UTF-8
    (got,) = [json.loads(line) for line in done.stdout.splitlines()]
    log = subprocess.run([sys.executable, "-m", "logloom", "parse", "--config", str(EXAMPLE_CONFIG), "--logs", "-",
                          "--all"], input=text + b"\n", capture_output=True, cwd=ROOT, timeout=60, check=False)
    assert got == json.loads(log.stdout)
    assert got["searched"] == " \ufffdberlast Spindel 2"
