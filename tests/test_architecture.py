"""The package's layers (docs/architecture.md) hold, and the check catches a break.

The contracts live in pyproject.toml under ``[tool.importlinter]``; ``lint-imports``
(import-linter) checks them on the real import graph, indirect imports included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "logloom"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 400


def _lint(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_layers_hold() -> None:
    done = _lint(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("engine/engine.py", "from logloom.detect import scoring", "logloom.engine is not allowed to import logloom.detect"),
    ("engine/inventory.py", "import jinja2", "logloom.engine is not allowed to import jinja2"),
    ("parse/source.py", "from logloom.main import RunOptions", "logloom.parse is not allowed to import logloom.main"),
    ("config/schema.py", "import rich.console", "logloom.config is not allowed to import rich"),
    ("detect/stuck.py", "from logloom.viz import scene", "logloom.detect is not allowed to import logloom.viz"),
    ("engine/engine.py", "from logloom.integrations import mqtt",
     "logloom.engine is not allowed to import logloom.integrations"),
    ("integrations/common.py", "from logloom.viz import scene",
     "logloom.integrations is not allowed to import logloom.viz"),
    ("outputs/sinks.py", "import paho.mqtt.client", "logloom.outputs is not allowed to import paho"),
    ("lifecycle/resume.py", "from logloom.main import monitor", "logloom.lifecycle is not allowed to import logloom.main"),
])
def test_a_forbidden_import_breaks_the_check(tmp_path: Path, module: str, line: str, broken: str) -> None:
    """A copy of the package with one import added by hand fails, naming the import."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "logloom", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "logloom" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    done = _lint(tmp_path, tmp_path / "src")
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout, done.stdout


def test_the_copy_is_what_is_checked(tmp_path: Path) -> None:
    """The copy, unchanged, passes: the failures above come from the added lines."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "logloom", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path, tmp_path / "src").returncode == 0


def test_no_module_is_two_ideas() -> None:
    """A module past 400 lines is usually two ideas (STYLE.md)."""
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, long


def test_each_stage_is_a_package_with_a_docstring() -> None:
    stages = ["config", "logtime", "parse", "engine", "detect", "outputs", "viz", "integrations", "report",
              "simulator", "fleet", "lifecycle"]
    for stage in stages:
        init = PACKAGE / stage / "__init__.py"
        assert init.read_text().startswith('"""'), f"{stage}/__init__.py says what the stage owns"
    flat = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__", "__main__", "cli", "cli_options", "errors", "main", "records", "run", "series", "stopping",
                    "ui"], flat
