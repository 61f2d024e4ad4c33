"""Monitor-mode scoring: metric rows, the engine's visits and violations in; anomalies out.

The ``Scorer`` is a pure step on in-memory state, like the engine: no file, clock or
print. Time is the log's (integer microseconds). Its state round-trips through
``to_dict`` / ``restore`` as plain JSON, so a resumed monitor continues the drift
statistics, run counters, stuck flags and burst windows exactly.

Rules (each anomaly row names its ``rule``; docs/anomaly-detection.md has the maths):

* ``limits``  value outside the effective [lower, upper]; score = robust z.
* ``ewma``    EWMA (lambda, L) of the standardised winsorised z; score = EWMA / its
  standard deviation at that step (|score| > L). Reset to 0 after a signal.
* ``cusum``   two-sided tabular CUSUM (k, h) of the same input; score = +C+ or -C-
  (in sigma, > h). Both sums reset after a signal.
* ``nelson2`` ``run`` points in a row on one side of the centre; score = +-run.
  The counter restarts after a signal.
* ``stuck``   a component has stayed in a state longer than the upper limit of that
  state's duration metric; flagged once per visit, at the first log time past it.
* ``invalid_burst`` ``count`` violations of one kind within ``window_s`` of log time
  on one component: one row, then the window starts empty.
* ``fault``   a component entered a state marked ``fault: true`` (value 0), covered
  by the baseline or not; ``fault_end`` when it leaves it (value: its duration).

Drift rules only run on metrics whose scale is a real MAD (not a discrete metric's
std or floor fallback), and rows outside the k-limits do not feed EWMA/CUSUM: a spike
is the ``limits`` rule's business, and it must not trip a drift rule by itself.

Rows are scored a block at a time (``score_rows``): grouped by metric, the limits
and the drift input are computed with numpy, and only the recursions (EWMA, CUSUM,
runs) loop in Python. Each metric's rows are taken in order, so the result does not
depend on where blocks are cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from logloom.detect.burst import BurstWatch
from logloom.detect.drift import cusum_run, ewma_run, nelson_run
from logloom.detect.scoring_model import (
    AnomalyConfig,
    DurationMetric,
    MetricModel,
    SummaryRow,
    build_models,
    ewma_limits,
)
from logloom.detect.statistics import DRIFT_CLIP, MetricLimits, normal_scores
from logloom.detect.stuck import StuckWatch, Visit
from logloom.records import INFERRED_SUFFIX, Anomaly, MetricRow, Rows, SeriesKey
from logloom.series import BySeries, columns

__all__ = ["AnomalyConfig", "DurationMetric", "Scorer", "SummaryRow", "Visit"]

STATE_VERSION = 2
_US = 1_000_000
_LIMITS, _EWMA, _CUSUM, _NELSON = range(4)  # the order of a row's anomalies
_found_order = itemgetter(0, 1)
Found = list[tuple[int, int, Anomaly]]  # (row index, rule order, anomaly)
Mark = tuple[int, int, int, Anomaly]  # (line, 0 stuck or 1 burst, rows before the line, anomaly)


class Scorer:
    """Scores one monitor run against a baseline (None: nothing is covered).

    ``limits`` are the per-metric ``anomaly:`` settings of the live config; they
    override the baseline's k and limits. ``state_metrics`` maps (component, state)
    to the duration metric measuring that state, for the ``stuck`` rule, which
    follows the visits given to ``watch``.
    """

    def __init__(
        self,
        baseline: Mapping[str, Any] | None,
        limits: Mapping[tuple[str, str], MetricLimits] | None = None,
        config: AnomalyConfig | None = None,
        state_metrics: Mapping[tuple[str, str], DurationMetric] | None = None,
    ) -> None:
        self.config = cfg = config or AnomalyConfig()
        self.baseline_id = str(baseline.get("id", "")) if baseline else ""
        self._models: dict[tuple[str, str], MetricModel] = {}
        self._ids: dict[tuple[str, str], int] = {}  # (component, metric) -> index in _by_id
        self._by_id: list[MetricModel] = []
        for key, model in build_models(baseline, limits or {}, cfg).items():
            self._add(key, model)
        rules = set(cfg.rules)
        self._on_limits = "limits" in rules
        self._on_ewma = "ewma" in rules
        self._on_cusum = "cusum" in rules
        self._on_nelson = "nelson2" in rules
        self._on_burst = "invalid_burst" in rules
        self._lam_rest, self._ewma_L = 1.0 - cfg.ewma_lambda, cfg.ewma_L
        self._ewma_lims, self._ewma_inf = ewma_limits(cfg.ewma_lambda, cfg.ewma_L)
        # stuck: (component, state) -> (duration metric, microseconds until stuck)
        self._stuck_after: dict[tuple[str, str], tuple[DurationMetric, int]] = {}
        self._durations = dict(state_metrics or {})  # also the metric a fault row names
        for (component, state), dm in self._durations.items():
            m = self._models.get((component, dm.name))
            if "stuck" in rules and m is not None and m.covered and 0.0 < m.upper < math.inf:
                self._stuck_after[component, state] = (dm, int(m.upper * dm.unit_seconds * _US))
        # metric id -> (state -> µs until stuck, µs per unit): the rows of a state's duration
        # metric show the visits that ended after outlasting the limit
        self._stuck_rows: dict[int, tuple[dict[str, int], float]] = {}
        for (component, state), (dm, after) in self._stuck_after.items():
            after_of, _ = self._stuck_rows.setdefault(self._ids[component, dm.name], ({}, dm.unit_seconds * _US))
            after_of[state] = after
        # a value with 6 decimals of seconds, ms or µs gives back its whole µs exactly
        exact = all(per_unit in (1.0, 1e3, 1e6) for _, per_unit in self._stuck_rows.values())
        self.stuck = StuckWatch({key: after for key, (_, after) in self._stuck_after.items()},
                                self._stuck, exact_rows=exact)
        self._visits: dict[str, Visit] = {}
        self._by_series = BySeries(self._metric_of)  # a series' metric id (-1: inferred rows)
        self._pending_uncovered: list[tuple[str, str, int]] = []
        self.bursts = BurstWatch(cfg.burst_count, cfg.burst_window_s, cfg.burst_kinds)

    def _add(self, key: tuple[str, str], model: MetricModel) -> MetricModel:
        self._models[key] = model
        if key not in self._ids:
            self._ids[key] = len(self._by_id)
            self._by_id.append(model)
        else:
            self._by_id[self._ids[key]] = model
        return model

    # ----------------------------------------------------------------- rows
    def score(self, row: MetricRow) -> list[Anomaly]:
        """Score one metric row (``score_rows`` of one)."""
        return [a for _, a in self.score_rows([row])]

    def score_rows(self, rows: Iterable[MetricRow]) -> list[tuple[int, Anomaly]]:
        """Score rows in order; (index in ``rows``, anomaly) in row order. Inferred rows are
        neither scored nor counted. Each metric's rows are scored in their order; the
        anomalies of one row come in rule order. Fastest given as ``Rows``."""
        rows = Rows.of(rows)
        if not (n := len(rows)):
            return []
        _, ids, values = columns(rows)
        group = self._by_series.get(ids, rows.series)
        order = np.argsort(group, kind="stable")
        sorted_group = group[order]
        starts = np.flatnonzero(np.diff(sorted_group, prepend=-2)).tolist()
        found: Found = []
        for s, e in zip(starts, [*starts[1:], n], strict=True):
            g = int(sorted_group[s])
            if g >= 0:
                where = order[s:e]
                x = values[where]
                self._score_metric(self._by_id[g], where, x, rows, found)
                if g in self._stuck_rows:
                    self.stuck.ended(*self._stuck_rows[g], where, x, rows)
        found.sort(key=_found_order)
        return [(i, a) for i, _, a in found]

    def _metric_of(self, series: SeriesKey) -> int:
        """The id of a series' metric, registered (as not covered) if it is new; -1 for
        the rows of a synthesised (inferred) step, which are not scored."""
        component, name, unit, context = series
        key = (component, name)
        if key not in self._ids:
            self._add(key, self._models.get(key) or MetricModel.uncovered(component, name, unit))
        return -1 if context.endswith(INFERRED_SUFFIX) else self._ids[key]

    def _score_metric(self, m: MetricModel, where: np.ndarray, x: np.ndarray,
                      rows: Sequence[MetricRow], found: Found) -> None:
        """The rows of one metric (``where`` in ``rows``, values ``x``), in order."""
        m.rows += len(x)
        if not m.covered:
            if not m.reported:
                m.reported = True
                self._pending_uncovered.append((m.component_id, m.metric_name, m.n))
            return
        valid = x == x  # NaN: counted, nothing to compare
        if not valid.all():
            where, x = where[valid], x[valid]
            if not len(x):
                return
        m.xmin = min(m.xmin, float(x.min()))
        m.xmax = max(m.xmax, float(x.max()))
        if self._on_limits:
            for j in np.flatnonzero((x < m.lower) | (x > m.upper)).tolist():
                at = int(where[j])
                found.append((at, _LIMITS, self._anomaly(m, rows[at], m.z(float(x[j])), "limits")))
        if not m.drift:
            return
        if self._on_ewma or self._on_cusum:
            band = (x >= m.band_lo) & (x <= m.band_hi)
            xb = x[band]
            if m.knots is not None:
                u = normal_scores(xb, m.knots, m.knot_scores)  # type: ignore[arg-type]
            else:  # a baseline without quantiles: the winsorised z
                u = np.clip(m.z_many(xb), -DRIFT_CLIP, DRIFT_CLIP)
            at_band = where[band]
            if self._on_ewma:
                self._ewma(m, (m.ewma_a * u - m.ewma_b).tolist(), at_band, rows, found)
            if self._on_cusum:
                self._cusum(m, ((u - m.drift_mu) * m.drift_inv_sigma * m.cusum_gain).tolist(),
                            at_band, rows, found)
        if self._on_nelson:
            self._nelson(m, np.sign(x - m.expected).astype(int).tolist(), where, rows, found)

    def _ewma(self, m: MetricModel, w: list[float], at: np.ndarray, rows: Sequence[MetricRow],
              found: Found) -> None:
        signals, m.ewma, m.ewma_i = ewma_run(w, m.ewma, m.ewma_i, self._lam_rest, self._ewma_lims, self._ewma_inf)
        for j, e, lim in signals:
            found.append((int(at[j]), _EWMA, self._anomaly(m, rows[at[j]], e * self._ewma_L / lim, "ewma")))

    def _cusum(self, m: MetricModel, z: list[float], at: np.ndarray, rows: Sequence[MetricRow],
               found: Found) -> None:
        signals, m.cusum_hi, m.cusum_lo = cusum_run(z, m.cusum_hi, m.cusum_lo, self.config.cusum_k,
                                                    self.config.cusum_h)
        for j, score in signals:
            found.append((int(at[j]), _CUSUM, self._anomaly(m, rows[at[j]], score, "cusum")))

    def _nelson(self, m: MetricModel, sides: list[int], at: np.ndarray, rows: Sequence[MetricRow],
                found: Found) -> None:
        signals, m.run, m.side = nelson_run(sides, m.run, m.side, self.config.nelson_run)
        for j, score in signals:
            found.append((int(at[j]), _NELSON, self._anomaly(m, rows[at[j]], score, "nelson2")))

    def _anomaly(self, m: MetricModel, row: MetricRow, score: float, rule: str) -> Anomaly:
        m.anomalies += 1
        m.by_rule[rule] = m.by_rule.get(rule, 0) + 1
        return Anomaly(row.ts, row.component_id, row.metric_name, row.value, row.unit,
                       row.state_context, m.expected, m.lower, m.upper, score, rule)

    def not_covered(self) -> list[tuple[str, str, int]]:
        """(component, metric, baseline n) first seen uncovered since the last call.

        Each metric is reported once per Scorer (once per monitor run).
        """
        pending, self._pending_uncovered = self._pending_uncovered, []
        return pending

    # --------------------------------------------------------------- states
    def watch(self, visits: Sequence[Visit]) -> None:
        """Follow these components (the engine's, read live) for ``stuck`` and a burst's state."""
        self._visits = {v.id: v for v in visits}
        self.stuck.watch(visits)

    def _stuck(self, ts: int, component: str, state: str, entered: int) -> Anomaly:
        dm = self._stuck_after[component, state][0]
        m = self._models[component, dm.name]
        elapsed = (ts - entered) / _US / dm.unit_seconds
        return self._anomaly(m, MetricRow(ts, component, dm.name, elapsed, m.unit, state), m.z(elapsed), "stuck")

    def score_block(self, rows: Iterable[MetricRow], marks: list[Mark]) -> list[tuple[int, Anomaly]]:
        """Every anomaly of a block in line order, with its place among the rows (``2 i + 1``
        after ``rows[i]``, ``2 b`` before ``rows[b]``): ``score_rows`` of its rows merged with
        ``marks``, those found while it ran, each (line, 0 stuck or 1 burst or fault, number
        of rows before that line, anomaly), and the stuck visits found after it."""
        rows = Rows.of(rows)
        scored = [(2 * i + 1, a) for i, a in self.score_rows(rows)]
        found = self.stuck.after_block(rows)
        if found:
            marks = sorted([*marks, *((line, 0, before, a) for line, before, a in found)], key=_found_order)
        if not marks:
            return scored
        out: list[tuple[int, Anomaly]] = []
        j = 0
        for _, _, before, mark in marks:
            while j < len(scored) and scored[j][0] < 2 * before:
                out.append(scored[j])
                j += 1
            out.append((2 * before, mark))
        return out + scored[j:]

    def fault(self, ts: int, component: str, state: str, entered: int | None, *, ended: bool = False) -> Anomaly:
        """The ``fault`` anomaly of entering a ``fault: true`` state, or ``fault_end`` of leaving
        it (with its duration), named after the state's duration metric (else the state)."""
        dm = self._durations.get((component, state)) or DurationMetric(state)
        m = self._models.get((component, dm.name))
        if m is None:
            m = self._add((component, dm.name), MetricModel.uncovered(component, dm.name, dm.unit))
            m.reported = dm.name == state  # a state without a duration metric is not a metric
        value = None if not ended else math.nan if entered is None else round((ts - entered) / _US / dm.unit_seconds, 6)
        return m.fault(ts, state, value)

    # ----------------------------------------------------------- violations
    def on_violation(self, ts: int, component_id: str, kind: str) -> list[Anomaly]:
        """Count a violation; ``count`` of one kind within ``window_s`` make one anomaly."""
        count = self.bursts.add(ts, component_id, kind) if self._on_burst else 0
        if not count:
            return []
        visit = self._visits.get(component_id)
        m = self._models.get((component_id, kind))
        if m is None:
            m = self._add((component_id, kind), MetricModel.uncovered(component_id, kind, "count"))
            m.reported = True  # a violation counter is not a baseline metric
        m.anomalies += 1
        m.by_rule["invalid_burst"] = m.by_rule.get("invalid_burst", 0) + 1
        return [Anomaly(ts, component_id, kind, float(count), "count", visit.state if visit else "", 0.0, 0.0,
                        float(self.bursts.count - 1), float(count), "invalid_burst")]

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON state: drift statistics, run counters, stuck flags, burst windows,
        and this run's tallies (which ``restore`` takes back only when asked)."""
        drift = {
            f"{c}\t{n}": [m.ewma, m.ewma_i, m.cusum_hi, m.cusum_lo, m.run, m.side]
            for (c, n), m in self._models.items()
            if m.covered and (m.ewma_i or m.cusum_hi or m.cusum_lo or m.run)
        }
        tallies = {
            f"{c}\t{n}": [m.rows, m.anomalies, None if m.xmin > m.xmax else m.xmin,
                          None if m.xmin > m.xmax else m.xmax, dict(m.by_rule), m.unit]
            for (c, n), m in self._models.items() if m.rows or m.anomalies
        }
        return {
            "schema_version": STATE_VERSION,
            "baseline_id": self.baseline_id,
            "drift": drift,
            "flagged": self.stuck.to_dict(),
            "violations": self.bursts.to_dict(),
            "tallies": tallies,
        }

    def restore(self, state: Mapping[str, Any], *, tallies: bool = False) -> None:
        """Continue from ``to_dict`` output; any state this Scorer had is replaced.

        Drift statistics are kept only for the same baseline (another one starts them
        afresh). The tallies of the summary describe one monitor run, so a resumed run
        starts them at zero; ``tallies=True`` takes them back too (rewinding within a
        run). Raises ``ValueError`` for a state of another schema version or shape.
        """
        version = state.get("schema_version")
        if version not in (1, STATE_VERSION):
            raise ValueError(f"scorer state: unknown schema_version {version!r}")
        for model in self._models.values():
            model.ewma, model.ewma_i, model.cusum_hi, model.cusum_lo = 0.0, 0, 0.0, 0.0
            model.run = model.side = 0
            if tallies:
                model.rows = model.anomalies = 0
                model.xmin, model.xmax, model.by_rule = math.inf, -math.inf, {}
        try:
            if state.get("baseline_id") == self.baseline_id:
                for key, vals in state["drift"].items():
                    comp, _, name = key.partition("\t")
                    m = self._models.get((comp, name))
                    if m is not None and m.covered:
                        e, i, hi, lo, run, side = vals
                        m.ewma, m.ewma_i = float(e), int(i)
                        m.cusum_hi, m.cusum_lo = float(hi), float(lo)
                        m.run, m.side = int(run), int(side)
            if version == 1:  # its own visits: [state, entered, visit number, flagged]
                self.stuck.restore({c: (s, e) for c, (s, e, _, f) in state["states"].items() if f})
            else:
                self.stuck.restore(state["flagged"])
            self.bursts.restore(state["violations"])
            if tallies:
                self._restore_tallies(state.get("tallies") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"scorer state is malformed: {exc!r}") from exc

    def _restore_tallies(self, tallies: Mapping[str, Any]) -> None:
        for key, (rows, anomalies, xmin, xmax, by_rule, unit) in tallies.items():
            comp, _, name = key.partition("\t")
            m = self._models.get((comp, name))
            if m is None:
                m = self._add((comp, name), MetricModel.uncovered(comp, name, str(unit)))
                m.reported = True  # reported in the run that saw it first
            m.rows, m.anomalies = int(rows), int(anomalies)
            if xmin is not None:
                m.xmin, m.xmax = float(xmin), float(xmax)
            m.by_rule = {str(r): int(n) for r, n in by_rule.items()}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                  visits: Sequence[Visit] = (), **kwargs: Any) -> Scorer:
        """A Scorer built like ``Scorer(baseline, **kwargs)``, watching ``visits``, continuing ``state``."""
        scorer = cls(baseline, **kwargs)
        scorer.watch(visits)
        scorer.restore(state)
        return scorer

    # -------------------------------------------------------------- summary
    def summary_rows(self) -> list[SummaryRow]:
        """Per (component, metric) seen or covered: tallies of this run and the limits."""
        return [m.summary() for _, m in sorted(self._models.items()) if m.rows or m.anomalies]

    def uncovered_all(self) -> list[tuple[str, str, int]]:
        """Every metric seen in this run that was not scored, with its baseline n."""
        return [(c, n, m.n) for (c, n), m in sorted(self._models.items())
                if not m.covered and m.rows]
