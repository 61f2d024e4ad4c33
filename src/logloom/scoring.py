"""Monitor-mode scoring: metric rows, state changes and violations in; anomalies out.

The ``Scorer`` is a pure step on in-memory state, like the engine: no file, clock or
print. Time is the log's (integer microseconds). Its state round-trips through
``to_dict`` / ``restore`` as plain JSON, so a resumed monitor continues the drift
statistics, run counters, stuck timers and burst windows exactly.

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

Drift rules only run on metrics whose scale is a real MAD (not a discrete metric's
std or floor fallback), and rows outside the k-limits do not feed EWMA/CUSUM: a spike
is the ``limits`` rule's business, and it must not trip a drift rule by itself.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from heapq import heappush
from typing import Any

from logloom.baseline_stats import DRIFT_CLIP, MetricLimits
from logloom.records import INFERRED_SUFFIX, Anomaly, MetricRow, StateChange
from logloom.scoring_model import (
    AnomalyConfig,
    DurationMetric,
    MetricModel,
    SummaryRow,
    build_models,
    ewma_limits,
)

__all__ = ["AnomalyConfig", "DurationMetric", "Scorer", "SummaryRow"]

STATE_VERSION = 1
_US = 1_000_000


class Scorer:
    """Scores one monitor run against a baseline (None: nothing is covered).

    ``limits`` are the per-metric ``anomaly:`` settings of the live config; they
    override the baseline's k and limits. ``state_metrics`` maps (component, state)
    to the duration metric measuring that state, for the ``stuck`` rule.
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
        self._models: dict[tuple[str, str], MetricModel] = build_models(baseline, limits or {}, cfg)
        self._state_metrics = dict(state_metrics or {})
        rules = set(cfg.rules)
        self._on_limits = "limits" in rules
        self._on_ewma = "ewma" in rules
        self._on_cusum = "cusum" in rules
        self._on_nelson = "nelson2" in rules
        self._on_stuck = "stuck" in rules
        self._on_burst = "invalid_burst" in rules
        self._lam_rest, self._ewma_L = 1.0 - cfg.ewma_lambda, cfg.ewma_L
        self._ewma_lims, self._ewma_inf = ewma_limits(cfg.ewma_lambda, cfg.ewma_L)
        self._ewma_n = len(self._ewma_lims)
        # stuck: (component, state) -> (duration metric, microseconds until stuck)
        self._stuck_after: dict[tuple[str, str], tuple[DurationMetric, int]] = {}
        for (component, state), dm in self._state_metrics.items():
            m = self._models.get((component, dm.name))
            if self._on_stuck and m is not None and m.covered and math.isfinite(m.upper):
                self._stuck_after[component, state] = (dm, int(m.upper * dm.unit_seconds * _US))
        self._stuck_us = {key: after for key, (_, after) in self._stuck_after.items()}
        self._pending_uncovered: list[tuple[str, str, int]] = []
        # stuck: component -> [state, entry_ts, visit_seq, flagged]
        self._states: dict[str, list[Any]] = {}
        # (deadline µs, visit seq, component), a heap; the loop reads deadlines[0] to skip
        # calling ``step`` on steps that wrote no row before any stuck deadline is due
        self.deadlines: list[tuple[int, int, str]] = []
        self._visit_seq = 0
        self._violations: dict[tuple[str, str], deque[int]] = {}

    # ----------------------------------------------------------------- rows
    def score(self, row: MetricRow) -> list[Anomaly]:
        """Score one metric row; inferred rows are neither scored nor counted.

        The common case (a row within its limits) touches raw values only: the limits,
        the k-band that gates the drift rules and the centre are precomputed in raw
        units, the drift input comes from the quantile table, and the z of a row is
        computed only for an anomaly (the summary's worst z comes from the extremes).
        """
        _, component, name, x, _, context = row
        # a synthesised (inferred) step writes only duration rows of 0.0 (SPEC 4 step 6):
        # the float test spares the string test on almost every row
        if x == 0.0 and context.endswith(INFERRED_SUFFIX):
            return []
        m = self._models.get((component, name))
        if m is None or not m.covered:
            self._count_uncovered(row, m)
            return []
        m.rows += 1
        if x != x:  # NaN: nothing to compare
            return []
        if x < m.xmin:
            m.xmin = x
        if x > m.xmax:
            m.xmax = x
        out: list[Anomaly] = []
        if self._on_limits and (x < m.lower or x > m.upper):
            out.append(self._anomaly(m, row, m.z(x), "limits"))
        if m.drift:
            if m.band_lo <= x <= m.band_hi:
                xs = m.knots
                if xs is not None:  # baseline_stats.normal_score, inlined
                    ss: list[float] = m.knot_scores  # type: ignore[assignment]
                    j = bisect_right(xs, x)
                    if j == 0:
                        u = ss[0]
                    elif j == len(xs):
                        u = ss[-1]
                    else:
                        x0 = xs[j - 1]
                        u = ss[j - 1] + (ss[j] - ss[j - 1]) * (x - x0) / (xs[j] - x0)
                else:  # a baseline without quantiles: the winsorised z
                    u = max(-DRIFT_CLIP, min(DRIFT_CLIP, m.z(x)))
                if self._on_ewma:
                    i = m.ewma_i + 1
                    # lam * gain * (u - mu) / sigma + (1 - lam) * E, coefficients folded
                    e = m.ewma_a * u - m.ewma_b + self._lam_rest * m.ewma
                    lim = self._ewma_lims[i] if i < self._ewma_n else self._ewma_inf
                    if e > lim or e < -lim:
                        out.append(self._anomaly(m, row, e * self._ewma_L / lim, "ewma"))
                        e, i = 0.0, 0
                    m.ewma, m.ewma_i = e, i
                if self._on_cusum:
                    self._cusum(m, row, (u - m.drift_mu) * m.drift_inv_sigma * m.cusum_gain, out)
            if self._on_nelson:
                self._nelson(m, row, x, out)
        if out:
            m.anomalies += len(out)
        return out

    def step(self, ts: int, rows: list[MetricRow]) -> list[Anomaly]:
        """``advance(ts)`` then ``score`` each row: one call per engine step."""
        heap = self.deadlines
        out = self.advance(ts) if heap and heap[0][0] < ts else []
        score = self.score
        for row in rows:
            found = score(row)
            if found:
                out += found
        return out

    def _cusum(self, m: MetricModel, row: MetricRow, u: float, out: list[Anomaly]) -> None:
        k, h = self.config.cusum_k, self.config.cusum_h
        hi = max(0.0, m.cusum_hi + u - k)
        lo = max(0.0, m.cusum_lo - u - k)
        if hi > h or lo > h:
            out.append(self._anomaly(m, row, hi if hi > h else -lo, "cusum"))
            hi = lo = 0.0
        m.cusum_hi, m.cusum_lo = hi, lo

    def _nelson(self, m: MetricModel, row: MetricRow, x: float, out: list[Anomaly]) -> None:
        side = 1 if x > m.expected else (-1 if x < m.expected else 0)
        if side == 0:
            m.run, m.side = 0, 0  # a point on the centre line breaks a run
            return
        m.run = m.run + 1 if side == m.side else 1
        m.side = side
        if m.run >= self.config.nelson_run:
            out.append(self._anomaly(m, row, float(side * m.run), "nelson2"))
            m.run, m.side = 0, 0

    def _anomaly(self, m: MetricModel, row: MetricRow, score: float, rule: str) -> Anomaly:
        m.by_rule[rule] = m.by_rule.get(rule, 0) + 1
        return Anomaly(row.ts, row.component_id, row.metric_name, row.value, row.unit,
                       row.state_context, m.expected, m.lower, m.upper, score, rule)

    def _count_uncovered(self, row: MetricRow, m: MetricModel | None) -> None:
        if m is None:
            m = self._models[row.component_id, row.metric_name] = MetricModel.uncovered(
                row.component_id, row.metric_name, row.unit)
        m.rows += 1
        if not m.reported:
            m.reported = True
            self._pending_uncovered.append((row.component_id, row.metric_name, m.n))

    def not_covered(self) -> list[tuple[str, str, int]]:
        """(component, metric, baseline n) first seen uncovered since the last call.

        Each metric is reported once per Scorer (once per monitor run).
        """
        pending, self._pending_uncovered = self._pending_uncovered, []
        return pending

    # --------------------------------------------------------------- states
    def on_state_change(self, change: StateChange) -> list[Anomaly]:
        """Track the component's visit for ``stuck``; flags what ``change.ts`` passes."""
        return self.enter(change.ts, change.component_id, change.to_state)

    def enter(self, ts: int, component: str, state: str) -> list[Anomaly]:
        """``on_state_change`` with plain arguments: ``component`` entered ``state`` at ``ts``."""
        heap = self.deadlines
        out = self.advance(ts) if heap and heap[0][0] < ts else []
        self._visit_seq = seq = self._visit_seq + 1
        self._states[component] = [state, ts, seq, False]
        after = self._stuck_us.get((component, state))
        if after is not None:
            heappush(heap, (ts + after, seq, component))
        return out

    def _push_deadline(self, component: str) -> None:
        state, entry, seq, flagged = self._states[component]
        stuck = self._stuck_after.get((component, state))
        if stuck is not None and not flagged:
            heapq.heappush(self.deadlines, (entry + stuck[1], seq, component))

    def advance(self, ts: int) -> list[Anomaly]:
        """Log time reached ``ts``: flag visits that have outlasted their state's limit."""
        heap = self.deadlines
        if not heap or heap[0][0] >= ts:
            return []
        out: list[Anomaly] = []
        while heap and heap[0][0] < ts:
            _, seq, component = heapq.heappop(heap)
            rec = self._states.get(component)
            if rec is None or rec[2] != seq or rec[3]:
                continue  # the visit ended (or was flagged) since the deadline was set
            rec[3] = True
            state, entry = rec[0], rec[1]
            dm = self._stuck_after[component, state][0]
            m = self._models[component, dm.name]
            elapsed = (ts - entry) / _US / dm.unit_seconds
            row = MetricRow(ts, component, dm.name, elapsed, m.unit, state)
            out.append(self._anomaly(m, row, m.z(elapsed), "stuck"))
            m.anomalies += 1
        return out

    # ----------------------------------------------------------- violations
    def on_violation(self, ts: int, component_id: str, kind: str) -> list[Anomaly]:
        """Count a violation; ``count`` of one kind within ``window_s`` make one anomaly."""
        cfg = self.config
        if not self._on_burst or kind not in cfg.burst_kinds:
            return []
        window = self._violations.setdefault((component_id, kind), deque())
        window.append(ts)
        horizon = ts - int(cfg.burst_window_s * _US)
        while window[0] < horizon:
            window.popleft()
        if len(window) < cfg.burst_count:
            return []
        count = len(window)
        window.clear()
        state = self._states.get(component_id)
        key = (component_id, kind)
        m = self._models.get(key)
        if m is None:
            m = self._models[key] = MetricModel.uncovered(component_id, kind, "count")
            m.reported = True  # a violation counter is not a baseline metric
        m.anomalies += 1
        m.by_rule["invalid_burst"] = m.by_rule.get("invalid_burst", 0) + 1
        return [Anomaly(ts, component_id, kind, float(count), "count",
                        state[0] if state else "", 0.0, 0.0, float(cfg.burst_count - 1),
                        float(count), "invalid_burst")]

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON state: drift statistics, run counters, visits, burst windows, and
        this run's tallies (which ``restore`` takes back only when asked)."""
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
            "visit_seq": self._visit_seq,
            "states": {c: list(rec) for c, rec in self._states.items()},
            "violations": {f"{c}\t{k}": list(w) for (c, k), w in self._violations.items() if w},
            "tallies": tallies,
        }

    def restore(self, state: Mapping[str, Any], *, tallies: bool = False) -> None:
        """Continue from ``to_dict`` output; any state this Scorer had is replaced.

        Drift statistics are kept only for the same baseline (another one starts them
        afresh). The tallies of the summary describe one monitor run, so a resumed run
        starts them at zero; ``tallies=True`` takes them back too (rewinding within a
        run). Raises ``ValueError`` for a state of another schema version or shape.
        """
        if state.get("schema_version") != STATE_VERSION:
            version = state.get("schema_version")
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
            self._visit_seq = int(state["visit_seq"])
            self._states = {c: [str(s), int(t), int(q), bool(f)] for c, (s, t, q, f)
                            in state["states"].items()}
            self._violations = {}
            for key, times in state["violations"].items():
                comp, kind = key.split("\t", 1)
                self._violations[comp, kind] = deque(int(t) for t in times)
            if tallies:
                self._restore_tallies(state.get("tallies") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"scorer state is malformed: {exc!r}") from exc
        self.deadlines = []
        for component in self._states:
            self._push_deadline(component)

    def _restore_tallies(self, tallies: Mapping[str, Any]) -> None:
        for key, (rows, anomalies, xmin, xmax, by_rule, unit) in tallies.items():
            comp, _, name = key.partition("\t")
            m = self._models.get((comp, name))
            if m is None:
                m = self._models[comp, name] = MetricModel.uncovered(comp, name, str(unit))
                m.reported = True  # reported in the run that saw it first
            m.rows, m.anomalies = int(rows), int(anomalies)
            if xmin is not None:
                m.xmin, m.xmax = float(xmin), float(xmax)
            m.by_rule = {str(r): int(n) for r, n in by_rule.items()}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                  **kwargs: Any) -> Scorer:
        """A Scorer built like ``Scorer(baseline, **kwargs)`` that continues ``state``."""
        scorer = cls(baseline, **kwargs)
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
