"""The pandas script a user would write instead of logloom, for the bench.

Reads the whole log into a Series, ``str.extract``s the timestamp, tries the patterns
of ``log_patterns.yaml`` in their order on the lines no earlier pattern took (the
first that matches wins, as in logloom), then ``groupby(station).diff()`` of the
times of each machine's state-changing events gives the durations, named by the
(previous event, this event) pair. Prints count, sum and mean per station and metric.

What it does not do (and logloom does): route the sparse ``Process finished`` line
(no station), jump over lost lines, check guards, score against a baseline, resume.
Memory grows with the log: the whole file and every extracted column are held at once.

    .venv/bin/python bench/pandas_peer.py LOG [--config config]

pandas is a bench-only tool, not a dependency of logloom.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

try:
    import pandas as pd
except ImportError:  # the harness checks for this before it runs the script
    sys.exit("pandas is not installed: .venv/bin/pip install pandas")
import yaml

# (machine, previous event, this event) -> the metric that the interval measures.
INTERVALS: dict[tuple[str, str, str], str] = {
    ("conveyor", "CONVEYOR_STOP", "CONVEYOR_START"): "conveyor_idle_time",
    ("conveyor", "CONVEYOR_START", "CONVEYOR_STOP"): "transport_time",
    ("clamp", "CLAMP_OPEN", "CLAMP_CLOSE"): "clamp_open_time",
    ("clamp", "CLAMP_CLOSE", "CLAMP_OPEN"): "clamp_time",
    ("dispenser", "PALLET_RELEASED", "PALLET_ARRIVED"): "idle_time",
    ("dispenser", "RESET", "PALLET_ARRIVED"): "idle_time",
    ("dispenser", "PALLET_ARRIVED", "PROCESS_START"): "wait_time",
    ("dispenser", "PROCESS_START", "PROCESS_END"): "process_cycle_time",
    ("dispenser", "PROCESS_END", "PALLET_RELEASED"): "unclamp_time",
    ("dispenser", "FAULT", "RESET"): "downtime",
}
MACHINE_OF_EVENT = {event: machine for machine, prev, event in INTERVALS} | {
    prev: machine for machine, prev, _ in INTERVALS
}


def read_lines(path: Path) -> pd.Series:
    """The whole log as one string per line (invalid UTF-8 replaced)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return pd.Series(f.read().splitlines())


def load_patterns(config: Path) -> tuple[str, list[dict]]:
    """The timestamp regex and the line patterns, as log_patterns.yaml has them."""
    doc = yaml.safe_load((config / "log_patterns.yaml").read_text())
    return doc["timestamp"]["regex"], doc["patterns"]


def extract_events(lines: pd.Series, patterns: list[dict]) -> pd.DataFrame:
    """Event name, station and volume per line; NaN where no pattern matched."""
    out = pd.DataFrame(index=lines.index, columns=["event", "station", "volume"], dtype=object)
    todo = pd.Series(True, index=lines.index)
    for pat in patterns:
        hit = todo & lines.str.contains(pat["regex"], regex=True, na=False)
        if not hit.any():
            continue
        groups = lines[hit].str.extract(pat["regex"])
        out.loc[hit, "event"] = pat["event"]
        for name in ("station", "conveyor"):
            if name in groups:
                out.loc[hit, "station"] = groups[name]
        if "volume" in groups:
            out.loc[hit, "volume"] = groups["volume"]
        todo &= ~hit
    return out


def durations(df: pd.DataFrame) -> pd.DataFrame:
    """One row per state interval: station, metric, seconds."""
    df = df[df["event"].isin(MACHINE_OF_EVENT.keys()) & df["station"].notna()].copy()
    df["machine"] = df["event"].map(MACHINE_OF_EVENT)
    by = df.groupby(["machine", "station"], sort=False)
    df["prev"] = by["event"].shift()
    df["seconds"] = by["time"].diff().dt.total_seconds()
    keys = list(zip(df["machine"], df["prev"], df["event"], strict=True))
    df["metric"] = [INTERVALS.get(k) for k in keys]
    return df.loc[df["metric"].notna(), ["station", "metric", "seconds"]]


def main() -> None:
    warnings.filterwarnings("ignore", "This pattern is interpreted as a regular expression")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--config", type=Path, default=Path("config"))
    args = ap.parse_args()
    ts_regex, patterns = load_patterns(args.config)
    lines = read_lines(args.log)
    stamp = lines.str.extract(ts_regex)["ts"]
    df = extract_events(lines.where(stamp.notna()), patterns)
    df["time"] = pd.to_datetime(stamp, format="ISO8601")
    df["volume"] = pd.to_numeric(df["volume"])
    table = durations(df).groupby(["station", "metric"])["seconds"].agg(["count", "sum", "mean"])
    volume = df.groupby("station")["volume"].agg(["count", "sum", "mean"])
    print(f"lines {len(lines)}  malformed {int(stamp.isna().sum())}  "
          f"unmatched {int((stamp.notna() & df['event'].isna()).sum())}")
    print(table.to_string())
    print("dispensed_volume")
    print(volume.to_string())


if __name__ == "__main__":
    main()
