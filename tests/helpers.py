"""Shared test constants and helpers (conftest.py keeps only fixtures and options)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config"
WALKTHROUGH_CONFIG = ROOT / "examples" / "walkthrough" / "config"


def read_rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    return [line.split(",") for line in lines[1:]]
