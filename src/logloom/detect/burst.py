"""The ``invalid_burst`` rule's windows: refused events counted per component and kind.

``count`` events of one kind on one component within ``window_s`` of log time make
one burst, and the window starts empty again: a storm of 50 refusals gives 10 bursts
at most, not 50. The anomaly itself is built by the Scorer, which owns the tallies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

_US = 1_000_000


class BurstWatch:
    """Sliding windows of refused events, one per (component, kind) of ``kinds``."""

    def __init__(self, count: int, window_s: float, kinds: Iterable[str]) -> None:
        self.count = count
        self.window_us = int(window_s * _US)
        self.kinds = frozenset(kinds)
        self._windows: dict[tuple[str, str], deque[int]] = {}

    def add(self, ts: int, component: str, kind: str) -> int:
        """Count one event at log time ``ts``: the size of the burst it completes, else 0."""
        if kind not in self.kinds:
            return 0
        window = self._windows.setdefault((component, kind), deque())
        window.append(ts)
        horizon = ts - self.window_us
        while window[0] < horizon:
            window.popleft()
        if len(window) < self.count:
            return 0
        size = len(window)
        window.clear()
        return size

    def to_dict(self) -> dict[str, list[int]]:
        return {f"{c}\t{k}": list(w) for (c, k), w in self._windows.items() if w}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._windows = {}
        for key, times in state.items():
            comp, kind = key.split("\t", 1)
            self._windows[comp, kind] = deque(int(t) for t in times)
