"""What a visit captured: each value metric's field folded, event by event, into
[first, last, min, max, sum, n] (``capture``, SPEC 4 step 4), and the number a value
metric writes of it when the visit ends (``aggregate``, step 7)."""

from __future__ import annotations

import math
from typing import Any

from logloom.engine.inventory import Component


def capture(comp: Component, names: frozenset[str], fields: dict[str, Any]) -> None:
    """4. Fold the event's numeric fields named ``names`` (its machine's value metrics'
    fields) into the visit's [first, last, min, max, sum, n] of each."""
    for name, raw in fields.items():
        if name not in names or raw is None:
            continue
        if type(raw) is float:
            x = raw
        else:
            try:
                x = float(raw)
            except (TypeError, ValueError):
                continue  # a text in a value metric's field: not a number to measure
        acc = comp.captures.get(name)
        if acc is None:
            comp.captures[name] = [x, x, x, x, x, 1.0]
        else:
            acc[1] = x
            if x < acc[2]:
                acc[2] = x
            if x > acc[3]:
                acc[3] = x
            acc[4] += x
            acc[5] += 1.0


def aggregate(acc: list[float], agg: str) -> float:
    """7. A value metric's number of a visit: ``agg`` of its captures, rounded to 6 decimals."""
    if agg == "last":
        value = acc[1]
    elif agg == "first":
        value = acc[0]
    elif agg == "min":
        value = acc[2]
    elif agg == "max":
        value = acc[3]
    else:
        value = acc[4] / acc[5]
    return _round6(value)


def _round6(x: float) -> float:
    """``round(x, 6)`` (which costs 300 ns): the nearest whole number of millionths
    ``n``, as the float nearest ``n / 10^6`` (what division gives), unless ``x * 10^6``
    is within its rounding error (2^-52 of it) of a half or not below 2^51 (nan and inf
    included), where ``round`` itself decides."""
    y = x * 1e6
    if -_BIG < y < _BIG:
        n = math.floor(y + 0.5)
        if abs(abs(y - n) - 0.5) > abs(y) * _ERROR:
            return n / 1e6 if n else 0.0 * x  # 0.0 * x: -0.0 for a negative x, as round has it
    return round(x, 6)


_BIG = float(1 << 51)
_ERROR = 2.0**-52
