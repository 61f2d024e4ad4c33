"""The fleet without a scheduler (a LocalCluster on 127.0.0.1), pooled baselines and peers;
the fleet file's checks and the order of rotated logs (no Dask needed for those)."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from logloom.config.load import load_config
from logloom.errors import ConfigError
from logloom.fleet.logs import Ledger, expand
from logloom.fleet.spec import load_fleet
from tests.fleet.test_fleet_dask import simulate
from tests.helpers import EXAMPLE_CONFIG, FLEET_EXTRA, ROOT, run_without
from tests.integrations.live import wait_for

SCREWDRIVER = ROOT / "examples" / "screwdriver_berlin"


def test_pooled_baselines_on_a_local_cluster_flag_the_machine_unlike_its_peers(tmp_path: Path, run_cli) -> None:
    """Four machines of one type learn one baseline; in the next shift m3's first dispenser
    slows by 1 % a cycle (its median ends some 30 % above its peers')."""
    lines = ["data: out", "sources:"]
    for i in range(4):
        simulate(run_cli, tmp_path / f"m{i}" / "good.log", 120, "--seed", str(40 + i))
        slow = ["--anomalies", "drift:l1_dispenser.process_cycle_time@1+0.01"] if i == 3 else []
        simulate(run_cli, tmp_path / f"m{i}" / "shift.log", 60, "--seed", str(50 + i), *slow)
        lines.append(f"  - {{name: m{i}, config: {EXAMPLE_CONFIG}, logs: m{i}/shift.log, record_logs: m{i}/good.log,"
                     f" type: dispense_line}}")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli("fleet", "record", fleet, "--workers", "2", "--pooled")
    assert code == 0, err + out
    assert "a local cluster (2 workers)" in err
    pooled = [json.loads((tmp_path / "out" / f"m{i}" / "process_baseline.json").read_text()) for i in range(4)]
    assert all(p["pooled"] == {"type": "dispense_line", "members": ["m0", "m1", "m2", "m3"]} for p in pooled)
    assert len({json.dumps(p["metrics"], sort_keys=True) for p in pooled}) == 1
    n = pooled[0]["metrics"]["l1_dispenser"]["process_cycle_time"]["n"]
    archived = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("m*/baselines/*/process_baseline.json")]
    own = [b for b in archived if "pooled" not in b]  # each machine's own baseline stays archived
    assert len(own) == 4 and len(archived) == 8
    assert n == sum(b["metrics"]["l1_dispenser"]["process_cycle_time"]["n"] for b in own)

    code, out, err = run_cli("fleet", "monitor", fleet, "--workers", "2")
    assert code == 0, err + out
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())
    unlike = {(f["source"], f["component_id"], f["metric_name"]) for f in summary["peers"]["unlike_peers"]}
    assert ("m3", "l1_dispenser", "process_cycle_time") in unlike
    assert not {u for u in unlike if u[0] != "m3"}, unlike
    assert "unlike its peers: m3 l1_dispenser.process_cycle_time" in out
    # the same rows scored against the peers' limits: m3's slow cycles are anomalies
    anomalies = (tmp_path / "out" / "m3" / "anomalies.csv").read_text()
    assert anomalies.count("l1_dispenser,process_cycle_time") > 5


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_bad_fleet_file_names_file_line_and_key(tmp_path: Path) -> None:
    fleet = _write(tmp_path / "fleet.yaml", "data: d\nsources:\n  - name: a\n    config: c\n    logs: x.log\n"
                   "  - name: a\n    config: c\n    log: y.log\n  - name: 'b c'\n    config: c\n    logs: z\n")
    with pytest.raises(ConfigError) as info:
        load_fleet(fleet)
    text = str(info.value)
    assert f"{fleet}:8: sources[1].log: unknown key (hint: did you mean 'logs'?" in text
    assert f"{fleet}:6: sources[1].logs: required key is missing" in text
    assert f"{fleet}:9: sources[2].name: String should match pattern" in text and "got 'b c'" in text


def test_a_duplicate_name_is_refused(tmp_path: Path) -> None:
    fleet = _write(tmp_path / "fleet.yaml", "data: d\nsources:\n  - {name: a, config: c, logs: x}\n"
                   "  - {name: a, config: c, logs: y}\n")
    with pytest.raises(ConfigError, match=r"fleet\.yaml:4: sources\[1\]\.name: the name 'a' is taken"):
        load_fleet(fleet)


def test_paths_are_relative_to_the_fleet_file(tmp_path: Path) -> None:
    fleet = load_fleet(_write(tmp_path / "plant" / "fleet.yaml",
                              "data: out\nsources:\n  - {name: a, config: cfg, logs: ['l/*.log', /abs.log]}\n"))
    assert fleet.data == tmp_path / "plant" / "out"
    assert fleet.sources[0].logs == (str(tmp_path / "plant" / "l" / "*.log"), "/abs.log")
    assert fleet.sources[0].record_logs == fleet.sources[0].logs


