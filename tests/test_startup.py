"""Start-up: a quiet monitor with nothing to report loads no module it does not use;
what start-up built is kept out of the loop's garbage collections."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from logloom.main import GC_YOUNG_THRESHOLD
from logloom.parse.log_parser import ParsedBlock
from logloom.run import Run
from tests.helpers import EXAMPLE_CONFIG, ROOT

LOG = ROOT / "data" / "machine_logs.txt"
# rich draws progress, tables and notices; multiprocessing runs the parse worker for large files;
# the authoring tools (test, coverage) and the template miner they use are no part of a run
NOT_NEEDED = ("rich", "multiprocessing", "logloom.report.summary", "logloom.authoring", "drain3", "jsonpickle",
              "cachetools")


@pytest.mark.parametrize("baseline", [True, False], ids=["scored", "warning"])
def test_a_quiet_monitor_loads_no_terminal_ui_and_no_worker(baseline: bool, tmp_path: Path, run_cli) -> None:
    """Without a baseline it warns: on a pipe that is a plain line, without rich."""
    data = tmp_path / "data"
    if baseline:
        assert run_cli("record", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", LOG, "-q")[0] == 0
    args = ["monitor", "--config", str(EXAMPLE_CONFIG), "--data", str(data), "--logs", str(LOG), "-q"]
    script = (
        "import sys\n"
        "from logloom.cli import main\n"
        f"status = main({args!r})\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({NOT_NEEDED!r}))\n"
        "print(status, loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    warning = "" if baseline else f"warning: no active baseline ({data / 'process_baseline.json'}): metrics are"
    assert (done.stdout.strip(), done.stderr[: len(warning)]) == ("0 []", warning)
    assert bool(done.stderr) != baseline and done.stderr.count("\n") <= 1


def test_the_loop_runs_with_start_up_frozen_and_fewer_collections(
        tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, bool]] = []
    feed = Run.feed

    def watched(self: Run, parsed: ParsedBlock) -> None:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        feed(self, parsed)

    monkeypatch.setattr(Run, "feed", watched)
    before = gc.get_threshold()
    data = tmp_path / "data"
    assert run_cli("record", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", LOG, "-q")[0] == 0
    assert run_cli("monitor", "--config", EXAMPLE_CONFIG, "--data", data, "--logs", LOG, "-q")[0] == 0
    assert seen and set(seen) == {(GC_YOUNG_THRESHOLD, True)}
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)  # as it was, afterwards


@pytest.mark.parametrize(("config", "status"), [(EXAMPLE_CONFIG, 0), (ROOT / "no-such-config", 2)])
def test_python_m_logloom_exits_with_mains_status(config: Path, status: int) -> None:
    done = subprocess.run([sys.executable, "-m", "logloom", "validate", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == status, done.stderr


@pytest.mark.parametrize("args", [["--version"], ["monitor", "--help"], ["record", "--help"]])
def test_version_and_help_load_no_stage(args: list[str]) -> None:
    """Neither numpy, pydantic, YAML nor any stage of the pipeline: they are for the commands that run."""
    heavy = ("numpy", "pydantic", "yaml", "hyperscan", "logloom.config", "logloom.parse", "logloom.engine",
             "logloom.detect", "logloom.outputs", "logloom.main", "logloom.run")
    script = ("import sys\nfrom logloom.cli import main\n"
              f"status = main({args!r})\n"
              f"print(status, sorted(m for m in sys.modules if m.startswith({heavy!r})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
