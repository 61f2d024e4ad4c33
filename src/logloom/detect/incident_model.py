"""What the incident tracker keeps: one open incident, and the line's topology.

``OpenIncident`` is the mutable state of an incident while it is open (plain data,
to and from JSON); ``record`` freezes it into the ``Incident`` that sinks and
observers get. ``Topology`` says which components are neighbours (``next`` in
either direction, or one station: a shared alias) and which metrics are durations
(the only ones a knock-on effect can show in: waiting, blocked and starved time),
with their unit in seconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logloom.records import Anomaly, Incident

DRIFT_RULES = frozenset({"ewma", "cusum", "nelson2"})
KNOCK_ON_RULES = frozenset({"limits", "stuck", "ewma", "cusum", "nelson2"})
_KIND = {"fault": "fault", "fault_end": "fault", "stuck": "stuck", "limits": "limits",
         "invalid_burst": "burst", **dict.fromkeys(DRIFT_RULES, "drift")}
_RANK = {"burst": 0, "limits": 1, "stuck": 2, "drift": 3, "fault": 4}
LOST = "lost_lines"  # the kind of an incident that only lost log lines made
FAR = 1 << 30  # the distance between components the graph does not connect


@dataclass(frozen=True)
class Topology:
    """``neighbours``: component -> the components next to it; ``durations``: the
    (component, metric) pairs that are duration metrics."""

    neighbours: Mapping[str, frozenset[str]]
    durations: Mapping[tuple[str, str], float]  # -> seconds per unit
    _distances: dict[str, dict[str, int]] = field(default_factory=dict, compare=False, repr=False)

    def distance(self, a: str, b: str) -> int:
        """Hops from ``a`` to ``b`` through neighbours (``FAR`` if none lead there)."""
        known = self._distances.get(a)
        if known is None:
            known = self._distances[a] = {a: 0}
            queue = deque([a])
            while queue:
                here = queue.popleft()
                for there in sorted(self.neighbours.get(here, ())):
                    if there not in known:
                        known[there] = known[here] + 1
                        queue.append(there)
        return known.get(b, FAR)


@dataclass(eq=False)
class OpenIncident:
    """One incident while it is open. Times are log microseconds."""

    id: int
    component: str
    kind: str
    state: str
    opened: int
    last: int  # its latest anomaly, own or effect
    own_start: int  # when the earliest visit of its own anomalies began
    own_last: int  # its latest own anomaly
    touched: int  # its latest anomaly or the end of a visit it held
    drift_last: int | None  # its latest own drift-rule signal
    peak: Anomaly
    metrics: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    anomalies: int = 0
    effects: list[str] = field(default_factory=list)
    effect_anomalies: int = 0
    reach: set[str] = field(default_factory=set)  # its component and those its effects are on
    excess: float = 0.0  # seconds: the most its own durations were longer than expected
    shortfall: float = 0.0  # seconds: the most its own durations were shorter than expected
    own_lost: int = 0  # own anomalies on visits that ended in a jump over lost lines

    @classmethod
    def new(cls, iid: int, a: Anomaly) -> OpenIncident:
        return cls(iid, a.component_id, _KIND.get(a.rule, a.rule), a.state_context, a.ts, a.ts, a.ts, a.ts,
                   a.ts, None, a, reach={a.component_id})

    def add(self, a: Anomaly, *, effect: bool, start: int | None = None, excess: float = 0.0,
            lost: bool = False) -> None:
        """Count ``a`` in: its own, or an ``effect``. ``start``: when its visit began (a
        duration's), ``excess``: the seconds by which it lasted longer than expected
        (negative: shorter), ``lost``: its visit ended in a jump over lost lines."""
        self.last = max(self.last, a.ts)
        self.touched = max(self.touched, a.ts)
        if effect:
            self.effect_anomalies += 1
            name = f"{a.component_id}.{a.metric_name}"
            if name not in self.effects:
                self.effects.append(name)
            self.reach.add(a.component_id)
            return
        self.anomalies += 1
        self.own_lost += lost
        self.own_last = max(self.own_last, a.ts)
        self.own_start = min(self.own_start, a.ts if start is None else start)
        self.excess = max(self.excess, excess)
        self.shortfall = max(self.shortfall, -excess)
        if a.metric_name not in self.metrics:
            self.metrics.append(a.metric_name)
        if a.rule not in self.rules:
            self.rules.append(a.rule)
        if a.rule in DRIFT_RULES:
            self.drift_last = a.ts if self.drift_last is None else max(self.drift_last, a.ts)
        kind = _KIND.get(a.rule, a.rule)
        if _RANK.get(kind, -1) > _RANK.get(self.kind, -1):
            self.kind = kind
        if a is not self.peak and (a.rule == "fault_end" or _severity(a) > _severity(self.peak)):
            self.peak = a

    def reroot(self, a: Anomaly) -> None:
        """``a``, on another component, is the cause of what this incident holds so far:
        its own anomalies become effects, and ``a`` (added next) opens its own list."""
        self.effects = [f"{self.component}.{m}" for m in self.metrics] + self.effects
        self.effect_anomalies += self.anomalies
        self.component, self.state, self.peak = a.component_id, a.state_context, a
        self.kind = _KIND.get(a.rule, a.rule)
        self.metrics, self.rules, self.anomalies, self.own_lost = [], [], 0, 0
        self.excess = self.shortfall = 0.0
        self.drift_last, self.own_start, self.own_last = None, a.ts, a.ts
        self.reach.add(a.component_id)

    def deadline(self, hold: int, drift_hold: int) -> int:
        """The log time after which it closes (when nothing holds it open)."""
        end = self.touched + hold
        if self.drift_last is not None:
            end = max(end, self.drift_last + drift_hold)
        return end

    def record(self, *, closed: bool = False) -> Incident:
        kind = LOST if self.own_lost and self.own_lost >= self.anomalies else self.kind
        return Incident(self.id, self.opened, self.last if closed else None, self.last, self.component,
                        kind, self.state, tuple(self.metrics), tuple(self.rules), self.anomalies,
                        self.peak, tuple(self.effects), self.effect_anomalies, describe(kind, self.peak))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "component": self.component, "kind": self.kind, "state": self.state,
            "times": [self.opened, self.last, self.own_start, self.own_last, self.touched, self.drift_last],
            "excess": [self.excess, self.shortfall], "own_lost": self.own_lost,
            "peak": list(self.peak), "metrics": self.metrics, "rules": self.rules,
            "anomalies": self.anomalies, "effects": self.effects, "effect_anomalies": self.effect_anomalies,
            "reach": sorted(self.reach),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpenIncident:
        opened, last, own_start, own_last, touched, drift_last = d["times"]
        ts, comp, metric, value, unit, ctx, expected, lower, upper, score, rule = d["peak"]
        peak = Anomaly(int(ts), str(comp), str(metric), float(value), str(unit), str(ctx), float(expected),
                       float(lower), float(upper), float(score), str(rule))
        return cls(int(d["id"]), str(d["component"]), str(d["kind"]), str(d["state"]), int(opened), int(last),
                   int(own_start), int(own_last), int(touched), None if drift_last is None else int(drift_last), peak,
                   [str(m) for m in d["metrics"]], [str(r) for r in d["rules"]], int(d["anomalies"]),
                   [str(e) for e in d["effects"]], int(d["effect_anomalies"]), {str(c) for c in d["reach"]},
                   float(d["excess"][0]), float(d["excess"][1]), int(d["own_lost"]))


def _severity(a: Anomaly) -> tuple[int, float]:
    if a.rule in ("fault", "fault_end"):
        return (2, 0.0)
    score = abs(a.score)
    return (1, score if score == score else 0.0)


def _num(x: float) -> str:
    return f"{x:.4g}"


def describe(kind: str, peak: Anomaly) -> str:
    """What happened, in a few words (no commas: it is a CSV cell)."""
    _, _, metric, value, unit, state, expected, lower, upper, _, rule = peak
    amount = f"{_num(value)} {unit}".rstrip()
    if rule == "fault_end":
        return f"fault: {state} for {amount if value == value else 'an unknown time'}"
    if rule == "fault":
        return f"fault: {state} (still in it)"
    if kind == LOST:
        return f"{metric} {amount} in {state} across lost log lines (the visit ended in a jump)"
    if kind == "stuck" and rule in ("stuck", "limits"):
        so_far = " so far" if rule == "stuck" else ""
        return f"stuck in {state}: {amount}{so_far} (upper limit {_num(upper)})"
    if rule == "invalid_burst":
        return f"{_num(value)} {metric} in a burst"
    if kind == "drift":
        direction = "up" if value > expected else "down"
        return f"{metric} drifting {direction}: {amount} (median {_num(expected)})"
    if value > upper:
        return f"{metric} {amount} above {_num(upper)}"
    if value < lower:
        return f"{metric} {amount} below {_num(lower)}"
    return f"{metric} {amount} ({rule})"