def test_rotated_logs_go_in_the_order_of_their_first_timestamp(tmp_path: Path) -> None:
    """German dates in another format and zone: the names sort against the time order."""
    config = load_config(SCREWDRIVER / "config")
    _write(tmp_path / "sd.log.1", "noise without a time\n02.04.2026 08:00:00,000 SD-01 Start\n")
    _write(tmp_path / "sd.log.2", "01.04.2026 23:59:59,000 SD-01 Start\n")
    _write(tmp_path / "sd.log", "10.04.2026 08:00:00,000 SD-01 Start\n")
    _write(tmp_path / "sd.log.3", "no timestamp at all\n")
    _gzip(tmp_path / "sd.log.4.gz", b"31.03.2026 07:00:00,000 SD-01 Start\n", 0)  # read as its content
    _gzip(tmp_path / "sd.log.1.gz", (tmp_path / "sd.log.1").read_bytes(), 0)  # being compressed: its twin counts
    files = expand((str(tmp_path / "sd.log*"),), config)
    assert [p.name for p in files] == ["sd.log.4.gz", "sd.log.2", "sd.log.1", "sd.log", "sd.log.3"]
    with pytest.raises(Exception, match="no log file matches"):
        expand((str(tmp_path / "nothing*.log"),), config)


def test_the_ledger_knows_a_finished_file_after_rotation_renamed_it(tmp_path: Path) -> None:
    log = _write(tmp_path / "m.log", "2026-01-21 10:00:00 a\n")
    ledger = Ledger(tmp_path)
    assert ledger.pending(log) and ledger.new(log)
    ledger.finish(log, log.stat().st_size)
    os.replace(log, tmp_path / "m.log.1")
    again = Ledger(tmp_path)  # read back from fleet_files.json
    assert not again.pending(tmp_path / "m.log.1") and not again.new(tmp_path / "m.log.1")
    with (tmp_path / "m.log.1").open("a") as fh:
        fh.write("2026-01-21 10:00:05 b\n")
    assert again.pending(tmp_path / "m.log.1")
    # a ledger of version 1 (no digests) reads as it did
    (tmp_path / "fleet_files.json").write_text(json.dumps({"schema_version": 1, "files": [
        {"identity": json.loads((tmp_path / "fleet_files.json").read_text())["files"][0]["identity"], "offset": 5}]}))
    assert Ledger(tmp_path).pending(tmp_path / "m.log.1") and not Ledger(tmp_path).new(tmp_path / "m.log.1")


def test_without_the_fleet_extra_logloom_works_and_fleet_says_how_to_install_it(tmp_path: Path) -> None:
    fleet = _write(tmp_path / "fleet.yaml", f"data: d\nsources:\n  - {{name: a, config: {EXAMPLE_CONFIG}, logs: x}}\n")
    done = run_without(FLEET_EXTRA, "fleet", "monitor", fleet)
    assert done.returncode == 2, done.stderr
    assert "pip install 'logloom[fleet]'" in done.stderr and "Traceback" not in done.stderr


