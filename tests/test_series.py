"""A row's series (``Engine.series``): what consumers derive once per series."""

from __future__ import annotations

import numpy as np

from logloom.series import BySeries


def test_a_value_is_derived_from_the_rows_until_every_series_of_a_block_is_known() -> None:
    by = BySeries()
    calls: list[int] = []

    def derive(values: list[int]):  # type: ignore[no-untyped-def]
        def run() -> np.ndarray:
            calls.append(len(values))
            return np.array(values, np.int64)
        return run

    assert by.get(np.array([2, 0, 2]), derive([7, 5, 7])).tolist() == [7, 5, 7]
    assert by.get(np.array([0, 2, 2, 0]), derive([0, 0, 0, 0])).tolist() == [5, 7, 7, 5]  # read by id
    assert by.get(np.array([1, 2]), derive([9, 7])).tolist() == [9, 7]  # 1 is new: derived, then learnt
    assert by.get(np.array([1]), derive([0])).tolist() == [9]
    assert by.get(None, derive([4])).tolist() == [4]
    assert by.get(np.array([], np.intp), derive([])).tolist() == []
    assert calls == [3, 2, 1, 0]
