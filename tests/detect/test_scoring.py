"""The Scorer's rules against hand-computed and textbook values."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logloom.detect.scoring import AnomalyConfig, DurationMetric, Scorer
from logloom.detect.scoring_model import ewma_inflation, ewma_limits, long_run_inflation
from logloom.detect.statistics import MetricLimits
from logloom.records import Anomaly, MetricRow

S = 1_000_000  # microseconds per second


def entry(center: float, scale: float, method: str = "robust_z", *, n: int = 100,
          k: float = 4.0, unit: str = "s", **extra: Any) -> dict[str, Any]:
    """A hand-made baseline entry; limits from the textbook formula."""
    if method == "robust_log_z":
        lower, upper = math.exp(center - k * scale), math.exp(center + k * scale)
        median = math.exp(center)
    else:
        lower, upper, median = center - k * scale, center + k * scale, center
    e = {"unit": unit, "n": n, "mean": median, "std": scale, "min": lower, "max": upper,
         "median": median, "mad": scale / 1.4826, "p05": median, "p95": median,
         "lower": lower, "upper": upper, "method": method, "k": k, "center": center,
         "scale": scale, "scale_source": "mad", "learned_lower": lower, "learned_upper": upper,
         "drift_mu": 0.0, "drift_sigma": 1.0}
    e.update(extra)
    return e


def baseline(**metrics: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "id": "baseline_20260101T000000Z",
            "metrics": {"c1": dict(metrics)}}


def row(value: float, metric: str = "m", t: int = 0, context: str = "S") -> MetricRow:
    return MetricRow(t, "c1", metric, value, "s", context)


def feed(scorer: Scorer, values: list[float], metric: str = "m") -> list[list[Anomaly]]:
    return [scorer.score(row(v, metric, i)) for i, v in enumerate(values)]


# ------------------------------------------------------------------- limits
def test_limits_rule_on_the_log_scale() -> None:
    c, s = math.log(15.0), 0.05
    scorer = Scorer(baseline(m=entry(c, s, "robust_log_z")), config=AnomalyConfig(rules=("limits",)))
    assert scorer.score(row(15.0 * math.exp(3.9 * s))) == []
    [a] = scorer.score(row(30.0))
    assert a.rule == "limits"
    assert a.score == pytest.approx((math.log(30.0) - c) / s)
    assert a.expected == pytest.approx(15.0)
    assert (a.lower, a.upper) == pytest.approx((15.0 * math.exp(-0.2), 15.0 * math.exp(0.2)))
    [low] = scorer.score(row(15.0 * 0.45))
    assert low.score == pytest.approx(math.log(0.45) / s)
    [bad] = scorer.score(row(0.0))  # no log of 0: far below, with a finite score
    assert bad.score == -1e6


def test_the_score_uses_the_scale_of_its_side() -> None:
    b = baseline(m=entry(10.0, 1.0, scale_lower=1.0, scale_upper=2.0, learned_upper=18.0))
    scorer = Scorer(b, config=AnomalyConfig(rules=("limits",)))
    assert scorer.score(row(17.0)) == []  # 3.5 sigma of the upper side
    [high] = scorer.score(row(19.0))
    assert high.score == pytest.approx(4.5)
    [low] = scorer.score(row(5.0))
    assert low.score == pytest.approx(-5.0)
    k3 = Scorer(b, {("c1", "m"): MetricLimits(k=3.0)}, AnomalyConfig(rules=("limits",)))
    [a] = k3.score(row(17.0))
    assert (a.lower, a.upper) == (7.0, 16.0)


def test_engineering_limits_and_k_override_the_baseline() -> None:
    b = baseline(m=entry(10.0, 1.0))
    scorer = Scorer(b, {("c1", "m"): MetricLimits(lower=9.5, upper=20.0)},
                    AnomalyConfig(rules=("limits",)))
    assert [a.rule for a in scorer.score(row(9.0))] == ["limits"]
    assert scorer.score(row(16.0)) == []
    narrow = Scorer(b, {("c1", "m"): MetricLimits(k=2.0)}, AnomalyConfig(rules=("limits",)))
    [a] = narrow.score(row(12.5))
    assert (a.lower, a.upper) == (8.0, 12.0)


def test_inferred_rows_are_not_scored_or_counted() -> None:
    scorer = Scorer(baseline(m=entry(10.0, 1.0)))
    # a synthesised step's duration row is 0.0 (SPEC 4 step 6): far below the limits
    assert scorer.score(row(0.0, context="S:inferred")) == []
    assert scorer.summary_rows() == []
    assert [a.rule for a in scorer.score(row(0.0, context="S"))] == ["limits"]


def test_min_samples_and_not_covered_reported_once() -> None:
    b = baseline(m=entry(10.0, 1.0, n=10), big=entry(10.0, 1.0, n=50))
    scorer = Scorer(b)
    assert scorer.score(row(1000.0)) == []  # n = 10 < 20: not scored
    assert scorer.score(row(1000.0, "unknown")) == []
    assert scorer.score(row(1000.0)) == []
    assert scorer.not_covered() == [("c1", "m", 10), ("c1", "unknown", 0)]
    assert scorer.score(row(1000.0)) == []
    assert scorer.not_covered() == []
    assert [a.rule for a in scorer.score(row(1000.0, "big"))] == ["limits"]
    assert scorer.uncovered_all() == [("c1", "m", 10), ("c1", "unknown", 0)]
    relaxed = Scorer(b, {("c1", "m"): MetricLimits(min_samples=5)})
    assert [a.rule for a in relaxed.score(row(1000.0))] == ["limits"]


def test_no_baseline_scores_nothing() -> None:
    scorer = Scorer(None)
    assert scorer.score(row(1.0)) == []
    assert scorer.not_covered() == [("c1", "m", 0)]


# --------------------------------------------------------------------- EWMA
def test_ewma_limits_match_the_textbook_formula() -> None:
    lims, asymptote = ewma_limits(0.2, 3.0)
    assert lims[1] == pytest.approx(0.6)  # 3 * sqrt(0.2/1.8 * (1 - 0.64))
    assert lims[2] == pytest.approx(3 * math.sqrt(0.2 / 1.8 * (1 - 0.8**4)))
    assert asymptote == pytest.approx(1.0)
    assert lims[-1] == pytest.approx(asymptote)


def test_ewma_signals_where_the_closed_form_crosses_its_limit() -> None:
    lam, L, u = 0.2, 3.0, 1.5
    # E_i = u (1 - (1-lam)^i) against L sqrt(lam/(2-lam) (1-(1-lam)^(2i))): first i = 5
    crossing = next(i for i in range(1, 50) if u * (1 - (1 - lam) ** i)
                    > L * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i))))
    assert crossing == 5
    scorer = Scorer(baseline(m=entry(0.0, 1.0)), config=AnomalyConfig(rules=("ewma",), ewma_L=L))
    out = feed(scorer, [u] * 10)
    assert [i + 1 for i, a in enumerate(out) if a] == [5, 10]  # reset after each signal
    expected_score = u * (1 - 0.8**5) / math.sqrt(0.2 / 1.8 * (1 - 0.8**10))
    assert out[4][0].score == pytest.approx(expected_score)
    assert out[4][0].rule == "ewma"


def test_autocorrelation_widens_the_drift_limits() -> None:
    acf = [0.5, 0.25, 0.125]
    # 1 + 2 (0.8 * 0.5 + 0.64 * 0.25 + 0.512 * 0.125) = 2.248
    assert ewma_inflation(acf, 0.2) == pytest.approx(2.248)
    # Bartlett weights 3/4, 2/4, 1/4: 1 + 2 (0.375 + 0.125 + 0.03125) = 2.0625
    assert long_run_inflation(acf) == pytest.approx(2.0625)
    assert ewma_inflation([-0.4], 0.2) == 1.0  # never narrower than for independent rows
    lam, L, u, f = 0.2, 3.0, 2.0, 2.248
    crossing = next(i for i in range(1, 50) if u * (1 - (1 - lam) ** i)
                    > math.sqrt(f) * L * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i))))
    scorer = Scorer(baseline(m=entry(0.0, 1.0, drift_acf=acf)),
                    config=AnomalyConfig(rules=("ewma",), ewma_L=L))
    out = feed(scorer, [u] * 60)
    assert next(i + 1 for i, a in enumerate(out) if a) == crossing > 5


def test_a_single_spike_does_not_trip_the_drift_rules() -> None:
    cfg = AnomalyConfig(rules=("limits", "ewma", "cusum", "nelson2"))
    scorer = Scorer(baseline(m=entry(0.0, 1.0)), config=cfg)
    values = [0.3, -0.2, 0.1, -0.4, 0.2, -0.1] * 5
    spiked = [*values[:15], 50.0, *values[15:]]
    rules = [a.rule for out in feed(scorer, spiked) for a in out]
    assert rules == ["limits"]


# -------------------------------------------------------------------- CUSUM
# Montgomery, Introduction to Statistical Quality Control, Example 9.1 / Table 9.2:
# mu0 = 10, sigma = 1, k = 0.5, H = 5; C+ first exceeds H at period 29 (C+ = 5.28).
MONTGOMERY_9_1 = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
                  9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
                  10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52]


def test_cusum_textbook_example() -> None:
    cfg = AnomalyConfig(rules=("cusum",), cusum_k=0.5, cusum_h=5.0)
    scorer = Scorer(baseline(m=entry(10.0, 1.0)), config=cfg)
    out = feed(scorer, MONTGOMERY_9_1)
    signals = [(i + 1, a.score) for i, anomalies in enumerate(out) for a in anomalies]
    assert len(signals) == 1
    period, score = signals[0]
    assert period == 29
    assert score == pytest.approx(5.28, abs=0.005)


def test_cusum_lower_side_signals_negative() -> None:
    scorer = Scorer(baseline(m=entry(0.0, 1.0)), config=AnomalyConfig(rules=("cusum",)))
    out = feed(scorer, [-2.0] * 4)  # C- = 1.5, 3.0, 4.5, 6.0 > 5 at the 4th
    assert [bool(a) for a in out] == [False, False, False, True]
    assert out[3][0].score == pytest.approx(-6.0)


# ------------------------------------------------------------------- Nelson
def test_nelson2_nine_on_one_side() -> None:
    scorer = Scorer(baseline(m=entry(0.0, 1.0)), config=AnomalyConfig(rules=("nelson2",)))
    out = feed(scorer, [0.1] * 8 + [-0.1] + [0.2] * 8 + [0.0] + [-0.3] * 9 + [0.1] * 9)
    hits = [(i, a.score) for i, anomalies in enumerate(out) for a in anomalies]
    # 8 up, 1 down, 8 up (9 with nothing: the down point broke the run), a point on the
    # centre line, then 9 down (index 26) and 9 up (index 35)
    assert hits == [(26, -9.0), (35, 9.0)]


def test_drift_rules_skip_discrete_metrics() -> None:
    b = baseline(m=entry(0.0, 0.2, scale_source="std", drift_sigma=0.6))
    cfg = AnomalyConfig(rules=("ewma", "cusum", "nelson2"))
    scorer = Scorer(b, config=cfg)
    assert not any(feed(scorer, [0.5] * 50))


# -------------------------------------------------------------------- stuck
@dataclass
class Visit:
    """A component as the stuck rule reads it (the engine's Component)."""

    id: str = "c1"
    state: str = "IDLE"
    entered: int | None = None


def stuck_scorer(upper: float = 20.0, unit_seconds: float = 1.0, *,
                 config: AnomalyConfig | None = None) -> tuple[Scorer, Visit]:
    b = baseline(m=entry(10.0, 2.5))  # limits 0 .. 20
    assert b["metrics"]["c1"]["m"]["upper"] == upper
    scorer = Scorer(b, config=config, state_metrics={("c1", "RUN"): DurationMetric("m", unit_seconds)})
    visit = Visit()
    scorer.watch([visit])
    return scorer, visit


Line = tuple[int, str, str, float]  # (time, "row" | "state" | "violation", name, value)


def drive(scorer: Scorer, visit: Visit, lines: list[Line], cuts: tuple[int, ...] = (),
          first: int = 1) -> list[Anomaly]:
    """Feed lines in blocks split at ``cuts`` the way ``Run`` does: ``reached`` before a
    line whose time leaves the window, a ``state`` line moves ``visit`` (writing the
    RUN visit's duration row ``m``), then ``score_block`` of each block."""
    out: list[Anomaly] = []
    bounds = [0, *sorted(set(cuts) - {0, len(lines)}), len(lines)]
    for lo, hi in itertools.pairwise(bounds):
        block = lines[lo:hi]
        scorer.stuck.begin_block(np.array([ts for ts, *_ in block], dtype=np.int64),
                           np.arange(first + lo, first + hi))
        low, high = scorer.stuck.low, scorer.stuck.high
        rows: list[MetricRow] = []
        marks: list[tuple[int, int, int, Anomaly]] = []
        for line, (ts, kind, name, value) in enumerate(block, first + lo):
            if not low <= ts <= high:
                marks += [(line, 0, len(rows), a) for a in scorer.stuck.reached(ts)]
                low, high = scorer.stuck.low, scorer.stuck.high
            if kind == "row":
                rows.append(MetricRow(ts, "c1", name, value, "s", "S"))
            elif kind == "violation":
                marks += [(line, 1, len(rows), a) for a in scorer.on_violation(ts, "c1", name)]
            else:
                if visit.state == "RUN" and visit.entered is not None and ts >= visit.entered:
                    rows.append(MetricRow(ts, "c1", "m", (ts - visit.entered) / S, "s", "RUN"))
                visit.state, visit.entered = name, ts
        out += [a for _, a in scorer.score_block(rows, marks)]
    return out


def test_stuck_is_flagged_once_when_log_time_passes_the_upper_limit() -> None:
    scorer, visit = stuck_scorer()
    t0 = 100 * S
    visit.state, visit.entered = "RUN", t0
    assert scorer.stuck.reached(t0 + 20 * S) == []  # exactly the limit: not longer
    [a] = scorer.stuck.reached(t0 + 20 * S + 1)
    assert (a.rule, a.metric_name, a.state_context, a.ts) == ("stuck", "m", "RUN", t0 + 20 * S + 1)
    assert a.value == pytest.approx(20.000001)
    assert a.score == pytest.approx((20.000001 - 10.0) / 2.5)
    assert scorer.stuck.reached(t0 + 500 * S) == []  # once per visit
    visit.state, visit.entered = "IDLE", t0 + 600 * S
    assert scorer.stuck.reached(t0 + 700 * S) == []  # IDLE has no duration metric
    visit.state, visit.entered = "RUN", t0 + 700 * S
    assert scorer.stuck.reached(t0 + 719 * S) == []
    assert [a.rule for a in scorer.stuck.reached(t0 + 721 * S)] == ["stuck"]  # a new visit


def test_leaving_in_time_is_not_stuck_and_units_are_respected() -> None:
    scorer, visit = stuck_scorer()
    lines: list[Line] = [(0, "state", "RUN", 0.0), (19 * S, "state", "IDLE", 0.0), (10_000 * S, "row", "q", 1.0)]
    assert drive(scorer, visit, lines) == []
    minutes, visit = stuck_scorer(unit_seconds=60.0)  # the metric is in minutes: 20 min
    visit.state, visit.entered = "RUN", 0
    assert minutes.stuck.reached(1000 * S) == []
    [a] = minutes.stuck.reached(1201 * S)
    assert a.value == pytest.approx(1201 / 60)


def test_a_stuck_visit_comes_before_the_rows_of_its_line() -> None:
    cfg = AnomalyConfig(rules=("limits", "stuck"))
    lines: list[Line] = [(0, "state", "RUN", 0.0), (10 * S, "row", "m", 10.0), (25 * S, "row", "m", 30.0),
                         (26 * S, "row", "m", 10.0), (30 * S, "state", "IDLE", 0.0)]
    for cuts in [(), (1,), (2,), (3,), (4,), (1, 2, 3, 4)]:
        scorer, visit = stuck_scorer(config=cfg)
        out = drive(scorer, visit, lines, cuts)
        # at 25 s: the visit passed 20 s (stuck), then the row of 30 (limits); the visit
        # ends at 30 s with a 30 s duration row outside the limits
        assert [(a.ts // S, a.rule) for a in out] == [(25, "stuck"), (25, "limits"), (30, "limits")], cuts
        assert out[0].value == pytest.approx(25.0)


def reference(lines: list[Line], after: int = 20 * S) -> list[tuple[int, int]]:
    """The stuck rule by its definition: (line, time) where a RUN visit, (state, entry
    time), is first seen on a line later than its entry + ``after``; once per visit."""
    state, entered, flagged = "IDLE", None, None
    out = []
    for line, (ts, kind, name, _) in enumerate(lines, 1):
        if state == "RUN" and entered is not None and ts > entered + after and flagged != (state, entered):
            flagged = (state, entered)
            out.append((line, ts))
        if kind == "state":
            state, entered = name, ts
    return out


step_line = st.tuples(st.integers(-3, 30).map(lambda s: s * S // 2),
                      st.sampled_from(["state RUN", "state IDLE", "state RUN", "row q"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(step_line, min_size=1, max_size=60), st.lists(st.integers(1, 59), max_size=6),
       st.booleans())
def test_stuck_matches_its_definition_however_blocks_are_cut(
        steps: list[tuple[int, str]], cuts: list[int], in_order: bool) -> None:
    ts, lines = 0, []
    for delta, what in steps:
        ts += abs(delta) if in_order else delta  # in order: the block-wise search; else line by line
        kind, name = what.split()
        lines.append((ts, kind, name, 1.0))
    scorer, visit = stuck_scorer(config=AnomalyConfig(rules=("stuck",)))
    out = drive(scorer, visit, lines, tuple(cuts))
    assert [(a.rule, a.ts) for a in out] == [("stuck", t) for _, t in reference(lines)]


# -------------------------------------------------------------------- burst
def test_burst_of_invalid_transitions_is_one_anomaly() -> None:
    cfg = AnomalyConfig(burst_count=3, burst_window_s=10.0)
    scorer = Scorer(None, config=cfg)
    assert scorer.on_violation(0, "c1", "invalid_transition") == []
    assert scorer.on_violation(5 * S, "c1", "invalid_transition") == []
    assert scorer.on_violation(11 * S, "c1", "invalid_transition") == []  # 0 s fell out
    assert scorer.on_violation(12 * S, "c1", "guard_blocked") == []  # not a burst kind
    assert scorer.on_violation(12 * S, "c2", "invalid_transition") == []  # another component
    [a] = scorer.on_violation(12 * S, "c1", "invalid_transition")
    assert (a.rule, a.value, a.upper, a.metric_name) == ("invalid_burst", 3.0, 2.0,
                                                         "invalid_transition")
    assert scorer.on_violation(13 * S, "c1", "invalid_transition") == []  # window restarted


# -------------------------------------------------------------- persistence
ALL_RULES = AnomalyConfig(rules=("limits", "ewma", "cusum", "nelson2", "stuck", "invalid_burst"),
                          burst_count=3, burst_window_s=5.0)
STREAM_BASELINE = baseline(m=entry(0.0, 1.0, n=100), q=entry(math.log(5.0), 0.1, "robust_log_z"))
STATES = {("c1", "RUN"): DurationMetric("m")}

event = st.one_of(
    st.tuples(st.just("row"), st.sampled_from(["m", "q"]),
              st.floats(-6, 6, allow_nan=False)),
    st.tuples(st.just("state"), st.sampled_from(["RUN", "IDLE"]), st.just(0.0)),
    st.tuples(st.just("violation"), st.just("invalid_transition"), st.just(0.0)),
)


def stream(events: list[tuple[str, str, float]]) -> list[Line]:
    """One line a second; ``q`` rows are log-normal around 5."""
    return [(i * S, kind, name, math.exp(math.log(5.0) + value * 0.1) if name == "q" else value)
            for i, (kind, name, value) in enumerate(events)]


def stream_scorer() -> tuple[Scorer, Visit]:
    scorer = Scorer(STREAM_BASELINE, config=ALL_RULES, state_metrics=STATES)
    visit = Visit()
    scorer.watch([visit])
    return scorer, visit


@settings(max_examples=60, deadline=None)
@given(st.lists(event, min_size=2, max_size=120), st.data())
def test_resume_from_to_dict_gives_identical_anomalies(events: list[Any], data: Any) -> None:
    lines = stream(events)
    cut = data.draw(st.integers(1, len(lines) - 1))
    blocks = tuple(data.draw(st.lists(st.integers(1, len(lines) - 1), max_size=4)))
    expected = drive(*stream_scorer(), lines)
    first, visit = stream_scorer()
    head = drive(first, visit, lines[:cut], blocks)
    state = json.loads(json.dumps(first.to_dict()))
    resumed = Scorer.from_dict(state, STREAM_BASELINE, [visit], config=ALL_RULES, state_metrics=STATES)
    assert head + drive(resumed, visit, lines[cut:], first=cut + 1) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(event, min_size=2, max_size=120), st.data())
def test_rewind_on_a_used_scorer_gives_identical_anomalies_and_tallies(
        events: list[Any], data: Any) -> None:
    lines = stream(events)
    cut = data.draw(st.integers(1, len(lines) - 1))
    extra = data.draw(st.integers(cut, len(lines)))
    whole, whole_visit = stream_scorer()
    expected = drive(whole, whole_visit, lines)
    scorer, visit = stream_scorer()
    head = drive(scorer, visit, lines[:cut])
    snapshot = json.loads(json.dumps(scorer.to_dict(), allow_nan=False))
    saved_visit = dataclasses.replace(visit)
    drive(scorer, visit, lines[cut:extra], first=cut + 1)  # the block that failed half-way
    visit.state, visit.entered = saved_visit.state, saved_visit.entered  # the engine's rewind
    scorer.restore(snapshot, tallies=True)
    assert head + drive(scorer, visit, lines[cut:], first=cut + 1) == expected
    assert scorer.summary_rows() == whole.summary_rows()


def test_a_version_1_state_keeps_its_stuck_flags() -> None:
    scorer, visit = stuck_scorer()
    visit.state, visit.entered = "RUN", 5 * S
    scorer.restore({"schema_version": 1, "baseline_id": scorer.baseline_id, "drift": {}, "visit_seq": 3,
                    "states": {"c1": ["RUN", 5 * S, 3, True]}, "violations": {}})
    assert scorer.stuck.reached(100 * S) == []  # flagged before the upgrade
    visit.entered = 150 * S  # a new visit
    assert [a.rule for a in scorer.stuck.reached(171 * S)] == ["stuck"]


def test_a_resumed_run_starts_its_tallies_at_zero() -> None:
    first = Scorer(baseline(m=entry(10.0, 1.0)), config=AnomalyConfig(rules=("limits",)))
    feed(first, [10.0, 20.0, 11.0])
    resumed = Scorer.from_dict(first.to_dict(), baseline(m=entry(10.0, 1.0)),
                               config=AnomalyConfig(rules=("limits",)))
    assert resumed.summary_rows() == []
    feed(resumed, [10.5])
    [r] = resumed.summary_rows()
    assert (r.rows, r.anomalies, r.worst) == (1, 0, 0.5)


def test_restore_drops_drift_state_of_another_baseline() -> None:
    scorer = Scorer(STREAM_BASELINE, config=AnomalyConfig(rules=("nelson2",)))
    feed(scorer, [0.5] * 8)
    state = scorer.to_dict()
    same = Scorer.from_dict(state, STREAM_BASELINE, config=AnomalyConfig(rules=("nelson2",)))
    assert [a.rule for a in same.score(row(0.5))] == ["nelson2"]
    other = dict(STREAM_BASELINE, id="baseline_20270101T000000Z")
    fresh = Scorer.from_dict(state, other, config=AnomalyConfig(rules=("nelson2",)))
    assert fresh.score(row(0.5)) == []
    with pytest.raises(ValueError, match="schema_version"):
        fresh.restore({"schema_version": 99})
    with pytest.raises(ValueError, match="malformed"):
        fresh.restore({"schema_version": 1, "baseline_id": ""})


# ----------------------------------------------------------------- config
def test_anomaly_config_from_mapping() -> None:
    cfg = AnomalyConfig.from_mapping({"rules": ["limits", "cusum"], "k": 3.5,
                                      "ewma": {"lambda": 0.1, "L": 3.0},
                                      "burst": {"count": 4, "window_s": 30, "kinds": ["x"]}})
    assert (cfg.rules, cfg.k, cfg.ewma_lambda, cfg.ewma_L) == (("limits", "cusum"), 3.5, 0.1, 3.0)
    assert (cfg.burst_count, cfg.burst_window_s, cfg.burst_kinds) == (4, 30, ("x",))
    assert AnomalyConfig.from_mapping(None) == AnomalyConfig()
    with pytest.raises(ValueError, match=r"ewma\.lamda"):
        AnomalyConfig.from_mapping({"ewma": {"lamda": 0.1}})
    with pytest.raises(ValueError, match="unknown rule 'ewmaa'"):
        AnomalyConfig.from_mapping({"rules": ["ewmaa"]})
    with pytest.raises(ValueError, match="k must be a number"):
        AnomalyConfig.from_mapping({"k": "4"})


def test_summary_rows_tally_the_run() -> None:
    scorer = Scorer(baseline(m=entry(10.0, 1.0)), config=AnomalyConfig(rules=("limits",)))
    feed(scorer, [10.0, 11.0, 20.0, 9.0, 3.0])
    [r] = scorer.summary_rows()
    assert (r.rows, r.anomalies, r.by_rule, r.worst) == (5, 2, {"limits": 2}, 10.0)
    assert (r.lower, r.upper, r.covered) == (6.0, 14.0, True)
