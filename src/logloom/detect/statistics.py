"""Baseline statistics: metric rows in, the ``metrics`` section of a baseline out.

Owns the statistical method of section 6 of the SPEC (documented for users in
docs/anomaly-detection.md):

* Each metric is first moved to a scale on which it is roughly symmetric. For
  non-negative metrics the transform is picked from the ladder of powers
  (identity, square root, cube root, log; log only for strictly positive data) as
  the one with the smallest quantile skewness ``(p95 + p05 - 2 p50) / (p95 - p05)``;
  log (identity when there are zeros) is the default that another must beat by 0.02.
  Lognormal cycle times come out as ``log``, exponential or gamma idle times as
  ``cbrt`` (Wilson-Hilferty), symmetric values as the identity.
* On that scale: centre = median, scale = 1.4826 * MAD; limits = centre +- k * scale,
  mapped back to raw units, where each side's scale is widened to the spread of that
  side's 5 % tail (``side_scales``) when a tail is heavier than the core suggests.
  MAD 0 (more than half the values equal): the standard deviation stands in, then
  1 % of |median| (on the log scale: log 1.01), then 1e-9.
  Such a discrete metric's limits are also widened to cover the baseline's own
  0.1 % / 99.9 % quantiles, so a count that is 1 in 5 % of the cycles does not alarm
  on every 1.
* The drift rules' input is a row's normal score: Phi^-1 of the baseline's own
  distribution function (interpolated through its quantiles ``drift_q`` at 0.5 %,
  1 %, ..., 99 %, 99.5 %), so it is N(0, 1) under the baseline whatever the metric's
  shape (idle times that are a mixture of the line's pace and waits included), and
  winsorised at +-2.576. ``drift_mu`` / ``drift_sigma`` are its mean and standard
  deviation over the baseline (the rules standardise with them), ``drift_acf`` its
  autocorrelations (they widen the rules' limits for autocorrelated metrics).

Rows whose ``state_context`` ends in ``:inferred`` never enter a statistic. Values are
kept in ``array('d')`` per metric (8 bytes a row), never as Python objects.
"""

from __future__ import annotations

import bisect
import math
import statistics
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from logloom.records import MetricRow

SCHEMA_VERSION = 1
DEFAULT_K = 4.0
MAD_TO_SIGMA = 1.4826
Z95 = 1.6448536269514722  # standard normal 95 % quantile
DRIFT_CLIP = 3.0  # winsorising bound of z for the drift statistics
# the drift rules' input: normal scores through the baseline's quantiles at DRIFT_P
# (stored as drift_q; changing DRIFT_P changes the baseline format: bump SCHEMA_VERSION)
DRIFT_P = (0.005, *(i / 100 for i in range(1, 100)), 0.995)
DRIFT_SCORES = tuple(statistics.NormalDist().inv_cdf(p) for p in DRIFT_P)
ACF_LAGS = 30  # autocorrelations kept for the drift rules (0.8^30 < 0.002)
COVER_Q = 0.001  # discrete metrics: limits cover the [0.1 %, 99.9 %] quantiles
MIN_FOR_SELECTION = 20  # fewer values: no skewness-based choice of transform
SKEW_MARGIN = 0.02  # how much less skewed another transform must be than the default

# method name -> the power of its transform (0 = log)
METHODS: dict[str, float] = {
    "robust_z": 1.0,
    "robust_sqrt_z": 0.5,
    "robust_cbrt_z": 1.0 / 3.0,
    "robust_log_z": 0.0,
}


@dataclass(frozen=True)
class MetricLimits:
    """A metric's ``anomaly:`` settings from process_logic.yaml; None means not set."""

    k: float | None = None
    lower: float | None = None
    upper: float | None = None
    min_samples: int | None = None


def forward(method: str) -> Callable[[float], float]:
    """The transform of ``method`` for one value (sign-preserving powers; log needs x > 0)."""
    p = METHODS[method]
    if p == 1.0:
        return float
    if p == 0.0:
        return _log
    return lambda x: math.copysign(abs(x) ** p, x)


def inverse(method: str, y: float) -> float:
    """Map ``y`` on the method's scale back to raw units."""
    p = METHODS[method]
    if p == 1.0:
        return y
    if p == 0.0:
        return math.exp(min(y, 700.0))
    return math.copysign(abs(y) ** (1.0 / p), y)


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else -math.inf


def transform(method: str, x: np.ndarray) -> np.ndarray:
    """``forward`` of every value (log of x <= 0 is -inf, as for one value)."""
    p = METHODS[method]
    if p == 1.0:
        return x
    if p == 0.0:
        y = np.full(x.shape, -np.inf)
        positive = x > 0.0
        y[positive] = np.log(x[positive])
        return y
    return np.sign(x) * np.abs(x) ** p


def _quantile_skew(y: np.ndarray) -> float:
    p05, p50, p95 = np.quantile(y, [0.05, 0.5, 0.95])
    spread = p95 - p05
    return 0.0 if spread <= 0 else float((p95 + p05 - 2.0 * p50) / spread)


