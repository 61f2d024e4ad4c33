"""The Scorer's settings and its precomputed per-metric models.

``AnomalyConfig`` is the ``settings.anomaly`` section of process_logic.yaml;
``MetricModel`` is one (component, metric) of the baseline, compiled to plain float
attributes so that scoring a row is a dict lookup and a few float operations, plus
that metric's drift state and the run's tallies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from logloom.detect.statistics import METHODS, MetricLimits, forward, inverse, score_table, transform
from logloom.records import Anomaly

RULES = ("limits", "ewma", "cusum", "nelson2", "stuck", "invalid_burst")
DEFAULT_RULES = ("limits", "ewma", "stuck", "invalid_burst")


@dataclass(frozen=True)
class AnomalyConfig:
    """``settings.anomaly`` of process_logic.yaml (every key optional, these are defaults).

    ```yaml
    settings:
      anomaly:
        rules: [limits, ewma, stuck, invalid_burst]   # also: cusum, nelson2
        k: 4.0              # limits: robust z each side
        min_samples: 20     # fewer in the baseline: not scored, reported once
        ewma: {lambda: 0.2, L: 3.5}
        cusum: {k: 0.5, h: 5.0}
        nelson: {run: 9}
        burst: {count: 5, window_s: 60, kinds: [invalid_transition]}
    ```
    """

    rules: tuple[str, ...] = DEFAULT_RULES
    k: float = 4.0
    min_samples: int = 20
    ewma_lambda: float = 0.2
    ewma_L: float = 3.5
    cusum_k: float = 0.5
    cusum_h: float = 5.0
    nelson_run: int = 9
    burst_count: int = 5
    burst_window_s: float = 60.0
    burst_kinds: tuple[str, ...] = ("invalid_transition",)

    def __post_init__(self) -> None:
        problems = [f"unknown rule {r!r} (known: {', '.join(RULES)})"
                    for r in self.rules if r not in RULES]
        if not 0.0 < self.ewma_lambda <= 1.0:
            problems.append("ewma.lambda must be in (0, 1]")
        for name in ("k", "ewma_L", "cusum_h", "burst_window_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if self.cusum_k < 0:
            problems.append("cusum.k must be >= 0")
        for name in ("min_samples", "nelson_run", "burst_count"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if problems:
            raise ValueError("settings.anomaly: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> AnomalyConfig:
        """Build from the YAML mapping above; unknown keys raise ``ValueError``."""
        data = dict(data or {})
        flat: dict[str, Any] = {}
        nested = {"ewma": {"lambda": "ewma_lambda", "L": "ewma_L"},
                  "cusum": {"k": "cusum_k", "h": "cusum_h"},
                  "nelson": {"run": "nelson_run"},
                  "burst": {"count": "burst_count", "window_s": "burst_window_s",
                            "kinds": "burst_kinds"}}
        unknown: list[str] = []
        for key, value in data.items():
            if key in nested:
                for sub, sub_value in dict(value or {}).items():
                    if sub in nested[key]:
                        flat[nested[key][sub]] = sub_value
                    else:
                        unknown.append(f"{key}.{sub}")
            elif key in ("rules", "k", "min_samples"):
                flat[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise ValueError("settings.anomaly: unknown key(s) " + ", ".join(unknown))
        for key in ("rules", "burst_kinds"):
            if key in flat:
                flat[key] = tuple(flat[key])
        types = {f.name: f.type for f in fields(cls)}
        for key, value in flat.items():
            if types[key] in ("float", "int") and (isinstance(value, bool)
                                                   or not isinstance(value, int | float)):
                raise ValueError(f"settings.anomaly: {key} must be a number, not {value!r}")
        return cls(**flat)


@dataclass(frozen=True)
class DurationMetric:
    """The duration metric that measures a state, for the ``stuck`` and ``fault`` rules."""

    name: str
    unit_seconds: float = 1.0  # seconds per unit of the metric (s: 1, min: 60, ms: 0.001)
    unit: str = "s"


@dataclass(frozen=True)
class SummaryRow:
    """One line of the terminal summary."""

    component_id: str
    metric_name: str
    rows: int
    anomalies: int
    by_rule: dict[str, int]
    worst: float | None  # the row's robust z with the largest magnitude; None: not scored
    lower: float | None
    upper: float | None
    unit: str
    method: str
    covered: bool
    n: int


@dataclass(eq=False, slots=True)
class MetricModel:
    """One (component, metric): compiled limits, drift state and this run's tallies."""

    component_id: str
    metric_name: str
    unit: str
    covered: bool
    n: int = 0
    method: str = ""
    power: float = 1.0
    center: float = 0.0
    scale: float = 1.0
    inv_lo: float = 1.0  # 1 / the scale below the centre
    inv_hi: float = 1.0  # 1 / the scale above the centre
    k: float = 4.0
    lower: float = -math.inf
    upper: float = math.inf
    band_lo: float = -math.inf  # raw values within +-k z of the centre feed the drift rules
    band_hi: float = math.inf
    expected: float = 0.0
    drift: bool = False
    drift_mu: float = 0.0
    ewma_gain: float = 1.0  # 1 / sqrt(EWMA variance inflation from autocorrelation)
    ewma_a: float = 0.0  # lambda * ewma_gain * drift_inv_sigma: the EWMA's input weight
    ewma_b: float = 0.0  # ewma_a * drift_mu
    cusum_gain: float = 1.0  # 1 / sqrt(long-run variance inflation)
    drift_inv_sigma: float = 1.0
    knots: list[float] | None = None  # normal-score table (None: use the clipped z)
    knot_scores: list[float] | None = None
    # drift state (persisted)
    ewma: float = 0.0
    ewma_i: int = 0
    cusum_hi: float = 0.0
    cusum_lo: float = 0.0
    run: int = 0
    side: int = 0
    # tallies of this run (not persisted)
    rows: int = 0
    anomalies: int = 0
    xmin: float = math.inf  # the extremes of this run's values (the worst z is at one)
    xmax: float = -math.inf
    reported: bool = False
    by_rule: dict[str, int] = field(default_factory=dict)

    @classmethod
    def uncovered(cls, component_id: str, metric_name: str, unit: str, n: int = 0) -> MetricModel:
        return cls(component_id, metric_name, unit, covered=False, n=n)

    def z(self, x: float) -> float:
        """Robust z of ``x`` on the method's scale (the ``limits`` score)."""
        d = (forward(self.method)(x) if self.method else x) - self.center
        z = d * (self.inv_hi if d > 0.0 else self.inv_lo)
        return max(-1e6, min(1e6, z)) if z == z else 0.0

    def z_many(self, x: np.ndarray) -> np.ndarray:
        """``z`` of every value of ``x``."""
        d = (transform(self.method, x) if self.method else x) - self.center
        z = d * np.where(d > 0.0, self.inv_hi, self.inv_lo)
        return np.nan_to_num(np.clip(z, -1e6, 1e6), nan=0.0)

    def fault(self, ts: int, state: str, value: float | None) -> Anomaly:
        """The ``fault`` row of entering ``state`` (``value`` None: written as 0), or the
        ``fault_end`` row of leaving it after ``value`` units (NaN: its start was not
        seen). Limits and score are the baseline's where it covers the metric, else NaN."""
        rule = "fault" if value is None else "fault_end"
        self.anomalies += 1
        self.by_rule[rule] = self.by_rule.get(rule, 0) + 1
        nan = math.nan
        score = self.z(value) if self.covered and value is not None and value == value else nan
        if not self.covered:
            return Anomaly(ts, self.component_id, self.metric_name, value or 0.0, self.unit, state,
                           nan, nan, nan, score, rule)
        return Anomaly(ts, self.component_id, self.metric_name, value or 0.0, self.unit, state,
                       self.expected, self.lower, self.upper, score, rule)

    def worst(self) -> float | None:
        """The z of this run's value farthest from the centre (None: nothing scored)."""
        if not self.covered or self.xmin > self.xmax:
            return None
        lo, hi = self.z(self.xmin), self.z(self.xmax)
        return lo if -lo > hi else hi

    def summary(self) -> SummaryRow:
        return SummaryRow(self.component_id, self.metric_name, self.rows, self.anomalies,
                          dict(self.by_rule), self.worst(),
                          self.lower if self.covered else None,
                          self.upper if self.covered else None,
                          self.unit, self.method, self.covered, self.n)


