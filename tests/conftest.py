"""Shared helpers: temporary config directories and running the CLI in-process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from logloom.cli import main
from tests.helpers import WALKTHROUGH_CONFIG

# CI explores a fixed set of examples (a run that lands must pass again); locally each
# run draws new ones, which is where new failures are found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")



def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite examples/*/expected.csv")


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``logloom ARGS`` in-process; return (exit status, stdout, stderr)."""

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Copy a config dir, apply edits ``{file: {dotted.path: value}}`` or raw texts."""

    def make(base: Path = WALKTHROUGH_CONFIG, *, raw: dict[str, str] | None = None,
             edit: Callable[[dict[str, dict]], None] | None = None) -> Path:
        target = tmp_path / f"config_{len(list(tmp_path.glob('config_*')))}"
        shutil.copytree(base, target)
        if edit is not None:
            docs = {p.name: yaml.safe_load(p.read_text()) for p in target.glob("*.yaml")}
            edit(docs)
            for name, doc in docs.items():
                (target / name).write_text(yaml.safe_dump(doc, sort_keys=False))
        for name, text in (raw or {}).items():
            (target / name).write_text(text)
        return target

    return make