def choose_method(x: np.ndarray) -> str:
    """Pick the transform that makes ``x`` most symmetric (see the module docstring)."""
    if x.size == 0 or float(x.min()) < 0.0:
        return "robust_z"
    positive = float(x.min()) > 0.0
    if x.size < MIN_FOR_SELECTION:
        return "robust_log_z" if positive else "robust_z"
    mad = float(np.median(np.abs(x - np.median(x))))
    if mad == 0.0:
        return "robust_z"  # discrete: a transform cannot help, coverage does
    skew = {m: abs(_quantile_skew(transform(m, x))) for m in METHODS if positive or METHODS[m]}
    preferred = "robust_log_z" if positive else "robust_z"
    best = min(skew, key=skew.__getitem__)
    # another transform must clearly beat the default, not win on sampling noise
    return best if skew[best] < skew[preferred] - SKEW_MARGIN else preferred


def robust_centre_scale(y: np.ndarray, method: str) -> tuple[float, float, str]:
    """Median and MAD-based scale of ``y`` (already on the method's scale).

    Returns ``(centre, scale, scale_source)`` with scale_source ``mad``, ``std`` or
    ``floor`` (1 % of |median| on the raw scale, log 1.01 on the log scale, or 1e-9).
    """
    centre = float(np.median(y))
    scale = MAD_TO_SIGMA * float(np.median(np.abs(y - centre)))
    if scale > 0.0:
        return centre, scale, "mad"
    scale = float(np.std(y, ddof=1)) if y.size > 1 else 0.0
    if scale > 0.0:
        return centre, scale, "std"
    if METHODS[method] == 0.0:
        return centre, math.log1p(0.01), "floor"  # 1 % of the median, multiplicatively
    # identity (and, in principle, a power scale): 1 % of |median| on that scale
    return centre, (0.01 * abs(centre)) or 1e-9, "floor"


def side_scales(y: np.ndarray, centre: float, scale: float, source: str) -> tuple[float, float]:
    """The scale below and above the centre: the MAD scale, or more where a tail needs it.

    Each side's scale is the larger of ``scale`` and the distance from the centre to
    that side's 5 % quantile divided by z(0.95) = 1.645. For a metric that is normal on
    its scale both estimate the same sigma; for a mixture (idle times that are mostly
    the line's pace plus a long tail of waits) the quantile sees the tail the MAD
    ignores. The 5 % quantiles move little when a baseline holds a few spikes.
    Discrete metrics (scale from a fallback) keep ``scale`` both sides.
    """
    if source != "mad":
        return scale, scale
    q05, q95 = np.quantile(y, [0.05, 0.95])
    return max(scale, float(centre - q05) / Z95), max(scale, float(q95 - centre) / Z95)


def score_table(quantiles: list[float]) -> tuple[list[float], list[float]]:
    """Knots (strictly increasing values) and their normal scores, from ``drift_q``.

    Equal quantiles (rounded or discrete values) become one knot with the mean score.
    """
    xs: list[float] = []
    groups: list[list[float]] = []
    for q, score in zip(quantiles, DRIFT_SCORES, strict=True):
        if xs and q <= xs[-1]:
            groups[-1].append(score)
        else:
            xs.append(q)
            groups.append([score])
    return xs, [sum(g) / len(g) for g in groups]


def normal_score(x: float, xs: list[float], ss: list[float]) -> float:
    """Phi^-1 of the baseline's (interpolated) distribution function at ``x``.

    Flat beyond the outer knots, so the drift input is winsorised at +-2.576.
    """
    j = bisect.bisect_right(xs, x)
    if j == 0:
        return ss[0]
    if j == len(xs):
        return ss[-1]
    x0 = xs[j - 1]
    return ss[j - 1] + (ss[j] - ss[j - 1]) * (x - x0) / (xs[j] - x0)


def normal_scores(x: np.ndarray, xs: list[float], ss: list[float]) -> np.ndarray:
    """``normal_score`` of every value (the same interpolation, vectorised)."""
    if len(xs) == 1:
        return np.full(x.shape, ss[0])
    return np.interp(x, xs, ss)


