"""Only the optional compiled build is here; everything else is in pyproject.toml.

``LOGLOOM_COMPILE=1 pip install .`` compiles the engine's modules and the scorer's drift
recursions with mypyc (C extensions beside the same Python files; the pure-Python install is the default and
gives byte-identical outputs, tested both ways). An editable install is never compiled:
a compiled module would shadow the edited source.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

COMPILED = [
    "src/logloom/detect/drift.py",
    "src/logloom/engine/captures.py",
    "src/logloom/engine/engine.py",
    "src/logloom/engine/inventory.py",
    "src/logloom/engine/machine.py",
]


BUILDS = {"bdist_wheel", "build", "build_ext", "install"}  # not egg_info/dist_info (metadata only)


def ext_modules() -> list:
    if os.environ.get("LOGLOOM_COMPILE", "") in ("", "0") or not BUILDS & set(sys.argv):
        return []
    if "editable_wheel" in sys.argv:
        return []
    from mypyc.build import mypycify

    extensions = mypycify(COMPILED, opt_level="3")
    for ext in extensions:  # no fused multiply-add: the same floats as the pure-Python build
        ext.extra_compile_args = [*ext.extra_compile_args, "-ffp-contract=off"]
    return extensions


setup(ext_modules=ext_modules())
