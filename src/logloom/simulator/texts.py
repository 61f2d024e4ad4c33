"""How the simulated PLC writes: timestamps, message texts, noise and garbage lines.

Owns every string that ends up in the log, and ``check_patterns``, which proves at
start-up that the bundled log_patterns.yaml reads each message as the event the
simulator means (and reads no noise line at all).
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from logloom.config.yaml_io import load_yaml
from logloom.simulator.model import LineModel, Station
from logloom.simulator.options import SimError

_SECONDS_LOG = tuple(f"{ms // 1000:02d}.{ms % 1000:03d}" for ms in range(60_000))
_SECONDS_ISO = tuple(
    f"{ms // 1000:02d}" + (f".{ms % 1000:03d}000" if ms % 1000 else "") for ms in range(60_000)
)


class Clock:
    """Turns simulation time (integer ms since ``start``) into the log's and the CSVs' text."""

    def __init__(self, start: datetime) -> None:
        self._base = start.replace(second=0, microsecond=0)
        self._offset = start.second * 1000 + start.microsecond // 1000
        self._minute = -1
        self._log_prefix = ""
        self._iso_prefix = ""

    def _prefixes(self, minute: int) -> None:
        moment = self._base + timedelta(minutes=minute)
        day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        hm = f"{moment.hour:02d}:{moment.minute:02d}:"
        self._minute = minute
        self._log_prefix = f"{day} {hm}"
        self._iso_prefix = f"{day}T{hm}"

    def log(self, t: int) -> str:
        """``2026-01-21 06:00:05.120``: always three fraction digits."""
        minute, ms = divmod(t + self._offset, 60_000)
        if minute != self._minute:
            self._prefixes(minute)
        return self._log_prefix + _SECONDS_LOG[ms]

    def iso(self, t: int) -> str:
        """As ``datetime.isoformat()`` writes it: a fraction only when non-zero."""
        minute, ms = divmod(t + self._offset, 60_000)
        if minute != self._minute:
            self._prefixes(minute)
        return self._iso_prefix + _SECONDS_ISO[ms]


def pallet_id(pallet: int) -> str:
    return f"P-{pallet:06d}"


def hundredths(value: int) -> str:
    """An integer count of hundredths as a decimal text (``1248`` -> ``12.48``)."""
    return f"{value // 100}.{value % 100:02d}"


# The message texts, keyed by what they mean; ``{s}`` is the station or conveyor name.
MESSAGES = {
    "CONVEYOR_START": "Conveyor {s} moving pallet {pallet}",
    "CONVEYOR_STOP": "Conveyor {s} stopped",
    "PALLET_ARRIVED": "Pallet {pallet} arrived at {s}",
    "CLAMP_CLOSE": "Clamp closed at {s}",
    "CLAMP_PRESSURE": "Clamp pressure at {s}: {value} bar",
    "PROCESS_START": "Dispensing Started at {s}",
    "DISPENSE_PRESSURE": "Dispense pressure at {s}: {value} bar",
    "DISPENSE_RETRY": "Dispense retry at {s}",
    "PROCESS_END": "Process finished at {s} volume={value}ml",
    "PROCESS_END_SPARSE": "Process finished volume={value}ml",
    "CLAMP_OPEN": "Clamp opened at {s}",
    "PALLET_RELEASED": "Pallet {pallet} released from {s}",
    "FAULT": "FAULT at {s}: {reason} ({code})",
    "RESET": "Reset at {s} by operator",
}
FAULT_REASONS = (
    ("nozzle clogged", "E-101"),
    ("glue pressure out of range", "E-102"),
    ("pallet misaligned", "E-103"),
    ("dosing pump overcurrent", "E-104"),
)
_USERS = ("jdoe", "mkeller", "aschmidt", "lnguyen", "operator2")


class NoiseWriter:
    """Lines that carry a timestamp but match no pattern: heartbeats, logins, readings."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._heartbeat = 0

    def message(self) -> str:
        rng = self._rng
        pick = rng.random()
        if pick < 0.4:
            self._heartbeat += 1
            return f"[DEBUG] Heartbeat PLC-1 seq={self._heartbeat} ok"
        if pick < 0.6:
            return f"[INFO] Ambient temperature {rng.gauss(23.0, 0.8):.1f} C"
        if pick < 0.75:
            return f"[DEBUG] PLC scan time {rng.randint(8, 14)} ms"
        if pick < 0.85:
            return f"[INFO] Operator {rng.choice(_USERS)} logged in at HMI-{rng.randint(1, 3)}"
        if pick < 0.95:
            return f"[INFO] Operator {rng.choice(_USERS)} logged out"
        return f"[WARN] OPC-UA session {rng.getrandbits(32):08x} renewed"


