"""Baseline statistics (hand-computed samples, fallbacks, false-alarm rates) and the archive."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from logloom.detect.baseline import (
    BaselineError,
    activate,
    list_baselines,
    load_active,
    load_baseline,
    read_metrics_csv,
    show_baseline,
    stage_archive,
    write_baseline_archive,
)
from logloom.detect.scoring import Scorer
from logloom.detect.statistics import (
    DRIFT_SCORES,
    BaselineAccumulator,
    MetricLimits,
    choose_method,
    compute_baseline,
    metric_stats,
    normal_score,
    normal_scores,
    score_table,
)
from logloom.errors import InputError, StateFileError
from logloom.records import METRICS_HEADER, MetricRow

NOW = datetime(2026, 1, 21, 10, 5, 0, tzinfo=UTC)


# --------------------------------------------------------------- statistics
def test_robust_z_on_a_small_hand_computed_sample() -> None:
    e = metric_stats(np.array([-1.0, 0, 1, 2, 3, 4, 10]), "s")
    # median 2; |x - 2| = 3 2 1 0 1 2 8 -> MAD 2; scale 1.4826 * 2 = 2.9652
    assert e["method"] == "robust_z"
    assert (e["median"], e["mad"], e["center"]) == (2.0, 2.0, 2.0)
    assert e["scale"] == pytest.approx(2.9652)
    # p05 = -0.7, p95 = 8.2 (linear interpolation): the upper tail is heavier than the
    # MAD says, so the upper scale is (8.2 - 2) / 1.6449 = 3.7693; below, 2.7 / 1.6449 < MAD
    assert (e["p05"], e["p95"]) == pytest.approx((-0.7, 8.2))
    assert (e["scale_lower"], e["scale_upper"]) == pytest.approx((2.9652, 6.2 / 1.6448536))
    assert (e["lower"], e["upper"]) == pytest.approx((2 - 4 * 2.9652, 2 + 4 * 6.2 / 1.6448536))
    assert e["n"] == 7 and e["min"] == -1.0 and e["max"] == 10.0
    assert e["mean"] == pytest.approx(19 / 7)
    assert e["std"] == pytest.approx(statistics.stdev([-1, 0, 1, 2, 3, 4, 10]))


def test_robust_log_z_on_a_small_hand_computed_sample() -> None:
    x = np.exp([0.0, 1.0, 2.0, 3.0, 4.0])  # log x = 0..4: centre 2, MAD 1
    e = metric_stats(x, "s", k_default=3.0)
    assert e["method"] == "robust_log_z"
    assert e["center"] == pytest.approx(2.0)
    assert e["scale"] == pytest.approx(1.4826)
    assert e["lower"] == pytest.approx(math.exp(2 - 3 * 1.4826))
    assert e["upper"] == pytest.approx(math.exp(2 + 3 * 1.4826))
    assert e["k"] == 3.0


def test_a_heavy_upper_tail_widens_only_the_upper_limit() -> None:
    rng = np.random.default_rng(2)
    core = rng.lognormal(math.log(6.0), 0.1, 1700)  # the line's pace
    waits = 6.0 + rng.exponential(12.0, 300)  # 15 % of the cycles wait for upstream
    x = np.concatenate([core, waits])
    e = metric_stats(x, "s")
    y = np.log(x) if e["method"] == "robust_log_z" else np.cbrt(x)
    assert e["scale_upper"] == pytest.approx((np.quantile(y, 0.95) - e["center"]) / 1.6448536)
    assert e["scale_upper"] > 3 * e["scale"]
    assert e["scale_lower"] == e["scale"]
    fresh = np.concatenate([rng.lognormal(math.log(6.0), 0.1, 170_000),
                            6.0 + rng.exponential(12.0, 30_000)])
    assert np.mean((fresh < e["lower"]) | (fresh > e["upper"])) < 0.5e-3


def test_mad_zero_falls_back_to_std_and_covers_the_baseline() -> None:
    x = [0.0, 0, 0, 0, 0, 1, 2]
    e = metric_stats(np.array(x), "count")
    sd = statistics.stdev(x)
    assert (e["scale_source"], e["scale"]) == ("std", pytest.approx(sd))
    assert e["lower"] == pytest.approx(-4 * sd)
    assert e["upper"] == pytest.approx(max(4 * sd, 2.0))


def test_mad_and_std_zero_fall_back_to_one_percent_of_the_median() -> None:
    e = metric_stats(np.full(30, 5.0), "ml")
    assert (e["method"], e["scale_source"]) == ("robust_z", "floor")
    assert (e["lower"], e["upper"]) == pytest.approx((4.8, 5.2))  # 5 +- 4 * 0.05
    small = metric_stats(np.full(5, 5.0), "ml")  # too few to choose: log scale, 1 % of x
    assert small["method"] == "robust_log_z"
    assert small["upper"] == pytest.approx(5.0 * 1.01**4)
    zero = metric_stats(np.zeros(30), "count")
    assert zero["scale"] == 1e-9


def test_a_count_that_is_always_zero_alarms_on_3_not_on_0() -> None:
    b = compute_baseline(MetricRow(i, "c", "retries", 0.0, "count", "S") for i in range(200))
    scorer = Scorer(b)
    assert scorer.score(MetricRow(0, "c", "retries", 0.0, "count", "S")) == []
    [a] = scorer.score(MetricRow(0, "c", "retries", 3.0, "count", "S"))
    assert a.rule == "limits"


def test_a_count_that_is_sometimes_one_does_not_alarm_on_one() -> None:
    rng = np.random.default_rng(3)
    x = (rng.random(2000) < 0.05).astype(float)
    e = metric_stats(x, "count")
    assert e["upper"] >= 1.0 > e["mean"]
    assert e["upper"] < 3.0


def test_inferred_rows_are_left_out() -> None:
    rows = [MetricRow(i, "c", "t", 10.0 + i % 3, "s", "RUN") for i in range(30)]
    rows += [MetricRow(i, "c", "t", 0.0, "s", "RUN:inferred") for i in range(30)]
    e = compute_baseline(rows)["metrics"]["c"]["t"]
    assert e["n"] == 30 and e["min"] == 10.0


def test_non_finite_values_are_ignored() -> None:
    acc = BaselineAccumulator()
    acc.extend("c", "nan_only", "s", [math.nan, math.inf])
    acc.extend("c", "mixed", "s", [1.0, math.nan, 2.0, 3.0])
    metrics = acc.build()["metrics"]["c"]
    assert list(metrics) == ["mixed"]
    assert (metrics["mixed"]["n"], metrics["mixed"]["median"]) == (3, 2.0)


def test_normal_scores_through_the_baseline_quantiles() -> None:
    q = [float(i) for i in range(101)]  # the quantile at DRIFT_P[i] is i
    xs, ss = score_table(q)
    assert xs == q and ss == list(DRIFT_SCORES)
    assert normal_score(50.0, xs, ss) == pytest.approx(0.0)  # the 50 % quantile
    assert normal_score(1.0, xs, ss) == pytest.approx(statistics.NormalDist().inv_cdf(0.01))
    assert normal_score(1e9, xs, ss) == pytest.approx(2.5758, abs=1e-4)  # winsorised
    assert normal_score(-1e9, xs, ss) == pytest.approx(-2.5758, abs=1e-4)
    halfway = (DRIFT_SCORES[10] + DRIFT_SCORES[11]) / 2
    assert normal_score(10.5, xs, ss) == pytest.approx(halfway)
    tied = [0.0] * 60 + [1.0] * 41  # a value that is 0 in 60 % of the rows
    txs, tss = score_table(tied)
    assert txs == [0.0, 1.0]
    assert tss[0] == pytest.approx(sum(DRIFT_SCORES[:60]) / 60)
    x = np.array([-1.0, 0.0, 0.25, 1.0, 2.0])
    assert normal_scores(x, txs, tss) == pytest.approx([normal_score(v, txs, tss) for v in x])


def test_drift_input_is_standard_normal_for_a_mixture() -> None:
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.lognormal(math.log(6.0), 0.1, 1700), 6.0 + rng.exponential(12, 300)])
    rng.shuffle(x)
    e = metric_stats(x, "s")
    assert abs(e["drift_mu"]) < 0.02 and e["drift_sigma"] == pytest.approx(0.99, abs=0.02)


def test_drift_acf_of_an_ar1_series() -> None:
    rng = np.random.default_rng(4)
    x = np.empty(20_000)
    x[0] = 0.0
    noise = rng.normal(0, 1, x.size)
    for i in range(1, x.size):
        x[i] = 0.5 * x[i - 1] + noise[i]
    acf = metric_stats(10.0 + x, "s")["drift_acf"]
    assert len(acf) == 30
    assert acf[:3] == pytest.approx([0.5, 0.25, 0.125], abs=0.03)
    assert metric_stats(np.arange(1.0, 9.0), "s")["drift_acf"] != []  # n // 4 = 2 lags
    assert len(metric_stats(np.arange(1.0, 9.0), "s")["drift_acf"]) == 2


def test_engineering_limits_override_and_are_recorded() -> None:
    x = np.random.default_rng(1).lognormal(0, 0.1, 500)
    e = metric_stats(x, "s", MetricLimits(lower=0.5, upper=3.0))
    assert (e["lower"], e["upper"]) == (0.5, 3.0)
    assert e["override"] == {"lower": 0.5, "upper": 3.0}
    assert e["learned_lower"] > 0.5 and e["learned_upper"] < 3.0
    k2 = metric_stats(x, "s", MetricLimits(k=2.0))
    assert k2["k"] == 2.0 and k2["upper"] < e["learned_upper"]


@pytest.mark.parametrize(("name", "method"), [
    ("lognormal", "robust_log_z"), ("exponential", "robust_cbrt_z"), ("gamma2", "robust_cbrt_z"),
    ("with negatives", "robust_z"),
])
def test_the_transform_follows_the_shape(name: str, method: str) -> None:
    rng = np.random.default_rng(11)
    x = {"lognormal": rng.lognormal(2.0, 0.5, 5000), "exponential": rng.exponential(3, 5000),
         "gamma2": rng.gamma(2, 2, 5000), "with negatives": rng.normal(0, 1, 5000)}[name]
    assert choose_method(x) == method


@pytest.mark.parametrize("name", ["lognormal_0.05", "lognormal_0.5", "lognormal_1", "gamma_2",
                                  "exponential", "gamma_0.5", "normal"])
def test_false_alarm_rate_on_skewed_samples(name: str) -> None:
    """k = 4 on a symmetrising scale: about 2 (1 - Phi(4)) = 6.3e-5 per row."""
    rng = np.random.default_rng(5)
    draw: dict[str, Callable[[int], np.ndarray]] = {"lognormal_0.05": lambda n: rng.lognormal(2.7, 0.05, n),
            "lognormal_0.5": lambda n: rng.lognormal(0, 0.5, n),
            "lognormal_1": lambda n: rng.lognormal(0, 1, n),
            "gamma_2": lambda n: rng.gamma(2, 1, n), "exponential": lambda n: rng.exponential(1, n),
            "gamma_0.5": lambda n: rng.gamma(0.5, 1, n), "normal": lambda n: rng.normal(10, 1, n)}
    e = metric_stats(draw[name](5000), "s")
    fresh = draw[name](200_000)
    rate = float(np.mean((fresh < e["lower"]) | (fresh > e["upper"])))
    assert rate < 0.5e-3
    assert math.erfc(4 / math.sqrt(2)) == pytest.approx(6.334e-5, rel=1e-3)


# ------------------------------------------------------------------ archive
def small_baseline() -> dict:
    rows = [MetricRow(i, "l1", "cycle", 15.0 + (i % 7) * 0.1, "s", "RUN") for i in range(50)]
    return compute_baseline(rows, sources=["a.log"], config_sha256="abc")


def test_archive_activate_list_show(tmp_path: Path) -> None:
    metrics = tmp_path / "process_metrics.csv"
    metrics.write_text(METRICS_HEADER + "\n")
    first = write_baseline_archive(tmp_path, small_baseline(), [metrics], now=NOW)
    assert first == "baseline_20260121T100500Z"
    archived = tmp_path / "baselines" / first
    assert (archived / "process_metrics.csv").read_text() == METRICS_HEADER + "\n"
    assert (tmp_path / "process_baseline.json").read_bytes() == \
        (archived / "process_baseline.json").read_bytes()
    data = load_baseline(archived / "process_baseline.json")
    assert (data["id"], data["created"], data["sources"]) == (first, "2026-01-21T10:05:00Z",
                                                              ["a.log"])
    # same second again: bumped, the first archive untouched
    before = (archived / "process_baseline.json").read_bytes()
    second = write_baseline_archive(tmp_path, small_baseline(), now=NOW)
    assert second == "baseline_20260121T100501Z"
    assert (archived / "process_baseline.json").read_bytes() == before
    infos = list_baselines(tmp_path)
    assert [(i.id, i.active, i.metrics, i.rows) for i in infos] == [(first, False, 1, 50),
                                                                    (second, True, 1, 50)]
    activate(tmp_path, first)
    assert [i.active for i in list_baselines(tmp_path)] == [True, False]
    assert load_active(tmp_path)["id"] == first  # type: ignore[index]
    assert show_baseline(tmp_path, second)["id"] == second
    with pytest.raises(BaselineError, match="no baseline 'baseline_x'"):
        activate(tmp_path, "baseline_x")
    assert not [p for p in (tmp_path / "baselines").iterdir() if p.name.startswith(".")]


def test_staging_is_removed_when_record_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), stage_archive(tmp_path) as stage:
        (stage.path / "process_metrics.csv").write_text("partial")
        raise RuntimeError("boom")
    assert list((tmp_path / "baselines").iterdir()) == []
    assert load_active(tmp_path) is None


def test_staged_metrics_are_moved_not_copied(tmp_path: Path) -> None:
    with stage_archive(tmp_path) as stage:
        (stage.path / "process_metrics.csv").write_text(METRICS_HEADER + "\n")
        (stage.path / "process_metrics_part2.csv").write_text(METRICS_HEADER + "\n")
        baseline_id = stage.commit(small_baseline(), now=NOW, activate_it=False)
    names = sorted(p.name for p in (tmp_path / "baselines" / baseline_id).iterdir())
    assert names == ["process_baseline.json", "process_metrics.csv", "process_metrics_part2.csv"]
    assert not (tmp_path / "process_baseline.json").exists()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t[:-20], "not valid JSON"),
    (lambda t: t.replace('"schema_version": 1', '"schema_version": 7'), "schema_version 7"),
    (lambda t: re.sub(r'"method": "\w+"', '"method": "magic"', t), "method: 'magic'"),
    (lambda t: t.replace('"n": 50', '"n": -3'), r"metrics\.l1\.cycle\.n"),
    (lambda t: t.replace('"unit": "s"', '"unit": 5'), "unit: must be a string"),
    (lambda t: re.sub(r'"drift_q": \[\s*[-\d.e]+', '"drift_q": [1e9', t), "drift_q: must be"),
])
def test_a_hand_edited_baseline_is_a_clear_error(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "process_baseline.json"
    path.write_text(json.dumps(small_baseline(), indent=1))
    edited = edit(path.read_text())
    assert edited != path.read_text()
    path.write_text(edited)
    with pytest.raises(BaselineError, match=message) as info:
        load_baseline(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, StateFileError)


def test_lower_above_upper_and_bad_scale_are_reported_together(tmp_path: Path) -> None:
    data = small_baseline()
    entry = data["metrics"]["l1"]["cycle"]
    entry["lower"], entry["upper"], entry["scale"] = 20.0, 10.0, -1.0
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert "lower 20.0 is above upper 10.0" in str(info.value)
    assert "metrics.l1.cycle.scale: must be > 0" in str(info.value)
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(tmp_path / "missing.json")


# ---------------------------------------------------------------------- CSV
def test_read_metrics_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(METRICS_HEADER + "\n"
                    "2026-01-21T10:05:15,l1_dispenser,process_cycle_time,15.0,s,DISPENSING\n"
                    "2026-01-21T10:05:15.5+01:00,l1,x,2.75,s,A:inferred\n"
                    "1769000000.25,l1,y,1.0,count,B\n")
    rows = list(read_metrics_csv([path]))
    assert rows[0] == MetricRow(1768989915 * 1_000_000, "l1_dispenser", "process_cycle_time",
                                15.0, "s", "DISPENSING")
    assert rows[1].ts == (1768989915 - 3600) * 1_000_000 + 500_000 and rows[1].inferred
    assert rows[2].ts == 1769000000_250_000
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n")
    with pytest.raises(InputError, match="line 1"):
        list(read_metrics_csv([bad]))
    bad.write_text(METRICS_HEADER + "\n2026-01-21T10:05:15,l1,x,notanumber,s,A\n")
    with pytest.raises(InputError, match="line 2"):
        list(read_metrics_csv([bad]))
