"""What a simulation run is asked to do: ``SimOptions`` and the ``--anomalies`` grammar.

Everything here is plain data checked for form only; whether a component, metric or
state named in an anomaly exists is checked against the configs in ``model``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DEFAULT_START = datetime(2026, 1, 21, 6, 0, 0)
DEFAULT_CYCLES = 100
INJECTION_KINDS = ("spike", "stuck", "drift", "fault")


class SimError(Exception):
    """A problem with what the user asked for; ``param`` names the option at fault."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Injection:
    """One injected anomaly from ``--anomalies``.

    ``target`` is a metric or state name (empty for ``fault``); ``factor`` is the
    multiplier of ``spike``/``stuck`` or the per-cycle rate of ``drift``.
    """

    kind: str
    component: str
    target: str
    cycle: int
    factor: float
    text: str


@dataclass(frozen=True)
class SimOptions:
    """Every knob of one simulation run; the defaults are those of the CLI."""

    cycles: int | None = DEFAULT_CYCLES
    lines: int | None = None
    seed: int = 0
    start: datetime = DEFAULT_START
    noise: float = 0.1
    sparse: float = 0.0
    ambiguous_sparse: bool = False
    drop: float = 0.0
    garbage: float = 0.0
    disorder: float = 0.0
    faults: float = 0.0
    injections: tuple[Injection, ...] = ()
    random_spikes: float = 0.0
    consequences: bool = False
    config_dir: Path = field(default_factory=lambda: Path("config"))

    def check(self) -> None:
        """Raise SimError for values no run can use."""
        if self.cycles is not None and self.lines is not None:
            raise SimError("give --cycles or --lines, not both", "--cycles")
        if self.cycles is None and self.lines is None:
            raise SimError("give --cycles or --lines", "--cycles")
        for name in ("cycles", "lines"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SimError(f"must be at least 1, got {value}", f"--{name}")
        for name in ("noise", "sparse", "drop", "garbage", "disorder", "faults", "random_spikes"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimError(f"must be a ratio in [0, 1], got {value}", f"--{name}")
        if self.noise + self.garbage > 0.9:
            raise SimError(
                f"--noise plus --garbage must be at most 0.9, got {self.noise + self.garbage:g}",
                "--noise",
            )
        if self.start.tzinfo is not None:
            raise SimError("give a naive wall-clock time, without a UTC offset", "--start")
        if self.start.microsecond % 1000:
            raise SimError("the log has millisecond resolution; drop the microseconds", "--start")


_INJECTION = re.compile(
    r"^(?P<kind>[a-z-]+):(?P<component>[\w-]+)(?:\.(?P<target>\w+))?@(?P<cycle>\d+)"
    r"(?:(?P<op>[x+-])(?P<number>\d+(?:\.\d*)?(?:e[+-]?\d+)?))?$"
)
# Shorthands: "spikes" spikes 2 % of every dispenser's dispensing visits (the plan names
# the metric); "drift" drifts the last dispenser's dispensing time by +0.4 %/cycle from
# the middle of the run (the plan picks the component and the cycle).
PRESET_SPIKE_RATE = 0.02
PRESET_DRIFT_RATE = 0.004
_RANDOM_SPIKES = re.compile(
    r"^random-spikes:(?:(?P<target>[\w-]+(?:\.\w+)?):)?(?P<rate>\d*\.?\d+(?:e[+-]?\d+)?)$"
)
_GRAMMAR = (
    "spike:COMPONENT.METRIC@CYCLExFACTOR, stuck:COMPONENT.STATE@CYCLExFACTOR, "
    "drift:COMPONENT.METRIC@CYCLE+RATE, fault:COMPONENT@CYCLE, "
    "random-spikes:[[COMPONENT.]METRIC:]RATE, spikes or drift"
)


def parse_anomalies(texts: tuple[str, ...] | list[str]) -> tuple[tuple[Injection, ...], float]:
    """Parse ``--anomalies`` values (each may hold several, comma-separated).

    Returns the injections in the order given and the random-spike rate over all
    scalable visits (0 if none). Random spikes on some metrics only are injections of
    kind ``random-spikes`` (``factor`` the rate, ``cycle`` 0).
    """
    injections: list[Injection] = []
    rate = 0.0
    for text in texts:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if part == "spikes":
                injections.append(Injection("random-spikes", "", "", 0, PRESET_SPIKE_RATE, part))
                continue
            if part == "drift":
                injections.append(Injection("drift", "", "", 0, PRESET_DRIFT_RATE, part))
                continue
            random_spikes = _RANDOM_SPIKES.match(part)
            if random_spikes:
                value = float(random_spikes["rate"])
                if not 0.0 <= value <= 1.0:
                    raise SimError(f"{part!r}: the rate must be in [0, 1]", "--anomalies")
                target = random_spikes["target"] or ""
                if not target:
                    rate = value
                    continue
                component, _, name = target.rpartition(".")
                injections.append(Injection("random-spikes", component, name, 0, value, part))
                continue
            injections.append(_parse_injection(part))
    return tuple(injections), rate


def _parse_injection(part: str) -> Injection:
    match = _INJECTION.match(part)
    if not match or match["kind"] not in INJECTION_KINDS:
        raise SimError(f"{part!r} is not an anomaly; write {_GRAMMAR}", "--anomalies")
    kind, target, op = match["kind"], match["target"] or "", match["op"]
    cycle = int(match["cycle"])
    if cycle < 1:
        raise SimError(f"{part!r}: cycles count from 1", "--anomalies")
    expected_op = {"spike": "x", "stuck": "x", "drift": "+-", "fault": None}[kind]
    if (op is None) != (expected_op is None) or (op is not None and op not in str(expected_op)):
        raise SimError(f"{part!r}: write {_example(kind)}", "--anomalies")
    if (kind == "fault") == bool(target):
        raise SimError(f"{part!r}: write {_example(kind)}", "--anomalies")
    number = float(match["number"]) if match["number"] else 0.0
    if op == "-":
        number = -number
    if op == "x" and number <= 0.0:
        raise SimError(f"{part!r}: the factor must be above 0", "--anomalies")
    if kind == "drift" and number == 0.0:
        raise SimError(f"{part!r}: a drift needs a rate other than 0", "--anomalies")
    return Injection(kind, match["component"], target, cycle, number, part)


def _example(kind: str) -> str:
    return {
        "spike": "spike:l1_dispenser.process_cycle_time@120x1.6",
        "stuck": "stuck:l1_clamp.CLOSED@300x20",
        "drift": "drift:l2_dispenser.process_cycle_time@200+0.004",
        "fault": "fault:l1_dispenser@150",
    }[kind]
