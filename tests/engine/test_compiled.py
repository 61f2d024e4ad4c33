"""The engine's build: pure Python (the default) or compiled by mypyc (``LOGLOOM_COMPILE=1``;
the engine's modules and the scorer's drift recursions).

scripts/test runs the engine's, the golden and the durability tests a second time on a
compiled build, with ``LOGLOOM_EXPECT_COMPILED=1``: these tests make sure that pass did
test compiled modules, and that the first pass did not (a C extension left beside an
edited source file would shadow it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

import logloom.detect.drift
import logloom.engine.captures
import logloom.engine.engine
import logloom.engine.inventory
import logloom.engine.machine

EXPECT_COMPILED = os.environ.get("LOGLOOM_EXPECT_COMPILED", "") == "1"


@pytest.mark.parametrize("module", [logloom.engine.captures, logloom.engine.engine, logloom.engine.inventory,
                                    logloom.engine.machine, logloom.detect.drift])
def test_the_engine_modules_are_the_build_expected(module: object) -> None:
    origin = str(getattr(module, "__file__", ""))
    compiled = any(origin.endswith(suffix) for suffix in EXTENSION_SUFFIXES)
    assert compiled == EXPECT_COMPILED, origin


def test_version_says_how_the_engine_was_built() -> None:
    done = subprocess.run([sys.executable, "-m", "logloom", "--version"], capture_output=True, text=True,
                          timeout=60, check=True)
    build = "compiled" if EXPECT_COMPILED else "pure Python"
    assert done.stdout.strip().endswith(f"(engine: {build})"), done.stdout
