"""The fleet without a scheduler (a LocalCluster on 127.0.0.1), pooled baselines and peers;
the fleet file's checks and the order of rotated logs (no Dask needed for those)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logloom.config.load import load_config
from logloom.errors import ConfigError
from logloom.fleet.logs import Ledger, expand
from logloom.fleet.spec import load_fleet
from tests.fleet.test_fleet_dask import simulate
from tests.helpers import EXAMPLE_CONFIG, ROOT

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
    files = expand((str(tmp_path / "sd.log*"),), config)
    assert [p.name for p in files] == ["sd.log.2", "sd.log.1", "sd.log", "sd.log.3"]
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


def test_without_the_fleet_extra_logloom_works_and_fleet_says_how_to_install_it(tmp_path: Path) -> None:
    fleet = _write(tmp_path / "fleet.yaml", f"data: d\nsources:\n  - {{name: a, config: {EXAMPLE_CONFIG}, logs: x}}\n")
    script = (
        "import sys\n"
        "for name in ('dask', 'distributed', 'pyarrow', 'duckdb'):\n"
        "    sys.modules[name] = None  # as if the extra were not installed\n"
        "import logloom\n"
        "from logloom.cli import main\n"
        f"assert main(['validate', '--config', {str(EXAMPLE_CONFIG)!r}]) == 0\n"
        f"sys.exit(main(['fleet', 'monitor', {str(fleet)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "pip install 'logloom[fleet]'" in done.stderr and "Traceback" not in done.stderr
