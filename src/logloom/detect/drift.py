"""The drift recursions, pure functions over one metric's standardised inputs in order.

Each takes the carried state and returns the signals (index in its input, what the
score is made of) and the new state; the ``Scorer`` turns signals into anomalies.
Every recursion restarts after a signal. docs/anomaly-detection.md has the maths.
"""

from __future__ import annotations


def ewma_run(w: list[float], e: float, i: int, rest: float, lims: list[float],
             asymptote: float) -> tuple[list[tuple[int, float, float]], float, int]:
    """E = w + rest * E, with w = lambda * gain * (u - mu) / sigma folded in.

    ``i`` counts the points since the last reset; the limit ``lims[i]`` widens over the
    first points after it, and from then on it is the ``asymptote``, where
    ``_run_until`` takes the points until the next signal. Signals: (index, E, limit).
    """
    signals: list[tuple[int, float, float]] = []
    n_lims, n, j = len(lims), len(w), 0
    while j < n:
        if i + 1 < n_lims:
            e = w[j] + rest * e
            i += 1
            k, lim = j, lims[i]
            if not (e > lim or e < -lim):
                j += 1
                continue
        else:
            k, e = _run_until(w, j, e, rest, asymptote)
            if k == n:
                i += n - j
                break
            lim = asymptote
        signals.append((k, e, lim))
        e, i, j = 0.0, 0, k + 1
    return signals, e, i


def _run_until(w: list[float], start: int, e: float, rest: float, lim: float) -> tuple[int, float]:
    """E = w + rest * E from ``w[start]`` on, until |E| > ``lim``: (that index or len(w), E)."""
    for j in range(start, len(w)):
        e = w[j] + rest * e
        if e > lim or e < -lim:
            return j, e
    return len(w), e


def cusum_run(z: list[float], hi: float, lo: float, k: float,
              h: float) -> tuple[list[tuple[int, float]], float, float]:
    """Two-sided tabular CUSUM (allowance ``k``, decision ``h``). Signals: (index, +C+ or -C-)."""
    signals: list[tuple[int, float]] = []
    for j, u in enumerate(z):
        hi = max(0.0, hi + u - k)
        lo = max(0.0, lo - u - k)
        if hi > h or lo > h:
            signals.append((j, hi if hi > h else -lo))
            hi = lo = 0.0
    return signals, hi, lo


def nelson_run(sides: list[int], run: int, last: int,
               needed: int) -> tuple[list[tuple[int, float]], int, int]:
    """Nelson's rule 2: ``needed`` points in a row on one side of the centre (a point on
    it breaks the run). Signals: (index, +-run)."""
    signals: list[tuple[int, float]] = []
    for j, side in enumerate(sides):
        if side == 0:
            run = last = 0
            continue
        run = run + 1 if side == last else 1
        last = side
        if run >= needed:
            signals.append((j, float(side * run)))
            run = last = 0
    return signals, run, last
