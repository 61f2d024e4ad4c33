"""A row's series: its (component, metric, unit, state context), as ``Engine.series``
numbers them and ``records.Rows`` gives them, one id per row.

What a consumer works out from a row's names (the CSV's text around the value, the
scorer's metric) is the same for every row of a series: ``BySeries`` works it out
once per series, then reads it by id. ``columns`` gives a block's columns as numpy
arrays, made once for all its consumers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from logloom.records import Rows, SeriesKey

_UNKNOWN = np.iinfo(np.int64).min


class Columns(NamedTuple):
    ts: np.ndarray  # int64 µs
    ids: np.ndarray  # intp: each row's series
    values: np.ndarray  # float64


def columns(rows: Rows) -> Columns:
    """The columns of ``rows`` as numpy arrays (made once; kept on ``rows``)."""
    if rows.arrays is None:
        n = len(rows.ids)
        rows.arrays = Columns(np.fromiter(rows.ts, np.int64, n), np.fromiter(rows.ids, np.intp, n),
                              np.fromiter(rows.values, np.float64, n))
    arrays: Columns = rows.arrays
    return arrays


class BySeries:
    """One integer per series (a code, an index), ``derive``d from its key the first
    time a row of it comes, in the order of their first rows."""

    def __init__(self, derive: Callable[[SeriesKey], int]) -> None:
        self._derive = derive
        self._series: Sequence[SeriesKey] | None = None  # the list the ids index (kept: ids mean it)
        self._values = np.zeros(0, np.int64)

    def get(self, ids: np.ndarray, series: Sequence[SeriesKey]) -> np.ndarray:
        """Each row's value, by its series id (an index in ``series``)."""
        if series is not self._series:
            self._series = series
            self._values = np.full(len(series), _UNKNOWN, np.int64)
        elif len(series) > len(self._values):
            self._values = np.concatenate([self._values, np.full(len(series) - len(self._values), _UNKNOWN)])
        values = self._values[ids]
        unknown = values == _UNKNOWN
        if unknown.any():
            new = ids[unknown]
            _, first = np.unique(new, return_index=True)
            for sid in new[np.sort(first)].tolist():
                self._values[sid] = self._derive(series[sid])
            values = self._values[ids]
        return values
