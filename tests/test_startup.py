"""Start-up: a quiet monitor with nothing to report loads no module it does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import EXAMPLE_CONFIG, ROOT

LOG = ROOT / "data" / "machine_logs.txt"
# rich draws progress, tables and notices; multiprocessing runs the parse worker for large files
NOT_NEEDED = ("rich", "multiprocessing", "logloom.summary")


def test_a_quiet_monitor_with_nothing_to_say_loads_no_terminal_ui_and_no_worker(tmp_path: Path, run_cli) -> None:
    data = tmp_path / "data"
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
    assert (done.stdout.strip(), done.stderr) == ("0 []", "")
