"""process_metrics.csv lines of a block of rows, written column by column with numpy.

The bytes are exactly those of ``sinks.metric_lines`` (a test compares them on random
rows), at a fraction of the cost of an f-string per row: each column is turned into a
matrix of ASCII codes with each row's length (the timestamps by ``iso_columns``, the
values from their digits, the names from a table of the ones seen), the matrices are
put side by side, and the characters inside each row's length are read out in order.
The rows come as ``records.Rows``: columns of times, series and values.

A value is written as ``repr`` writes it. For a finite value below 2^32 in magnitude
that is a whole number of millionths (what the engine writes: durations of whole µs,
values rounded to 6 decimals) and not below 1e-4 unless 0, ``repr`` is its decimal
digits with the trailing zeros of the fraction dropped (at least one kept): no other
number of at most 6 decimals lies within half a unit in the last place, so no shorter
text reads back as it. Any other value (nan, 1e-05, 5e9, 1/3) gets ``repr`` itself.
"""

from __future__ import annotations

import numpy as np

from logloom.logtime.strptime import DIGITS, iso_columns
from logloom.records import Rows, SeriesKey
from logloom.series import BySeries, columns

_LIMIT = float(1 << 32)
_CHUNK = 4096  # rows formatted together: their arrays stay small (a block's rows are 10 000s)
_POWERS = 10 ** np.arange(10, dtype=np.int64)  # 1 .. 10^9: how many digits a whole part has
# fraction digits written of 0..999 as the last three: up to the last non-zero one
_KEPT = np.array([len(f"{i:03d}".rstrip("0")) for i in range(1000)], np.int64)


class MetricColumns:
    """Formats blocks of rows; keeps the byte strings of the series (component, metric,
    unit, state) seen, which a line's text around its value is made of."""

    def __init__(self) -> None:
        self._codes: dict[SeriesKey, int] = {}
        self._of_series = BySeries(self._code)  # a series' code, found by its names once
        self._before: list[bytes] = []  # ",component,metric,"
        self._after: list[bytes] = []  # ",unit,state\n"
        self._tables: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = _EMPTY

    def lines(self, rows: Rows) -> bytes | None:
        """The CSV lines of ``rows`` (naive timestamps written as ISO), or None when a
        timestamp is outside years 1-9999 (the caller writes those rows one by one)."""
        ts, ids, values = columns(rows)
        codes = self._of_series.get(ids, rows.series)
        if len(self._tables[0]) < len(self._before):  # series new in this block
            self._tables = (*_table(self._before), *_table(self._after))
        done = [self._lines(ts[i : i + _CHUNK], codes[i : i + _CHUNK], values[i : i + _CHUNK])
                for i in range(0, len(ts), _CHUNK)]
        return None if None in done else b"".join(done)  # type: ignore[arg-type]

    def _lines(self, ts: np.ndarray, codes: np.ndarray, values: np.ndarray) -> bytes | None:
        n = len(ts)
        stamps = iso_columns(ts)
        if stamps is None:
            return None
        before, before_mask, after, after_mask = self._tables
        value, value_mask, odd = _value_columns(values)
        parts = [stamps[0], before[codes], value, after[codes]]
        masks = [_STAMP_MASKS[stamps[1].view(np.uint8)], before_mask[codes], value_mask, after_mask[codes]]
        if odd.size:  # values repr writes otherwise: their own column, empty in the other rows
            texts = [repr(v).encode("ascii") for v in values[odd].tolist()]
            width = max(map(len, texts))
            extra = np.zeros(n, f"S{width}")
            extra[odd] = texts
            lengths = np.zeros(n, np.int64)
            lengths[odd] = [len(t) for t in texts]
            parts.insert(3, extra)
            masks.insert(3, _masks(width)[lengths])
        line = np.hstack([p.view(np.uint8).reshape(n, -1) for p in parts])
        return line[np.hstack([m.view(np.bool_).reshape(n, -1) for m in masks])].tobytes()

    def _code(self, key: SeriesKey) -> int:
        """A series' code (the index of its texts), learnt when new."""
        code = self._codes.get(key)
        if code is None:
            cid, name, unit, state = key
            code = self._codes[key] = len(self._before)
            self._before.append(f",{cid},{name},".encode())
            self._after.append(f",{unit},{state}\n".encode())
        return code


def _table(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings as fixed-width items (``S<width>``) and, for each, the mask of its bytes."""
    width = max(map(len, texts))
    return np.array(texts, f"S{width}"), _masks(width)[[len(t) for t in texts]]


def _masks(width: int) -> np.ndarray:
    """Item ``k``: ``width`` bools, the first ``k`` true (as one ``V<width>`` item each)."""
    return (np.arange(width) < np.arange(width + 1)[:, None]).view(f"V{width}").ravel()


_STAMP_MASKS = _masks(26)[[19, 26]]  # without a fraction, with one


def _value_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values' texts as ``repr`` writes them (20 bytes each: "-", 12 integer digits,
    ".", 6 fraction digits; a text is some of them, its mask says which), and the rows
    left to ``repr`` itself (their masks are empty; see the module's docstring)."""
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        fits = (magnitude < _LIMIT) & ((magnitude >= 1e-4) | (magnitude == 0))
        millionths = np.rint(np.where(fits, magnitude, 0) * 1e6).astype(np.int64)
    fits &= millionths / 1e6 == np.where(fits, magnitude, 0)
    whole = millionths // 1_000_000
    fraction = millionths - whole * 1_000_000
    high = fraction // 1000
    low = fraction - high * 1000
    out = np.empty(len(values), _VALUE)
    out["sign"] = b"-"
    out["a"] = DIGITS[4][whole // 100_000_000]
    out["b"] = DIGITS[4][whole // 10_000 % 10_000]
    out["c"] = DIGITS[4][whole % 10_000]
    out["dot"] = b"."
    out["high"] = DIGITS[3][high]
    out["low"] = DIGITS[3][low]
    shown = np.maximum(np.searchsorted(_POWERS, whole, "right"), 1)  # integer digits: 1-10
    kept = np.where(low != 0, 3 + _KEPT[low], np.maximum(_KEPT[high], 1))  # fraction digits: 1-6
    which = np.where(fits, np.signbit(values) * 60 + (shown - 1) * 6 + kept, 0)
    return out, _VALUE_MASKS[which], np.flatnonzero(~fits)


_VALUE = np.dtype({"names": ["sign", "a", "b", "c", "dot", "high", "low"],
                   "formats": ["S1", "S4", "S4", "S4", "S1", "S3", "S3"],
                   "offsets": [0, 1, 5, 9, 13, 14, 17], "itemsize": 20})


def _value_masks() -> np.ndarray:
    """Item 0: nothing; item ``neg * 60 + (shown - 1) * 6 + kept``: the sign if negative,
    the last ``shown`` of the 12 integer digits, the point and ``kept`` fraction digits."""
    columns = np.arange(20)
    masks = [np.zeros(20, bool)]
    for negative in (0, 1):
        for shown in range(1, 11):
            for kept in range(1, 7):
                masks.append(((columns >= 13 - shown) & (columns < 14 + kept)) | ((columns == 0) & bool(negative)))
    return np.array(masks).view("V20").ravel()


_VALUE_MASKS = _value_masks()
_EMPTY = (np.zeros(0, "S1"), np.zeros(0, "V1"), np.zeros(0, "S1"), np.zeros(0, "V1"))
