"""A metric's physical lower bound, and limits clipped at it.

A learned lower limit can fall below what a metric can be (a robust limit of
``median - k * scale`` for retries is -0.7): durations and counts are never below
0, so every place that shows a limit (the monitor summary, the report,
``baseline show``) shows 0 there. ``record`` writes each bounded metric's ``floor``
into the baseline, so that a baseline read from DATA alone knows its bounds.
Scoring is unchanged (a value can never be below the bound anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logloom.config.load import Config

BOUNDED_BELOW = ("duration", "count")  # metric types that are never below 0
Floors = dict[tuple[str, str], float]


def floors(process_logic: Mapping[str, Any], types: Mapping[str, str]) -> Floors:
    """(component id, metric) -> the least value it can take, for durations and counts.

    ``process_logic`` is process_logic.yaml's data; ``types`` maps component ids to
    their machine types.
    """
    lowest: Floors = {}
    for mtype, machine in (process_logic.get("machines") or {}).items():
        for spec in ((machine or {}).get("states") or {}).values():
            for metric in (spec or {}).get("metrics") or []:
                if metric.get("type") in BOUNDED_BELOW:
                    for cid, ctype in types.items():
                        if ctype == mtype:
                            lowest[(cid, str(metric.get("name")))] = 0.0
    return lowest


def config_floors(config: Config) -> Floors:
    """``floors`` of a loaded config."""
    return floors(config.logic.model_dump(by_alias=True), {c.id: c.type for c in config.graph.components})


def baseline_floors(baseline: Mapping[str, Any]) -> Floors:
    """The ``floor`` that ``record`` wrote into each bounded metric of ``baseline`` (a
    baseline recorded before logloom wrote them has none)."""
    return {(comp, name): float(entry["floor"])
            for comp, metrics in (baseline.get("metrics") or {}).items()
            for name, entry in metrics.items() if isinstance(entry, Mapping) and "floor" in entry}


def clip(lower: float | None, floor: float | None) -> float | None:
    """``lower`` no lower than ``floor`` (either None: ``lower`` as it is)."""
    if lower is None or floor is None or lower != lower:
        return lower
    return max(lower, floor)
