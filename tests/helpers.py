"""Shared test constants and helpers (conftest.py keeps only fixtures and options)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config"
WALKTHROUGH_CONFIG = ROOT / "examples" / "walkthrough" / "config"


def read_rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    return [line.split(",") for line in lines[1:]]


FLEET_EXTRA = ("dask", "distributed", "pyarrow", "duckdb")


def run_without(modules: tuple[str, ...], *argv: str | Path) -> subprocess.CompletedProcess[str]:
    """``logloom ARGV`` in a fresh interpreter where ``modules`` cannot be imported (as if an
    extra were not installed); ``import logloom`` and ``validate`` must work there."""
    script = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    sys.modules[name] = None\n"
        "import logloom\n"
        "from logloom.cli import main\n"
        f"assert main(['validate', '--config', {str(EXAMPLE_CONFIG)!r}]) == 0\n"
        f"sys.exit(main({[str(a) for a in argv]!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
