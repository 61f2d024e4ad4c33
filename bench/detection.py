"""Detection benchmark: spike recall, drift delay and false alarms of logloom's scoring.

Two modes:

* ``--mode synthetic`` (default, always available): a shift of the bundled line's
  metrics is drawn with numpy (lognormal cycle times, gamma/exponential idle and wait
  times, normal values, a zero-inflated count), a baseline is recorded from a clean
  shift and a second shift is scored with spikes (x0.45, x1.6, x2.0) injected into
  the cycle times; drift runs add +0.4 %/cycle to ``process_cycle_time``.
* ``--mode pipeline``: the real thing through the CLI: ``logloom simulate`` writes a
  clean log and an anomalous one (with FILE.anomalies.csv as ground truth),
  ``logloom record`` learns the baseline, ``logloom monitor`` writes anomalies.csv.

Prints spike recall per factor, cycles until the drift is flagged (mean, p90, worst),
false alarms per 1000 rows over all metrics (and the worst metrics), and with
``--speed`` the throughput of ``Scorer.score``.

    .venv/bin/python bench/detection.py [--mode synthetic|pipeline] [--seed 1] [--speed]
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from logloom.baseline_stats import compute_baseline
from logloom.records import MetricRow, StateChange
from logloom.scoring import AnomalyConfig, DurationMetric, Scorer

FACTORS = (0.45, 1.6, 2.0)
DRIFT_PER_CYCLE = 0.004
CYCLE_US = 40_000_000

Gen = Callable[[np.random.Generator, int], np.ndarray]
# (component, metric, unit, generator, spike target)
LINE: list[tuple[str, str, str, Gen, bool]] = [
    ("l1_conveyor", "transport_time", "s", lambda r, n: r.lognormal(math.log(4.0), 0.05, n), True),
    ("l1_conveyor", "conveyor_idle_time", "s", lambda r, n: r.exponential(15.0, n), False),
    ("l1_clamp", "clamp_time", "s", lambda r, n: r.lognormal(math.log(17.0), 0.04, n), True),
    ("l1_clamp", "clamp_pressure", "bar", lambda r, n: r.normal(6.0, 0.1, n), False),
    ("l1_clamp", "clamp_open_time", "s", lambda r, n: r.gamma(3.0, 3.0, n), False),
    ("l1_dispenser", "idle_time", "s", lambda r, n: r.gamma(2.0, 2.5, n), False),
    ("l1_dispenser", "wait_time", "s", lambda r, n: r.exponential(1.5, n), False),
    ("l1_dispenser", "process_cycle_time", "s",
     lambda r, n: r.lognormal(math.log(15.0), 0.04, n), True),
    ("l1_dispenser", "dispensed_volume", "ml", lambda r, n: r.normal(5.0, 0.03, n), False),
    ("l1_dispenser", "dispense_pressure", "bar", lambda r, n: r.normal(2.5, 0.04, n), False),
    ("l1_dispenser", "retries", "count", lambda r, n: (r.random(n) < 0.05).astype(float), False),
    ("l1_dispenser", "unclamp_time", "s", lambda r, n: r.lognormal(math.log(1.5), 0.08, n), True),
]
DRIFT_METRIC = ("l1_dispenser", "process_cycle_time")


def shift(rng: np.random.Generator, cycles: int) -> dict[tuple[str, str], np.ndarray]:
    """One shift of clean values per metric."""
    return {(c, m): gen(rng, cycles) for c, m, _, gen, _ in LINE}


def rows_of(values: dict[tuple[str, str], np.ndarray], start_cycle: int = 0) -> list[MetricRow]:
    """Metric rows in log order (one of each metric per cycle)."""
    units = {(c, m): u for c, m, u, _, _ in LINE}
    cycles = len(next(iter(values.values())))
    keys = list(values)
    return [MetricRow((start_cycle + i) * CYCLE_US + j, k[0], k[1], float(values[k][i]),
                      units[k], "S")
            for i in range(cycles) for j, k in enumerate(keys)]


def synthetic(seed: int, base_cycles: int, mon_cycles: int, spikes: int, drift_runs: int,
              cfg: AnomalyConfig) -> None:
    rng = np.random.default_rng(seed)
    baseline = compute_baseline(rows_of(shift(rng, base_cycles)), k_default=cfg.k)
    baseline["id"] = "bench"
    print(f"baseline: {base_cycles} cycles; methods: " + ", ".join(
        f"{m}={e['method'].removeprefix('robust_')}" for c in baseline["metrics"].values()
        for m, e in c.items()))

    # spike run
    values = shift(rng, mon_cycles)
    targets = [(c, m) for c, m, _, _, spike in LINE if spike]
    truth: dict[tuple[int, str, str], float] = {}
    cycles = rng.choice(np.arange(50, mon_cycles), size=spikes * len(FACTORS), replace=False)
    for n, cycle in enumerate(cycles):
        key = targets[n % len(targets)]
        factor = FACTORS[n % len(FACTORS)]
        values[key][cycle] *= factor
        truth[(int(cycle), *key)] = factor
    flagged, rows, by_rule = run_scorer(baseline, rows_of(values), cfg)
    hits: Counter[float] = Counter()
    for spike, factor in truth.items():
        hits[factor] += spike in flagged
    print(f"\nspike run: {mon_cycles} cycles, {len(rows)} rows, {len(truth)} spikes")
    for factor in FACTORS:
        print(f"  spike recall x{factor}: {hits[factor] / spikes:.3f} ({hits[factor]}/{spikes})")
    false = {k: rules for k, rules in flagged.items() if k not in truth}
    report_false_alarms(false, len(rows), by_rule)

    # clean run (false alarms without injections)
    clean_rows = rows_of(shift(rng, mon_cycles))
    clean_flagged, _, clean_rules = run_scorer(baseline, clean_rows, cfg)
    print(f"\nclean run: {len(clean_rows)} rows")
    report_false_alarms(clean_flagged, len(clean_rows), clean_rules)

    # drift runs
    delays = []
    for _ in range(drift_runs):
        warm, ramp = 200, 400
        values = shift(rng, warm + ramp)
        values[DRIFT_METRIC][warm:] *= (1.0 + DRIFT_PER_CYCLE) ** np.arange(1, ramp + 1)
        flagged, _, _ = run_scorer(baseline, rows_of(values), cfg)
        hits_after = sorted(c for (c, comp, m) in flagged
                            if (comp, m) == DRIFT_METRIC and c >= warm)
        delays.append(hits_after[0] - warm + 1 if hits_after else ramp)
    d = np.array(delays)
    print(f"\ndrift +{DRIFT_PER_CYCLE:.1%}/cycle on {'.'.join(DRIFT_METRIC)} ({drift_runs} runs): "
          f"flagged after mean {d.mean():.1f}, p90 {np.quantile(d, 0.9):.0f}, "
          f"worst {d.max()} cycles")


def run_scorer(baseline: dict, rows: list[MetricRow], cfg: AnomalyConfig
               ) -> tuple[dict[tuple[int, str, str], set[str]], list[MetricRow], Counter[str]]:
    scorer = Scorer(baseline, config=cfg)
    flagged: dict[tuple[int, str, str], set[str]] = defaultdict(set)
    by_rule: Counter[str] = Counter()
    for row in rows:
        for a in scorer.score(row):
            flagged[(row.ts // CYCLE_US, row.component_id, row.metric_name)].add(a.rule)
            by_rule[a.rule] += 1
    return flagged, rows, by_rule


def report_false_alarms(false: dict[tuple[int, str, str], set[str]], n_rows: int,
                        by_rule: Counter[str]) -> None:
    per_metric = Counter((c, m) for _, c, m in false)
    rules = Counter(r for rs in false.values() for r in rs)
    print(f"  false alarms: {len(false)} rows = {1000 * len(false) / n_rows:.3f} per 1000 rows"
          f" (by rule: {dict(rules)}; all anomaly rows by rule: {dict(by_rule)})")
    for (c, m), count in per_metric.most_common(4):
        print(f"    {c}.{m}: {count}")


def speed(cfg: AnomalyConfig, n: int = 300_000) -> None:
    """Throughput of Scorer.score on clean rows (the common case), and of the whole
    per-line work of monitor: advance() each line, on_state_change() and score()."""
    rng = np.random.default_rng(7)
    baseline = compute_baseline(rows_of(shift(rng, 2000)))
    rows = rows_of(shift(rng, n // len(LINE)))
    scorer = Scorer(baseline, config=cfg)
    t0 = time.perf_counter()
    for row in rows:
        scorer.score(row)
    dt = time.perf_counter() - t0
    print(f"\nScorer.score: {len(rows) / dt:,.0f} rows/s ({1e6 * dt / len(rows):.2f} us/row, "
          f"rules {', '.join(cfg.rules)})")
    states = {(c, "S"): DurationMetric(m) for c, m, *_ in LINE}
    scorer = Scorer(baseline, config=cfg, state_metrics=states)
    changes = [StateChange(r.ts, r.component_id, "S", "S", "E", False) for r in rows]
    t0 = time.perf_counter()
    for row, change in zip(rows, changes, strict=True):
        scorer.advance(row.ts)
        scorer.on_state_change(change)
        scorer.score(row)
    dt = time.perf_counter() - t0
    print(f"advance + on_state_change + score: {len(rows) / dt:,.0f} rows/s "
          f"({1e6 * dt / len(rows):.2f} us/row)")


# --------------------------------------------------------------------- pipeline
def pipeline(seed: int, cycles: int) -> None:
    """Through the CLI: simulate, record, simulate with anomalies, monitor, compare."""
    logloom = [sys.executable, "-m", "logloom"]
    with tempfile.TemporaryDirectory(prefix="logloom-bench-") as tmp:
        work = Path(tmp)
        clean, anomalous, data = work / "clean.log", work / "anomalous.log", work / "data"
        run([*logloom, "simulate", "--out", str(clean), "--cycles", str(cycles), "--seed", str(seed)])
        run([*logloom, "record", "--logs", str(clean), "--data", str(data), "--quiet"])
        run([*logloom, "simulate", "--out", str(anomalous), "--cycles", str(cycles),
             "--seed", str(seed + 1), "--anomalies", "spikes,drift"])
        run([*logloom, "monitor", "--logs", str(anomalous), "--data", str(data), "--quiet"])
        evaluate(anomalous, data / "anomalies.csv")


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def evaluate(log: Path, anomalies_csv: Path) -> None:
    with open(f"{log}.anomalies.csv", newline="") as fh:
        truth = list(csv.DictReader(fh))
    with open(f"{log}.truth.csv", newline="") as fh:
        all_rows = list(csv.DictReader(fh))
    with open(anomalies_csv, newline="") as fh:
        found = list(csv.DictReader(fh))
    flagged = {(a["timestamp"], a["component_id"], a["metric_name"]) for a in found}
    spikes = [t for t in truth if t["kind"] == "spike"]
    for factor in sorted({float(t["factor"]) for t in spikes}):
        these = [t for t in spikes if float(t["factor"]) == factor]
        hit = sum((t["timestamp"], t["component_id"], t["metric_name"]) in flagged for t in these)
        print(f"  spike recall x{factor}: {hit / len(these):.3f} ({hit}/{len(these)})")
    drift = [t for t in truth if t["kind"] == "drift"]
    drift_keys = {(t["component_id"], t["metric_name"]) for t in drift}
    drift_start = min((t["timestamp"] for t in drift), default=None)
    if drift_start is not None:
        series = [r for r in all_rows if (r["component_id"], r["metric_name"]) in drift_keys
                  and r["timestamp"] >= drift_start]
        first = next((i for i, r in enumerate(series)
                      if (r["timestamp"], r["component_id"], r["metric_name"]) in flagged), None)
        print(f"  drift flagged after {first + 1 if first is not None else 'never'} cycles")
    injected = {(t["timestamp"], t["component_id"], t["metric_name"]) for t in truth}
    false = {f for f in flagged if f not in injected
             and not ((f[1], f[2]) in drift_keys and drift_start and f[0] >= drift_start)}
    print(f"  false alarms: {len(false)} of {len(all_rows)} rows = "
          f"{1000 * len(false) / max(1, len(all_rows)):.3f} per 1000 rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["synthetic", "pipeline"], default="synthetic")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-cycles", type=int, default=2000)
    ap.add_argument("--cycles", type=int, default=5000)
    ap.add_argument("--spikes", type=int, default=100, help="spikes per factor")
    ap.add_argument("--drift-runs", type=int, default=50)
    ap.add_argument("--rules", default=",".join(AnomalyConfig().rules))
    ap.add_argument("--ewma-L", type=float, default=AnomalyConfig().ewma_L)
    ap.add_argument("--cusum-h", type=float, default=AnomalyConfig().cusum_h)
    ap.add_argument("--speed", action="store_true", help="also time Scorer.score")
    args = ap.parse_args()
    cfg = AnomalyConfig(rules=tuple(args.rules.split(",")), ewma_L=args.ewma_L,
                        cusum_h=args.cusum_h)
    if args.mode == "synthetic":
        synthetic(args.seed, args.base_cycles, args.cycles, args.spikes, args.drift_runs, cfg)
    else:
        pipeline(args.seed, args.cycles)
    if args.speed:
        speed(cfg)


if __name__ == "__main__":
    main()
