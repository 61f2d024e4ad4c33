"""Reading a block's rows for the incident tracker (``incidents.py``).

``ended_by_jump``: whether a row ends a visit left by a permissive jump; ``Prefix``:
the latest log time among a block's first rows; ``Releases``: where the stuck visits
an incident holds end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from logloom.records import INFERRED_SUFFIX, Rows
from logloom.series import columns


def ended_by_jump(rows: Rows, i: int) -> bool:
    """Whether ``rows[i]`` ends a visit left by a permissive jump (inferred rows of its
    component follow at the same time): lines were lost, its duration is not the state's."""
    times, ids, series = rows.ts, rows.ids, rows.series
    ts, component = times[i], series[ids[i]][0]
    for j in range(i + 1, len(ids)):
        if times[j] != ts:
            return False
        key = series[ids[j]]
        if key[0] == component and key[3].endswith(INFERRED_SUFFIX):
            return True
    return False


class Prefix:
    """The latest time among the first ``k`` rows of a block (and the time before it)."""

    def __init__(self, rows: Rows, before: int, ordered: bool) -> None:
        self._times = rows.ts
        self._before = before
        self._max: np.ndarray | None = None
        if not ordered and rows:
            self._max = np.maximum.accumulate(columns(rows).ts)

    def until(self, k: int) -> int:
        if k <= 0:
            return self._before
        last = int(self._max[k - 1]) if self._max is not None else self._times[k - 1]
        return last if last > self._before else self._before


class Releases:
    """Where the stuck visits held on components end: the first row of the component
    after the stuck anomaly (the row its visit's end writes), as places ``2 r + 1``."""

    def __init__(self, rows: Rows, held: Mapping[str, tuple[Any, ...]]) -> None:
        self._rows = rows
        self._due: list[tuple[int, str]] = []
        for component, (_, _, kind, *_) in held.items():
            if kind == "stuck":
                self.watch(component, 0)

    def watch(self, component: str, at: int) -> None:
        """A stuck visit of ``component`` is held from place ``at`` on. The rows are read
        forward from there: a stuck visit usually ends a few rows later."""
        self._due = [d for d in self._due if d[1] != component]
        ids, series = self._rows.ids, self._rows.series
        for r in range(at // 2, len(ids)):
            if series[ids[r]][0] == component:
                self._due.append((r, component))
                self._due.sort()
                return

    def until(self, at: int) -> Iterable[tuple[int, str]]:
        """The releases at places up to ``at``, in order (each once)."""
        while self._due and 2 * self._due[0][0] + 1 <= at:
            yield self._due.pop(0)
