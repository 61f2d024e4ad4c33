"""A block's rows as columns (``records.Rows``) and what consumers derive once per
series (``series.BySeries``)."""

from __future__ import annotations

import numpy as np
import pytest

from logloom.records import MetricRow, Rows, SeriesKey
from logloom.series import BySeries, columns

KEYS: list[SeriesKey] = [("a", "m", "s", "RUN"), ("b", "m", "s", "RUN"), ("a", "n", "count", "IDLE")]


def test_a_value_is_derived_once_per_series_in_the_order_of_their_first_rows() -> None:
    calls: list[SeriesKey] = []

    def derive(key: SeriesKey) -> int:
        calls.append(key)
        return 10 * len(calls)

    by = BySeries(derive)
    assert by.get(np.array([2, 0, 2]), KEYS).tolist() == [10, 20, 10]
    assert by.get(np.array([0, 2, 2, 0]), KEYS).tolist() == [20, 10, 10, 20]  # read by id
    assert by.get(np.array([1, 2]), KEYS).tolist() == [30, 10]
    assert by.get(np.array([], np.intp), KEYS).tolist() == []
    assert calls == [KEYS[2], KEYS[0], KEYS[1]]
    # ids of another list of series mean other series: derived afresh
    assert by.get(np.array([0]), list(reversed(KEYS))).tolist() == [40]
    assert calls[-1] == KEYS[2]


def test_rows_read_as_metric_rows_are_those_given() -> None:
    given = [MetricRow(5, "a", "m", 1.5, "s", "RUN"), MetricRow(5, "b", "m", 0.0, "s", "RUN"),
             MetricRow(9, "a", "m", 2.0, "s", "RUN"), MetricRow(9, "a", "n", 3.0, "count", "IDLE")]
    rows = Rows.of(given)
    assert Rows.of(rows) is rows
    assert len(rows) == 4 and rows.ids == [0, 1, 0, 2] and rows.series == KEYS
    assert list(rows) == given and rows[3] == given[3] and rows[-1] == given[-1] and rows[1:3] == given[1:3]
    assert [type(r) for r in rows] == [MetricRow] * 4
    ts, ids, values = columns(rows)
    assert ts.tolist() == [5, 5, 9, 9] and ids.tolist() == [0, 1, 0, 2] and values.tolist() == [1.5, 0.0, 2.0, 3.0]
    rows.truncate(1)
    assert list(rows) == given[:1] and columns(rows).ts.tolist() == [5]
    with pytest.raises(IndexError):
        rows[1]