def test_a_followed_fleet_reads_what_is_appended_and_stops_cleanly_on_sigterm(tmp_path: Path, run_cli) -> None:
    full = simulate(run_cli, tmp_path / "full.log", 80, "--seed", "61", "--sparse", "0.3")
    content = full.read_bytes()
    half = content.index(b"\n", len(content) // 2) + 1
    log = tmp_path / "live.log"
    log.write_bytes(content[:half])
    fleet = _write(tmp_path / "fleet.yaml", f"data: out\nsources:\n  - {{name: live, config: {EXAMPLE_CONFIG}, "
                   f"logs: live.log}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "logloom", "fleet", "monitor", str(fleet), "--workers", "1",
                             "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        state = tmp_path / "out" / "live" / "machine_state.json"

        def offset() -> int:
            try:
                return int(json.loads(state.read_text())["source"]["offset"])
            except (OSError, ValueError, KeyError):
                return -1

        wait_for(lambda: offset() == half, timeout=120, what="the first half read")
        with log.open("ab") as fh:  # the machine writes on
            fh.write(content[half:])
        wait_for(lambda: offset() == len(content), timeout=60, what="the appended half read")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopping: every source flushes, checkpoints and ends" in err
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())
    assert summary["failed"] == [] and summary["sources"][0]["lines_read"] == content.count(b"\n")
    code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "plain", "--logs", full, "-q",
                           "--parquet")
    assert code == 0, err
    for name in ("process_metrics.csv", "rejected_lines.log"):
        assert (tmp_path / "out" / "live" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    assert (tmp_path / "out" / "parquet" / "source=live" / "part-00001.parquet").read_bytes() == \
        (tmp_path / "plain" / "parquet" / "source=full" / "part-00001.parquet").read_bytes()


def _gzip(path: Path, data: bytes, mtime: float) -> Path:
    """``data`` compressed into ``path``, which keeps the original's modification time (as gzip does)."""
    with gzip.open(path, "wb") as fh:
        fh.write(data)
    os.utime(path, (mtime, mtime))
    return path


def test_a_glob_reads_gzip_rotated_files_in_time_order_and_never_twice(tmp_path: Path, run_cli) -> None:
    """``line.log*`` over logrotate's files (``line.log.2.gz``, ``line.log.1``, ``line.log``): the
    outputs equal plain monitors of those files in time order. Then the live file grows and one
    more rotation comes (the .1 compressed into a new .2.gz, the old one renamed .3.gz, the live
    one renamed .1): the grown file is resumed where it was left, the new one read, nothing twice,
    and no warning."""
    content = simulate(run_cli, tmp_path / "full.log", 90, "--seed", "71", "--garbage", "0.02").read_bytes()
    cuts = [0, *(content.index(b"\n", len(content) * k // 4) + 1 for k in (1, 2, 3)), len(content)]
    parts = [content[a:b] for a, b in itertools.pairwise(cuts)]
    logs = tmp_path / "logs"
    logs.mkdir()
    live, one = logs / "line.log", logs / "line.log.1"
    grown = parts[2].index(b"\n", len(parts[2]) // 2) + 1  # the live file's lines when the fleet first reads it
    live.write_bytes(parts[2][:grown])
    one.write_bytes(parts[1])
    now = live.stat().st_mtime
    os.utime(one, (now - 3600, now - 3600))  # each file last written an hour after the one before
    _gzip(logs / "line.log.2.gz", parts[0], now - 7200)
    fleet = _write(tmp_path / "fleet.yaml", f"data: out\nsources:\n  - {{name: line, config: {EXAMPLE_CONFIG}, "
                   "logs: 'logs/line.log*'}\n")
    code, out, err = run_cli("fleet", "monitor", fleet, "--workers", "1")
    assert code == 0, err + out

    def plain(log: Path) -> None:
        code, _, err = run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "plain", "--logs", log, "-q")
        assert code == 0, err

    for log in (logs / "line.log.2.gz", one, live):
        plain(log)

    def same_outputs() -> None:
        for name in ("process_metrics.csv", "rejected_lines.log"):
            assert (tmp_path / "out" / "line" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()

    same_outputs()
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())
    assert summary["sources"][0]["files"] == 3
    assert summary["sources"][0]["lines_read"] == content[: cuts[2] + grown].count(b"\n")

    with live.open("ab") as fh:  # the machine writes on, then logrotate renames,
        fh.write(parts[2][grown:])
    os.replace(logs / "line.log.2.gz", logs / "line.log.3.gz")
    _gzip(logs / "line.log.2.gz", one.read_bytes(), one.stat().st_mtime)  # compressed (a new file),
    one.unlink()
    os.replace(live, one)  # the live file renamed (it grew since it was read) and a new one begun
    live.write_bytes(parts[3])
    code, out, err = run_cli("fleet", "monitor", fleet, "--workers", "1")
    assert code == 0, err + out
    plain(live)  # a plain monitor finds the rotated file and reads the new one
    same_outputs()
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())
    assert summary["sources"][0]["lines_read"] == (parts[2][grown:] + parts[3]).count(b"\n")
    assert summary["sources"][0]["files"] == 1  # the renamed file read by monitor of line.log, as plainly
    assert not [n for n in summary["sources"][0]["notices"] if "not read" in n or "went back" in n]
    code, out, err = run_cli("fleet", "monitor", fleet, "--workers", "1")  # nothing new: nothing read, no warning
    assert code == 0, err + out
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())
    assert summary["sources"][0]["lines_read"] == 0 and summary["sources"][0]["files"] == 0
    assert not [n for n in summary["sources"][0]["notices"] if "not read" in n]
    same_outputs()


def test_a_file_that_grew_and_was_renamed_alone_is_resumed_where_it_was_left(tmp_path: Path, run_cli) -> None:
    """No new file under the old name: the renamed one is the checkpoint's file (its inode)
    and is read on from the checkpoint's offset, not warned about nor read twice."""
    content = simulate(run_cli, tmp_path / "full.log", 40, "--seed", "73").read_bytes()
    half = content.index(b"\n", len(content) // 2) + 1
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_bytes(content[:half])
    fleet = _write(tmp_path / "fleet.yaml", f"data: out\nsources:\n  - {{name: s, config: {EXAMPLE_CONFIG}, "
                   "logs: 'logs/*.log'}\n")
    assert run_cli("fleet", "monitor", fleet, "--workers", "1")[0] == 0
    with (tmp_path / "logs" / "a.log").open("ab") as fh:
        fh.write(content[half:])
    os.replace(tmp_path / "logs" / "a.log", tmp_path / "logs" / "b.log")
    code, out, err = run_cli("fleet", "monitor", fleet, "--workers", "1")
    assert code == 0, err + out
    summary = json.loads((tmp_path / "out" / "fleet_summary.json").read_text())["sources"][0]
    assert summary["lines_read"] == content[half:].count(b"\n") and summary["files"] == 1
    assert not [n for n in summary["notices"] if "not read" in n]
    assert run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", tmp_path / "plain", "--logs", tmp_path / "full.log",
                   "-q")[0] == 0
    metrics = "process_metrics.csv"
    assert (tmp_path / "out" / "s" / metrics).read_bytes() == (tmp_path / "plain" / metrics).read_bytes()