def drift_acf(z: np.ndarray, lags: int = ACF_LAGS) -> list[float]:
    """Autocorrelations at lags 1.. of ``z`` in log order (at most n // 4 of them).

    Idle and wait times follow the line's queues and are autocorrelated; the drift
    rules widen their limits by the variance inflation this implies (scoring_model).
    """
    lags = min(lags, z.size // 4)
    d = z - z.mean()
    denom = float(d @ d)
    if lags < 1 or denom <= 0.0:
        return []
    return [round(float(d[:-j] @ d[j:]) / denom, 6) for j in range(1, lags + 1)]


def metric_stats(
    values: np.ndarray, unit: str, limits: MetricLimits | None = None, k_default: float = DEFAULT_K
) -> dict[str, Any]:
    """The baseline entry of one metric (SPEC 6 keys plus the method's own)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("metric_stats needs at least one finite value")
    limits = limits or MetricLimits()
    k = float(limits.k if limits.k is not None else k_default)
    method = choose_method(x)
    y = transform(method, x)
    centre, scale, source = robust_centre_scale(y, method)
    scale_lower, scale_upper = side_scales(y, centre, scale, source)
    learned_lower = inverse(method, centre - k * scale_lower)
    learned_upper = inverse(method, centre + k * scale_upper)
    cover: dict[str, float] = {}
    if source != "mad":
        q_lo, q_hi = np.quantile(x, [COVER_Q, 1.0 - COVER_Q], method="nearest")
        cover = {"cover_lower": float(q_lo), "cover_upper": float(q_hi)}
        learned_lower = min(learned_lower, cover["cover_lower"])
        learned_upper = max(learned_upper, cover["cover_upper"])
    drift_q = [float(q) for q in np.quantile(x, DRIFT_P)]
    z = normal_scores(x, *score_table(drift_q))
    median = float(np.median(x))
    p05, p95 = np.quantile(x, [0.05, 0.95])
    entry: dict[str, Any] = {
        "unit": unit,
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
        "median": median,
        "mad": float(np.median(np.abs(x - median))),
        "p05": float(p05),
        "p95": float(p95),
        "lower": learned_lower if limits.lower is None else float(limits.lower),
        "upper": learned_upper if limits.upper is None else float(limits.upper),
        "method": method,
        "k": k,
        "center": centre,
        "scale": scale,
        "scale_source": source,
        "scale_lower": scale_lower,
        "scale_upper": scale_upper,
        "learned_lower": learned_lower,
        "learned_upper": learned_upper,
        "drift_mu": float(z.mean()),
        "drift_sigma": float(z.std()),
        "drift_acf": drift_acf(z),
        "drift_q": drift_q,
        **cover,
    }
    override = {
        key: float(val)
        for key, val in (("lower", limits.lower), ("upper", limits.upper))
        if val is not None
    }
    if override:
        entry["override"] = override
    return entry


class BaselineAccumulator:
    """Collects the values of every (component, metric) of a record run.

    Feed it rows one at a time (``add``; inferred rows are dropped) or per-metric
    arrays (``extend``), then ``build`` the baseline dict.
    """

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], array[float]] = {}
        self._units: dict[tuple[str, str], str] = {}

    def add(self, row: MetricRow) -> None:
        if row.state_context.endswith(":inferred"):
            return
        key = (row.component_id, row.metric_name)
        values = self._values.get(key)
        if values is None:
            values = self._values[key] = array("d")
            self._units[key] = row.unit
        values.append(row.value)

    def extend(self, component_id: str, metric: str, unit: str, values: Iterable[float]) -> None:
        key = (component_id, metric)
        self._values.setdefault(key, array("d")).extend(values)
        self._units.setdefault(key, unit)

    def __len__(self) -> int:
        return sum(len(v) for v in self._values.values())

    def arrays(self) -> Iterator[tuple[tuple[str, str], np.ndarray]]:
        """((component, metric), its values) in key order, without copying."""
        for key, values in sorted(self._values.items()):
            yield key, np.frombuffer(values, dtype=float)

    def build(
        self,
        limits: Mapping[tuple[str, str], MetricLimits] | None = None,
        *,
        k_default: float = DEFAULT_K,
        sources: Iterable[str] = (),
        config_sha256: str = "",
        floors: Mapping[tuple[str, str], float] | None = None,
    ) -> dict[str, Any]:
        """The baseline dict of SPEC 6, without ``id``/``created`` (the archive sets them);
        ``floors``: the least value of bounded metrics (``detect.bounds``), kept as ``floor``."""
        limits, floors = limits or {}, floors or {}
        metrics: dict[str, dict[str, Any]] = {}
        for (component, metric), values in sorted(self._values.items()):
            arr = np.frombuffer(values, dtype=float)
            if not np.isfinite(arr).any():
                continue  # nothing to learn from (all NaN or infinite)
            unit = self._units[component, metric]
            entry = metric_stats(arr, unit, limits.get((component, metric)), k_default)
            if (component, metric) in floors:
                entry["floor"] = floors[component, metric]
            metrics.setdefault(component, {})[metric] = entry
        return {
            "schema_version": SCHEMA_VERSION,
            "sources": [str(s) for s in sources],
            "config_sha256": config_sha256,
            "metrics": metrics,
        }


def compute_baseline(
    rows: Iterable[MetricRow],
    limits: Mapping[tuple[str, str], MetricLimits] | None = None,
    *,
    k_default: float = DEFAULT_K,
    sources: Iterable[str] = (),
    config_sha256: str = "",
) -> dict[str, Any]:
    """Statistics of ``rows`` per (component, metric): the baseline dict of SPEC 6."""
    acc = BaselineAccumulator()
    for row in rows:
        acc.add(row)
    return acc.build(limits, k_default=k_default, sources=sources, config_sha256=config_sha256)