def ewma_limits(lam: float, L: float, tol: float = 1e-12) -> tuple[list[float], float]:
    """Exact EWMA control limits L*sqrt(lam/(2-lam)*(1-(1-lam)^(2i))), i = 0, 1, ...

    Index i is the number of points since the start or the last reset; from the end
    of the list on the asymptotic limit (returned second) applies.
    """
    base = lam / (2.0 - lam)
    lims = [0.0]
    i = 1
    while True:
        decay = (1.0 - lam) ** (2 * i)
        lims.append(L * math.sqrt(base * (1.0 - decay)))
        if decay < tol or i > 100_000:
            break
        i += 1
    return lims, L * math.sqrt(base)


def ewma_inflation(acf: Sequence[float], lam: float) -> float:
    """Var(EWMA) of autocorrelated input / Var(EWMA) of independent input (asymptotic).

    ``1 + 2 sum_j (1 - lam)^j rho_j``, never below 1 (noise must not narrow the limits).
    """
    return max(1.0, 1.0 + 2.0 * sum((1.0 - lam) ** j * r for j, r in enumerate(acf, 1)))


def long_run_inflation(acf: Sequence[float]) -> float:
    """Long-run variance factor ``1 + 2 sum_j (1 - j/(J+1)) rho_j`` (Bartlett), at least 1."""
    weights = len(acf) + 1
    return max(1.0, 1.0 + 2.0 * sum((1.0 - j / weights) * r for j, r in enumerate(acf, 1)))


