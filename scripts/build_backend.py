"""The build backend: setuptools', plus mypy (for mypyc) when the engine is compiled.

``LOGLOOM_COMPILE=1 pip install .`` builds logloom with its engine compiled by mypyc
(see setup.py); this backend adds mypy to that build's requirements, so a plain install
never downloads it. Everything else is ``setuptools.build_meta`` unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (the rest of the PEP 517 hooks, unchanged)

MYPYC = "mypy>=1.10,<3"


def compiling() -> bool:
    return os.environ.get("LOGLOOM_COMPILE", "") not in ("", "0")


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    extra = [MYPYC] if compiling() else []
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *extra]


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _setuptools.get_requires_for_build_editable(config_settings)
