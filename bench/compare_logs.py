"""The logs, configs and baseline bench/compare.py runs the tools on (made once, in bench/out/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "config"
PY = sys.executable
LOGLOOM = str(Path(PY).with_name("logloom"))
PANDAS_BYTES_PER_LINE = 600  # measured: ~560 MB peak RSS at 1M lines

# The simulator's ISO stamp (2026-01-21 06:00:35.195) -> 21.01.2026 06:00:35,195
TO_STRPTIME_SED = r"s/^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9:]{8})\.([0-9]+)/\3.\2.\1 \4,\5/"
STRPTIME_FORMAT = "%d.%m.%Y %H:%M:%S,%f"
STRPTIME_REGEX = r"^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d+)"


def ensure_log(lines: int, reuse: bool) -> Path:
    """bench/out/log_N.log from the simulator (only the log is kept)."""
    log = OUT / f"log_{lines}.log"
    if reuse and log.exists():
        return log
    print(f"simulating {lines:,} lines -> {log.relative_to(ROOT)}", flush=True)
    subprocess.run([LOGLOOM, "simulate", "--config", str(CONFIG), "--out", str(log),
                    "--lines", str(lines), "--seed", "1", "--quiet"], check=True)
    for side in OUT.glob(f"{log.name}.*.csv"):
        side.unlink()
    return log


def ensure_foreign_log(lines: int, reuse: bool) -> Path:
    """bench/out/foreign_N.log from bench/foreign_log.py (seed 1, its default noise share)."""
    log = OUT / f"foreign_{lines}.log"
    if reuse and log.exists():
        return log
    print(f"writing a foreign-style log of {lines:,} lines -> {log.relative_to(ROOT)}", flush=True)
    subprocess.run([PY, str(ROOT / "bench" / "foreign_log.py"), "--out", str(log), "--lines", str(lines),
                    "--seed", "1"], check=True)
    return log


def ensure_strptime_log(log: Path, reuse: bool) -> Path:
    """``log`` with its timestamps rewritten as STRPTIME_FORMAT (by sed), next to it.

    With ``reuse``, a rewritten log at least as new as ``log`` is kept.
    """
    rewritten = log.with_name(f"{log.stem}_strptime.log")
    if reuse and rewritten.exists() and rewritten.stat().st_mtime >= log.stat().st_mtime:
        return rewritten
    print(f"rewriting timestamps -> {rewritten.relative_to(ROOT)}", flush=True)
    partial = rewritten.with_suffix(".partial")
    with open(partial, "wb") as out:
        subprocess.run(["sed", "-E", TO_STRPTIME_SED, str(log)], stdout=out, check=True)
    partial.replace(rewritten)
    return rewritten


def strptime_config() -> Path:
    """A copy of config/ in bench/out/ whose log timestamps are STRPTIME_FORMAT.

    log_patterns.yaml is edited as text (its comments kept, and no YAML library
    loaded into this process); logloom validates the result when it runs.
    """
    config = OUT / "config_strptime"
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(CONFIG, config)
    patterns = config / "log_patterns.yaml"
    text = patterns.read_text()
    block = re.search(r"^timestamp:\n(?:[ \t]+.*\n)+", text, re.MULTILINE)
    if block is None:
        raise RuntimeError(f"no timestamp: block in {CONFIG / patterns.name}")
    new = set_value(set_value(block.group(), "regex", STRPTIME_REGEX), "format", STRPTIME_FORMAT)
    patterns.write_text(text[:block.start()] + new + text[block.end():])
    return config


def set_value(block: str, key: str, value: str) -> str:
    """``block`` of YAML with the value of its one ``key:`` line set to ``value``, quoted."""
    line = re.compile(rf"^([ \t]+{key}:).*$", re.MULTILINE)
    new, found = line.subn(lambda m: f"{m.group(1)} '{value}'", block)
    if found != 1:
        raise RuntimeError(f"expected one {key}: in the timestamp block, found {found}")
    return new


def record_baseline(log: Path, scratch: Path) -> Path:
    """A baseline recorded (untimed) on ``log``, for the scored monitor runs."""
    data = scratch / "baseline"
    shutil.rmtree(data, ignore_errors=True)
    print(f"recording a baseline on {log.name} (not timed)", flush=True)
    subprocess.run([LOGLOOM, "record", "--config", str(CONFIG), "--data", str(data),
                    "--logs", str(log), "-q"], check=True, stdout=subprocess.DEVNULL)
    return data / "process_baseline.json"


def ensure_compiled(reuse: bool) -> Path:
    """logloom built with its engine compiled (``LOGLOOM_COMPILE=1``, mypyc) from this
    checkout, installed into bench/out/compiled (run with it first on PYTHONPATH); with
    ``reuse``, a build already there is kept."""
    target = OUT / "compiled"
    if reuse and (target / "logloom").is_dir():
        return target
    print(f"building logloom with its engine compiled -> {target.relative_to(ROOT)}", flush=True)
    wheels = OUT / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    quiet = ["--quiet", "--disable-pip-version-check", "--no-deps"]
    subprocess.run([PY, "-m", "pip", "wheel", *quiet, "-w", str(wheels), str(ROOT)], check=True,
                   env={**os.environ, "LOGLOOM_COMPILE": "1"})
    subprocess.run([PY, "-m", "pip", "install", *quiet, "--target", str(target), *map(str, wheels.glob("*.whl"))],
                   check=True)
    subprocess.run([PY, "-m", "compileall", "-q", str(target / "logloom")], check=True)
    return target


def pandas_fits(lines: int) -> bool:
    """Whether the pandas peer's estimated peak stays under half the available memory."""
    avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return lines * PANDAS_BYTES_PER_LINE < avail / 2
