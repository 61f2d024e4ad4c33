"""Shared test constants and helpers (conftest.py keeps only fixtures and options)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config"
WALKTHROUGH_CONFIG = ROOT / "examples" / "walkthrough" / "config"

if TYPE_CHECKING:
    from logloom.records import StateChange


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


def inject_bug(monkeypatch: Any, strike: Callable[[StateChange], bool]) -> Callable[[], None]:
    """Make every Run's engine raise ``RuntimeError("injected bug")`` from inside the step
    whose state change ``strike`` picks: after the change is made (rows written, state
    moved), before the step ends. Through an observer, so it strikes inside the compiled
    engine too, where a method patched on the class would never be called. Returns the
    fix: a call that makes the runs after it bug-free again."""
    from logloom.records import Observer
    from logloom.run import Run

    class Bug(Observer):
        def on_state_change(self, change: StateChange) -> None:
            if strike(change):
                raise RuntimeError("injected bug")

    real_init = Run.__init__

    def init(self: Run, config: Any, out_dir: Path, options: Any, **kwargs: Any) -> None:
        options.observers = [*options.observers, Bug()]
        real_init(self, config, out_dir, options, **kwargs)

    monkeypatch.setattr(Run, "__init__", init)
    return lambda: monkeypatch.setattr(Run, "__init__", real_init)


def nth(n: int) -> Callable[[StateChange], bool]:
    """A ``strike`` for ``inject_bug``: the ``n``th state change of the run."""
    seen = [0]

    def strike(change: StateChange) -> bool:
        seen[0] += 1
        return seen[0] == n

    return strike