def build_models(
    baseline: Mapping[str, Any] | None,
    limits: Mapping[tuple[str, str], MetricLimits],
    cfg: AnomalyConfig,
) -> dict[tuple[str, str], MetricModel]:
    """Compile every metric of the baseline with the live config's overrides."""
    models: dict[tuple[str, str], MetricModel] = {}
    for component, metrics in ((baseline or {}).get("metrics") or {}).items():
        for name, entry in metrics.items():
            models[component, name] = _compile(component, name, entry,
                                               limits.get((component, name)) or MetricLimits(), cfg)
    return models


def _compile(component: str, name: str, entry: Mapping[str, Any], lim: MetricLimits,
             cfg: AnomalyConfig) -> MetricModel:
    m = _compile_limits(component, name, entry, lim, cfg)
    m.ewma_a = cfg.ewma_lambda * m.ewma_gain * m.drift_inv_sigma
    m.ewma_b = m.ewma_a * m.drift_mu
    return m


def _compile_limits(component: str, name: str, entry: Mapping[str, Any], lim: MetricLimits,
                    cfg: AnomalyConfig) -> MetricModel:
    n = int(entry["n"])
    min_samples = lim.min_samples if lim.min_samples is not None else cfg.min_samples
    if n < min_samples:
        return MetricModel.uncovered(component, name, str(entry["unit"]), n)
    method = str(entry["method"])
    center, scale = float(entry["center"]), float(entry["scale"])
    scale_lo = float(entry.get("scale_lower", scale))
    scale_hi = float(entry.get("scale_upper", scale))
    base_k = float(entry["k"])
    k = float(lim.k) if lim.k is not None else base_k
    if k != base_k or "learned_lower" not in entry:
        lower = inverse(method, center - k * scale_lo)
        upper = inverse(method, center + k * scale_hi)
        if "cover_lower" in entry:  # discrete: keep the coverage widening
            lower = min(lower, float(entry["cover_lower"]))
            upper = max(upper, float(entry["cover_upper"]))
    else:
        lower, upper = float(entry["learned_lower"]), float(entry["learned_upper"])
    if lim.lower is not None:
        lower = float(lim.lower)
    if lim.upper is not None:
        upper = float(lim.upper)
    sigma = float(entry.get("drift_sigma", 0.0))
    acf = [float(r) for r in entry.get("drift_acf", ())]
    drift = entry.get("scale_source", "mad") == "mad" and sigma > 0.0
    knots, knot_scores = score_table(entry["drift_q"]) if "drift_q" in entry else (None, None)
    return MetricModel(
        component, name, str(entry["unit"]), covered=True, n=n, method=method,
        power=METHODS[method], center=center, scale=scale, inv_lo=1.0 / scale_lo,
        inv_hi=1.0 / scale_hi, k=k,
        lower=lower, upper=upper, band_lo=inverse(method, center - k * scale_lo),
        band_hi=inverse(method, center + k * scale_hi), expected=inverse(method, center),
        drift=drift,
        drift_mu=float(entry.get("drift_mu", 0.0)),
        ewma_gain=1.0 / math.sqrt(ewma_inflation(acf, cfg.ewma_lambda)),
        cusum_gain=1.0 / math.sqrt(long_run_inflation(acf)),
        drift_inv_sigma=1.0 / sigma if drift else 1.0, knots=knots, knot_scores=knot_scores,
    )
