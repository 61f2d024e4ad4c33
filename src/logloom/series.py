"""A row's series: its (component, metric, unit, state context), as ``Engine.series``
numbers them and ``Engine.step_events`` gives them, one id per row.

What a consumer works out from a row's names (the CSV's text around the value, the
scorer's metric) is the same for every row of a series: ``BySeries`` works it out from
the rows of the first block that holds the series, then reads it by id.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class BySeries:
    """One value per series (an integer: a code, an index), learnt from rows."""

    def __init__(self) -> None:
        self._values = np.zeros(0, np.int64)
        self._known = np.zeros(0, np.bool_)

    def get(self, series: np.ndarray | None, derive: Callable[[], np.ndarray]) -> np.ndarray:
        """Each row's value: read by its series id when every one of ``series`` is known,
        else ``derive()`` (one value per row, from the rows' names), which is then
        remembered for their series. ``series`` None: ``derive()``, nothing learnt."""
        if series is None or not series.size:
            return derive()
        top = int(series.max())
        if top < len(self._values) and self._known[series].all():
            return self._values[series]
        values = derive()
        if top >= len(self._values):
            grown = np.zeros(top + 1, np.int64)
            grown[: len(self._values)] = self._values
            known = np.zeros(top + 1, np.bool_)
            known[: len(self._known)] = self._known
            self._values, self._known = grown, known
        self._values[series] = values
        self._known[series] = True
        return values
