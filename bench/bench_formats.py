"""Log formats other than the simulator's: JSON lines and syslog without a year.

One stream of bottling-line events (examples/filler_json and examples/bottling_syslog:
fills, cappings, 30 % heartbeat noise, a malformed line in a thousand) is written
three ways: JSON objects with their keys in a random order, syslog lines whose year
is inferred (``year: auto``), and the same text with ISO times (the reference). For
each: the parse stage alone (``block_parser`` over the file's blocks, CPU seconds of
this process; JSON also with the standard library's decoder), then ``monitor`` end to
end (CPU and wall of the child, serial and with the parse worker).

    .venv/bin/python bench/bench_formats.py [--lines 1000000] [--reuse] [--parse-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from logloom.config.load import load_config
from logloom.parse import json_lines
from logloom.parse.parsers import block_parser
from logloom.parse.source import LineReader

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def events(lines: int, seed: int = 1) -> list[tuple[datetime, dict[str, object]]]:
    """(time, object) of each line: filler and capper cycles with heartbeats between."""
    rng = random.Random(seed)
    t = datetime(2025, 12, 20, 6, 0, 0)
    out: list[tuple[datetime, dict[str, object]]] = []
    while len(out) < lines:
        for obj, gap in (
            ({"src": "filler", "msg": "FILL start", "station": "F1", "level": "info"}, rng.uniform(5, 40)),
            ({"src": "filler", "msg": "FILL end", "station": "F1", "level": "info",
              "data": {"vol": round(rng.gauss(500, 0.6), 1), "unit": "ml"}}, rng.uniform(7.5, 9)),
            ({"src": "capper", "msg": "CAP start", "station": "C1", "level": "info"}, rng.uniform(0.5, 2)),
            ({"src": "capper", "msg": f"CAP end torque={rng.gauss(2.1, 0.05):.2f}Nm", "station": "C1",
              "level": "info"}, rng.uniform(2.5, 4)),
        ):
            while rng.random() < 0.43:  # ~30 % of the lines are heartbeats
                t += timedelta(seconds=rng.uniform(0, 1))
                out.append((t, {"msg": "heartbeat", "seq": len(out), "level": "debug", "src": "plc"}))
            t += timedelta(seconds=gap)
            out.append((t, obj))
    return out[:lines]


def write_logs(lines: int, directory: Path) -> dict[str, Path]:
    rng = random.Random(2)
    paths = {name: directory / f"formats_{name}_{lines}.log" for name in ("json", "syslog", "iso")}
    with paths["json"].open("w") as js, paths["syslog"].open("w") as sl, paths["iso"].open("w") as iso:
        for n, (t, obj) in enumerate(events(lines)):
            if n % 1000 == 999:
                for fh in (js, sl, iso):
                    fh.write("-- controller restarted --\n")
                continue
            items = [("ts", t.isoformat(timespec="milliseconds") + "Z"), *obj.items()]
            rng.shuffle(items)
            js.write(json.dumps(dict(items), separators=(",", ":")) + "\n")
            text = _text(obj)
            sl.write(f"{t:%b} {t.day:2d} {t:%H:%M:%S} plc-line3 {text}\n")
            iso.write(f"{t:%Y-%m-%d %H:%M:%S} plc-line3 {text}\n")
    os.utime(paths["syslog"], (t.timestamp(), t.timestamp()))
    return paths


def _text(obj: dict[str, object]) -> str:
    src, msg = obj["src"], obj["msg"]
    if msg == "FILL end":
        return f"{src}[211]: FILL end station=F1 vol={obj['data']['vol']}ml"  # type: ignore[index]
    if msg == "heartbeat":
        return f"{src}[7]: heartbeat seq={obj['seq']}"
    return f"{src}[211]: {msg} station={obj['station']}"


def configs(directory: Path) -> dict[str, Path]:
    """The example configs: JSON as shipped, syslog with auto years, and an ISO twin."""
    out = {"json": ROOT / "examples" / "filler_json" / "config"}
    iso = ("'^(?P<ts>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) '", "iso")
    for name, timestamp in (("syslog", None), ("iso", iso)):
        target = directory / f"config_{name}"
        shutil.copytree(ROOT / "examples" / "bottling_syslog" / "config", target, dirs_exist_ok=True)
        patterns = target / "log_patterns.yaml"
        text = patterns.read_text().replace("  year: 2025\n", "")
        if timestamp is not None:
            regex, fmt = timestamp
            text = text.replace("'^(?P<ts>[A-Z][a-z]{2} [ \\d]\\d \\d{2}:\\d{2}:\\d{2}) '", regex)
            text = text.replace("'%b %d %H:%M:%S'", fmt)
        patterns.write_text(text)
        out[name] = target
    return out


def parse_stage(config: Path, log: Path) -> tuple[int, float]:
    patterns = load_config(config).patterns
    parser = block_parser(patterns)
    lines = 0
    start = time.process_time()
    with log.open("rb") as fh:
        for block in LineReader(fh).blocks():
            parsed = parser.parse(block)
            lines += parsed.lines
    return lines, time.process_time() - start


def monitor(config: Path, log: Path, *extra: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as data:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "logloom", "monitor", "--config", str(config), "--data", data,
                        "--logs", str(log), "-q", *extra], check=True, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="reuse the logs in bench/out/")
    ap.add_argument("--parse-only", action="store_true", help="only the parse stage, no monitor runs")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    paths = {name: OUT / f"formats_{name}_{args.lines}.log" for name in ("json", "syslog", "iso")}
    if not (args.reuse and all(p.exists() for p in paths.values())):
        paths = write_logs(args.lines, OUT)
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = configs(Path(tmp))
        for name in ("iso", "syslog", "json"):
            n, cpu = parse_stage(cfgs[name], paths[name])
            print(f"{name:7s} parse stage       {n / cpu:>10,.0f} lines/s (CPU)")
        saved = json_lines._loads, json_lines._DECODE_ERRORS
        json_lines._loads, json_lines._DECODE_ERRORS = json_lines.stdlib_loads, json_lines.STDLIB_ERRORS
        try:
            n, cpu = parse_stage(cfgs["json"], paths["json"])
        finally:
            json_lines._loads, json_lines._DECODE_ERRORS = saved
        print(f"json    parse stage, stdlib {n / cpu:>10,.0f} lines/s (CPU)")
        for name in () if args.parse_only else ("iso", "syslog", "json"):
            for mode in ("--serial", "--parallel"):
                wall, cpu = monitor(cfgs[name], paths[name], mode)
                size = paths[name].stat().st_size / 1e6
                print(f"{name:7s} monitor {mode:10s}  {args.lines / cpu:>10,.0f} lines/s (CPU), "
                      f"{args.lines / wall:,.0f} lines/s wall, {size / wall:.1f} MB/s")


if __name__ == "__main__":
    main()
