"""What a visit captured: each value metric's field folded, event by event, into
[first, last, min, max, sum, n] (``capture``, SPEC 4 step 4), and the number a value
metric writes of it when the visit ends (``aggregate``, step 7)."""

from __future__ import annotations

from typing import Any

from logloom.engine.inventory import Component


def capture(comp: Component, names: frozenset[str], fields: dict[str, Any]) -> None:
    """4. Fold the event's numeric fields named ``names`` (its machine's value metrics'
    fields) into the visit's [first, last, min, max, sum, n] of each."""
    for name in names:
        raw = fields.get(name)
        if raw is None:
            continue
        if raw.__class__ is float:
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


_ROUNDED: dict[float, float] = {}  # a memo of round(x, 6): captured values repeat


def _round6(x: float) -> float:
    """``round(x, 6)``, remembered (round with digits costs 300 ns, a lookup 40)."""
    if x == 0.0:
        return x  # 0.0 and -0.0 are one key but print differently
    rounded = _ROUNDED.get(x)
    if rounded is None:
        if len(_ROUNDED) >= 1 << 16:
            _ROUNDED.clear()
        rounded = _ROUNDED[x] = round(x, 6)
    return rounded