# Bytes for garbage: printable ASCII plus bytes that are never valid UTF-8 on their own
# (lone continuation bytes, 0xF8-0xFF). No lead byte, so no line break can be formed.
_GARBAGE_FIRST = [b for b in range(0x21, 0x7F) if not chr(b).isdigit()] + list(range(0x80, 0xC0))
_GARBAGE_BYTES = list(range(0x20, 0x7F)) + list(range(0x80, 0xC0)) + list(range(0xF8, 0x100))


def garbage_line(rng: random.Random) -> str:
    """A line without a timestamp: random bytes, invalid UTF-8 included (surrogate-escaped)."""
    body = bytes([rng.choice(_GARBAGE_FIRST), *rng.choices(_GARBAGE_BYTES, k=rng.randint(8, 80))])
    return body.decode("utf-8", "surrogateescape")


def check_patterns(config_dir: Path, model: LineModel) -> str | None:
    """Check that log_patterns.yaml reads every simulated message as meant.

    Returns the ``target_type`` that routes sparse finish lines. Raises SimError naming
    the first message the patterns misread.
    """
    path = config_dir / "log_patterns.yaml"
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
        ts_regex = re.compile(raw["timestamp"]["regex"])
        patterns = [(p, re.compile(p["regex"])) for p in raw["patterns"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, re.error) as exc:
        raise SimError(f"{path}: cannot use it ({exc})", "--config") from exc
    stamp = "2026-01-21 06:00:00.000"
    if not ts_regex.match(stamp):
        raise SimError(f"{path}: the timestamp regex does not match {stamp!r}", "--config")
    for text, event, target in _samples(model):
        found = _classify(patterns, text)
        wanted = (event, target)
        got = (found["event"], found.get("target_raw")) if found else None
        if got != wanted:
            raise SimError(
                f"{path}: the line {text!r} must read as {wanted}, patterns give {got}",
                "--config",
            )
    noise = NoiseWriter(random.Random(0))
    for _ in range(200):
        text = noise.message()
        found = _classify(patterns, text)
        if found:
            raise SimError(f"{path}: the noise line {text!r} matches {found['name']}", "--config")
    sparse = _classify(patterns, MESSAGES["PROCESS_END_SPARSE"].format(value="1.00"))
    return sparse.get("target_type") if sparse else None


def _classify(patterns: list[tuple[dict[str, Any], re.Pattern[str]]], text: str) -> dict[str, Any]:
    for pattern, regex in patterns:
        match = regex.search(text)
        if match:
            target = pattern.get("target")
            raw = target.format(**match.groupdict()) if target else None
            return {**pattern, "target_raw": raw}
    return {}


def _samples(model: LineModel) -> list[tuple[str, str, str | None]]:
    samples: list[tuple[str, str, str | None]] = []
    pallet = pallet_id(1)
    for stage in model.stages:
        if not isinstance(stage, Station):
            for event in ("CONVEYOR_START", "CONVEYOR_STOP"):
                samples.append((MESSAGES[event].format(s=stage.name, pallet=pallet), event, stage.name))
            continue
        events = ["PALLET_ARRIVED", "PROCESS_START", "DISPENSE_PRESSURE", "DISPENSE_RETRY"]
        events += ["PROCESS_END", "PALLET_RELEASED", "RESET"]
        if stage.clamp is not None:
            events += ["CLAMP_CLOSE", "CLAMP_PRESSURE", "CLAMP_OPEN"]
        for event in events:
            text = MESSAGES[event].format(s=stage.name, pallet=pallet, value="12.48")
            samples.append((text, event, stage.name))
        for reason, code in FAULT_REASONS:
            text = MESSAGES["FAULT"].format(s=stage.name, reason=reason, code=code)
            samples.append((text, "FAULT", stage.name))
    samples.append((MESSAGES["PROCESS_END_SPARSE"].format(value="12.48"), "PROCESS_END", None))
    return samples
