"""Render a logloom HTML report in headless Chromium and save a screenshot.

    .venv/bin/python bench/render_report.py --out /tmp/report.png [--data DIR] [--html FILE]

Without ``--data`` it first writes a synthetic data directory (about an hour of
the bundled dispensing line, a few anomalies, a baseline and a run summary).
Chromium runs with no network features and a throw-away profile. When no
Chromium is installed it says so and exits 0 (``skipped``), so CI without a
browser stays green; ``apt-get install chromium`` brings one.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from logloom.records import ANOMALIES_HEADER, METRICS_HEADER
from logloom.report.report import build_report

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def synthetic_data(d: Path, minutes: int = 60, seed: int = 5) -> Path:
    """Writes outputs shaped like monitor's for the bundled config."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 21, 6, 0, 0)
    end = start + timedelta(minutes=minutes)
    rows: list[tuple[datetime, str]] = []
    anomalies: list[str] = []

    def row(t: datetime, cid: str, metric: str, value: float, unit: str, state: str) -> None:
        rows.append((t, f"{t.isoformat()},{cid},{metric},{round(value, 6)!r},{unit},{state}"))

    for station in ("l1", "l2"):
        t = start + timedelta(seconds=rng.uniform(0, 30))
        disp, clamp = f"{station}_dispenser", f"{station}_clamp"
        while t < end:
            plan = [
                ("IDLE", "idle_time", rng.uniform(4, 12)),
                ("READY_TO_DISPENSE", "wait_time", rng.uniform(0.5, 2.5)),
                ("DISPENSING", "process_cycle_time", rng.lognormvariate(2.7, 0.06)),
                ("UNCLAMPING", "unclamp_time", rng.uniform(0.8, 1.4)),
            ]
            if rng.random() < 0.01:
                plan.insert(2, ("ERROR", "downtime", rng.uniform(60, 240)))
            for state, metric, secs in plan:
                if state == "DISPENSING" and rng.random() < 0.01:
                    secs *= 1.6
                t += timedelta(seconds=secs)
                row(t, disp, metric, secs, "s", state)
                if state == "DISPENSING":
                    row(t, disp, "dispensed_volume", rng.gauss(2.5, 0.03), "ml", state)
                    row(t, disp, "retries", float(rng.random() < 0.05), "count", state)
                    clamp_secs = secs + rng.uniform(1, 2)
                    row(t, clamp, "clamp_time", clamp_secs, "s", "CLOSED")
                    row(t, clamp, "clamp_pressure", rng.gauss(6, 0.1), "bar", "CLOSED")
                    if secs > 20:
                        anomalies.append(
                            f"{t.isoformat()},{disp},process_cycle_time,{round(secs, 6)!r},s,"
                            f"DISPENSING,14.9,12.6,17.6,{(secs - 14.9) / 0.7:.3f},limits"
                        )
                if state == "IDLE" and rng.random() < 0.03:
                    row(t, disp, "wait_time", 0.0, "s", "READY_TO_DISPENSE:inferred")
    for cid in ("conv_in", "conv_transfer"):
        t = start
        while t < end:
            for state, metric, secs in (
                ("IDLE", "conveyor_idle_time", rng.uniform(5, 25)),
                ("MOVING", "transport_time", rng.gauss(6, 0.3)),
            ):
                t += timedelta(seconds=secs)
                row(t, cid, metric, secs, "s", state)
    rows.sort(key=lambda r: r[0])
    d.mkdir(parents=True, exist_ok=True)
    (d / "process_metrics.csv").write_text(METRICS_HEADER + "\n" + "".join(r + "\n" for _, r in rows), encoding="utf-8")
    (d / "anomalies.csv").write_text(ANOMALIES_HEADER + "\n" + "".join(a + "\n" for a in anomalies), encoding="utf-8")
    limits = {"lower": 12.6, "upper": 17.6, "median": 14.9, "method": "robust_log_z", "k": 4.0}
    baseline = {
        "schema_version": 1,
        "id": "baseline_20260120T220000Z",
        "metrics": {f"{s}_dispenser": {"process_cycle_time": limits} for s in ("l1", "l2")},
    }
    (d / "process_baseline.json").write_text(json.dumps(baseline), encoding="utf-8")
    summary = {
        "lines_read": len(rows) * 2,
        "malformed": 3,
        "unmatched": 41,
        "rows_written": len(rows),
        "anomalies": len(anomalies),
        "unrouted": 2,
        "unknown_target": 0,
        "components": {
            "l1_dispenser": {"transitions": 900, "jumps": 12, "inferred_steps": 12},
            "l2_dispenser": {"transitions": 880, "jumps": 9, "invalid_transition": 1},
        },
    }
    (d / "run_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return d


def screenshot(browser: str, html: Path, png: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="logloom_chromium_") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri(),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("report.png"))
    ap.add_argument("--data", type=Path, help="a data directory (default: synthetic)")
    ap.add_argument("--config", type=Path, default=ROOT / "config")
    ap.add_argument("--html", type=Path, help="where to keep the HTML (default: beside --out)")
    ap.add_argument("--width", type=int, default=1100)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args()
    browser = find_chromium()
    if browser is None:
        print("skipped: no Chromium found (apt-get install chromium)")
        return 0
    html = args.html or args.out.with_suffix(".html")
    with tempfile.TemporaryDirectory(prefix="logloom_report_") as tmp:
        data = args.data or synthetic_data(Path(tmp) / "data")
        build_report(data, args.config, html)
    screenshot(browser, html, args.out, args.width, args.height)
    print(f"rendered {html} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
