"""Incidents: the anomalies of one problem grouped, with the knock-on anomalies it caused.

``IncidentTracker.step(rows, found)`` is a pure step on in-memory state, like the
engine and the Scorer: no file, clock or print; time is the log's. It takes a block's
metric rows and its anomalies (each with its place among the rows) and returns the
incidents that closed; its state round-trips through ``to_dict`` / ``restore`` as
plain JSON, so a resumed monitor groups exactly as an uninterrupted one.

Each anomaly joins one incident, by the first of these rules that applies
(docs/anomaly-detection.md explains them):

1. **same visit**: a visit already in an incident (``stuck`` then ``limits``, several
   metrics of one visit, a fault's start and end);
2. **own fault**: the component's fault incident, while the fault lasts or ``hold_s``
   after (a fault joins the incident of a stuck visit that it ends);
3. **same metric, lately**: the incident the metric is its own in, within ``hold_s``
   of that incident's last own anomaly (a chattering metric is held to one incident),
   unless a cause that rule 4 finds opened before it;
4. **knock-on**: a duration anomaly on a component the machine graph connects to an
   incident's is an *effect* of that incident (the nearest cause first, then the
   first opened) when the cause explains it: a visit that waited for the cause
   lasted until the cause was over; a longer visit overlapped the cause (the time
   its own anomalous visits span, up to now while its stuck visit or fault goes on)
   or began within the cause's delay after it, and lasted no longer beyond its limit
   than that delay (a knock-on delay cannot exceed the delay that caused it); a
   shorter one overlapped a cause that was shorter too (and by no more), or began
   within the cause's delay after it (the line catching up). A stuck visit that a neighbour's anomalous visit
   lies within waited for it: the neighbour's visit becomes the cause (the incident
   is *re-rooted*, e.g. a clamp held closed around a slow dispensing);
5. **same metric**: the open incident the metric is its own in (a drift is one
   incident while it lasts: ``drift_hold_s`` after each signal);
6. **own component**: the component's open incident, within ``hold_s`` of its last
   own anomaly;
7. otherwise it opens a new incident (a fault always does, unless 1 or 2 applies).

An incident whose own anomalies all lie on visits that ended in a permissive jump
(lines of the log were lost inside them) is of kind ``lost_lines``: a data problem,
not the process's.

An incident closes when the log's time passes its last anomaly by ``hold_s`` (its
last drift-rule signal by ``drift_hold_s``); never while a stuck visit or a fault it
holds is still going on. The log's time is the latest row or anomaly seen, so where
blocks are cut changes nothing.

Observers subscribe through ``listener``: ``listener(change, incident, anomaly)``
with change ``opened`` (by ``anomaly``), ``updated`` (``anomaly`` joined it, as its
own or as an effect: compare ``anomaly.component_id`` with ``incident.component_id``)
or ``closed`` (``anomaly`` None), in log order. ``Incident`` is a frozen record
(``logloom.records``); ``id`` ties the three together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from logloom.detect.incident_model import FAR, KNOCK_ON_RULES, OpenIncident, Topology
from logloom.detect.incident_rows import Prefix, Releases, ended_by_jump
from logloom.records import Anomaly, Incident, MetricRow, Rows

__all__ = ["IncidentConfig", "IncidentTracker", "Listener", "Topology"]

STATE_VERSION = 1
_US = 1_000_000
Listener = Callable[[str, Incident, Anomaly | None], None]


@dataclass(frozen=True)
class IncidentConfig:
    """``settings.incidents`` of process_logic.yaml (every key optional; these are defaults).

    ```yaml
    settings:
      incidents:
        hold_s: 600          # an incident closes this long after its last anomaly
        drift_hold_s: 3600   # ... after its last drift-rule signal
        knock_on: true       # attach neighbours' knock-on anomalies to their cause
    ```
    """

    hold_s: float = 600.0
    drift_hold_s: float = 3600.0
    knock_on: bool = True

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> IncidentConfig:
        return cls(**{k: v for k, v in raw.items() if v is not None})


class IncidentTracker:
    """Groups a monitor run's anomalies into incidents (see the module docstring)."""

    def __init__(self, config: IncidentConfig | None = None, topology: Topology | None = None) -> None:
        self.config = cfg = config or IncidentConfig()
        self.topology = topology or Topology({}, {})
        self._hold = int(cfg.hold_s * _US)
        self._drift_hold = int(cfg.drift_hold_s * _US)
        self.listener: Listener | None = None
        self.clock = -(1 << 62)  # the latest log time seen (rows and anomalies)
        self.since: int | None = None  # the first log time seen: rates are per hour since
        self.next_id = 1
        self._open: dict[int, OpenIncident] = {}
        self._keys: dict[tuple[str, str], int] = {}  # (component, metric) -> the incident it is own in
        self._visits: dict[str, tuple[str, int, int]] = {}  # component -> (state, exit time, incident)
        # component -> (incident, state, stuck|fault, entered, seconds expected) of a visit going on
        self._held: dict[str, tuple[int, str, str, int, float]] = {}

    # ------------------------------------------------------------------ the step
    def step(self, rows: Sequence[MetricRow], found: Sequence[tuple[int, Anomaly]],
             *, ordered: bool = False) -> list[Incident]:
        """One block: its metric rows in order and its anomalies, each with its place
        ``at`` among the rows (``2 i + 1`` for an anomaly of ``rows[i]``, ``2 i`` for one
        found on the line before ``rows[i]``), in order. ``ordered``: the rows' times
        never go back. Returns the incidents that closed, in the order they closed."""
        closed: list[Incident] = []
        rows = Rows.of(rows)
        if self.since is None and (rows or found):
            self.since = min([*rows.ts[:1], *(a.ts for _, a in found[:1])])
        prefix = Prefix(rows, self.clock, ordered)
        releases = Releases(rows, self._held)
        for at, a in found:
            for r, component in releases.until(at):
                self._release(component, rows, r)
            self._tick(max(prefix.until((at + 1) // 2), a.ts), closed)
            self._add(a, releases, at, at % 2 == 1 and ended_by_jump(rows, at // 2))
        for r, component in releases.until(2 * len(rows)):
            self._release(component, rows, r)
        self._tick(prefix.until(len(rows)), closed)
        return closed

    def _tick(self, now: int, closed: list[Incident]) -> None:
        """The log's time is ``now``: close what it passed the end of."""
        if now > self.clock:
            self.clock = now
        if not self._open:
            return
        held = {h[0] for h in self._held.values()}
        due = sorted((inc.deadline(self._hold, self._drift_hold), inc.id)
                     for inc in self._open.values() if inc.id not in held)
        for deadline, iid in due:
            if deadline >= now:
                break
            inc = self._open.pop(iid)
            for key in [k for k, v in self._keys.items() if v == iid]:
                del self._keys[key]
            record = inc.record(closed=True)
            closed.append(record)
            if self.listener is not None:
                self.listener("closed", record, None)

    def _add(self, a: Anomaly, releases: Releases, at: int, lost: bool) -> None:
        """Place ``a`` (at ``at``); ``lost``: its visit ended in a jump over lost lines."""
        inc, effect = self._place(a)
        change = "updated"
        if inc is None:
            inc = OpenIncident.new(self.next_id, a)
            self.next_id += 1
            self._open[inc.id] = inc
            change = "opened"
        per = self._seconds(a)
        inc.add(a, effect=effect, start=a.ts - round(a.value * per * _US) if per else None,
                excess=self._excess(a, per), lost=lost)
        component = a.component_id
        if not effect:
            self._keys[component, a.metric_name] = inc.id
        if a.rule == "stuck":
            expected = a.expected * per if a.expected == a.expected else 0.0
            self._held[component] = (inc.id, a.state_context, "stuck", a.ts - round(a.value * per * _US), expected)
            releases.watch(component, at)
        elif a.rule == "fault":
            self._held[component] = (inc.id, a.state_context, "fault", a.ts, 0.0)
        elif a.rule == "fault_end":
            held = self._held.get(component)
            if held is not None and held[1:3] == (a.state_context, "fault"):
                del self._held[component]
            self._visits[component] = (a.state_context, a.ts, inc.id)  # its duration row follows
        elif at % 2:  # a row's anomaly: other metrics of the same visit follow it
            self._visits[component] = (a.state_context, a.ts, inc.id)
        if self.listener is not None:
            self.listener(change, inc.record(), a)

    def _release(self, component: str, rows: Rows, r: int) -> None:
        """The stuck visit held on ``component`` ended with ``rows[r]`` (its first row since)."""
        held = self._held.get(component)
        if held is None or held[2] != "stuck":
            return  # a fault ended the visit and holds the incident now
        iid, state, *_ = self._held.pop(component)
        inc, row = self._open[iid], rows[r]
        inc.touched = max(inc.touched, row.ts)
        if inc.component == component and ended_by_jump(rows, r):
            inc.own_lost += 1  # the stuck row: no line said the visit ended, lines were lost
        if row.state_context == state:
            self._visits[component] = (state, row.ts, iid)

    # ---------------------------------------------------------------- the rules
    def _place(self, a: Anomaly) -> tuple[OpenIncident | None, bool]:
        """(the incident ``a`` joins, whether as an effect); (None, False): a new one."""
        component, state = a.component_id, a.state_context
        held = self._held.get(component)
        if held is not None and held[1] == state:  # 1. same visit, still going on
            return self._as(self._open[held[0]], component)
        visit = self._visits.get(component)
        if visit is not None and visit[:2] == (state, a.ts) and visit[2] in self._open:
            return self._as(self._open[visit[2]], component)
        own = [inc for inc in self._open.values() if inc.component == component
               and a.ts <= self._reach_until(inc)]
        for inc in reversed(own):  # 2. own fault
            if inc.kind == "fault":
                return inc, False
        if a.rule == "fault":  # a fault ends a stuck visit: the same problem, escalated
            if held is not None and held[2] == "stuck" and self._open[held[0]].component == component:
                return self._open[held[0]], False
            return None, False
        key = self._keys.get((component, a.metric_name))
        same = self._open.get(key) if key is not None else None
        cause, reroot = self._cause(a) if self.config.knock_on else (None, False)
        if same is not None and a.ts <= same.own_last + self._hold \
                and (cause is None or cause.opened > same.opened):  # 3. same metric, lately
            return same, False
        if cause is not None:  # 4. knock-on
            if reroot:
                cause.reroot(a)
                return cause, False
            return cause, True
        if same is not None:  # 5. same metric, held open by a drift
            return same, False
        if own:  # 6. own component
            return own[-1], False
        return None, False

    def _as(self, inc: OpenIncident, component: str) -> tuple[OpenIncident, bool]:
        return inc, inc.component != component

    def _holding(self, inc: OpenIncident) -> bool:
        """Whether a stuck visit or fault of ``inc``'s own component is going on."""
        held = self._held.get(inc.component)
        return held is not None and held[0] == inc.id

    def _reach_until(self, inc: OpenIncident) -> float:
        """Until when ``inc`` takes its component's other anomalies: while its own stuck
        visit or fault goes on, else ``hold_s`` after its last own anomaly."""
        return math.inf if self._holding(inc) else inc.own_last + self._hold

    def _seconds(self, a: Anomaly) -> float:
        """Seconds per unit of ``a``'s metric; 0 for a metric that is not a duration."""
        per = self.topology.durations.get((a.component_id, a.metric_name))
        if per is None and a.rule in ("fault", "fault_end"):
            return 1.0  # a fault state without a duration metric: its rows are in seconds
        return per or 0.0

    @staticmethod
    def _excess(a: Anomaly, per: float) -> float:
        """Seconds by which ``a``'s visit lasted longer than expected (so far, if stuck;
        negative: shorter)."""
        if not per or a.value != a.value:
            return 0.0
        expected = a.expected if a.expected == a.expected and a.rule != "fault_end" else 0.0
        return (a.value - expected) * per

    def _cause_end(self, inc: OpenIncident, now: int) -> int:
        """Until when ``inc``'s cause went on: now while its own stuck visit or fault goes
        on; ``hold_s`` past its last drift signal (a drift goes on between its signals);
        else its last own anomaly."""
        if self._holding(inc):
            return now
        if inc.drift_last is not None:
            return max(inc.own_last, inc.drift_last + self._hold)
        return inc.own_last

    def _delay(self, inc: OpenIncident, now: int) -> float:
        """Seconds of delay ``inc``'s cause has made by log time ``now``."""
        if self._holding(inc):
            held = self._held[inc.component]
            return max(inc.excess, (now - held[3]) / _US - held[4])
        return inc.excess

    def _cause(self, a: Anomaly) -> tuple[OpenIncident | None, bool]:
        """(the open incident ``a`` is a knock-on effect of, whether ``a``'s visit is its
        cause instead: see ``_waited_for``); (None, False) if none."""
        component = a.component_id
        per = self._seconds(a)
        if a.rule not in KNOCK_ON_RULES or not per or a.score != a.score or a.score == 0.0:
            return None, False
        start = a.ts - round(a.value * per * _US)
        best: tuple[int, int, int] | None = None
        found, reroot = None, False
        for inc in self._open.values():
            if inc.component == component or a.ts < inc.opened or a.ts < inc.own_start:
                continue  # on its own component, or before the cause
            turned = self._waited_for(inc, a, start)
            if not turned and not self._explains(inc, a, start, per):
                continue
            hops = self.topology.distance(inc.component, component)
            rank = (hops, inc.opened, inc.id)
            if hops < FAR and (best is None or rank < best):
                best, found, reroot = rank, inc, turned
        return found, reroot

    def _explains(self, inc: OpenIncident, a: Anomaly, start: int, per: float) -> bool:
        """Whether ``inc``'s cause explains ``a`` (a duration anomaly whose visit began at
        ``start``) as a knock-on effect:

        * a visit that waited for the cause lasted until it was over: while the cause
          (a stuck visit or a fault) still goes on, only a visit that goes on too (a
          stuck row) can be waiting for it;
        * a longer visit overlapped the cause or began within the cause's delay after
          it, and lasted no longer beyond its limit than that delay;
        * a shorter visit overlapped a cause that was shorter too, and fell no further
          below its limit than the cause fell short; or began within the cause's delay
          after it (the line catching up).
        """
        if self._holding(inc) and a.rule != "stuck":
            return False
        end, delay = self._cause_end(inc, a.ts), self._delay(inc, a.ts)
        if start > end + delay * _US:
            return False
        if a.score > 0.0:
            return (a.value - a.upper) * per <= delay if a.value > a.upper else True
        if start > end:
            return True
        return (a.lower - a.value) * per <= inc.shortfall if a.value < a.lower else inc.shortfall > 0.0

    def _waited_for(self, inc: OpenIncident, a: Anomaly, start: int) -> bool:
        """Whether ``inc`` is a neighbour's stuck visit, all it holds so far, that ``a``'s
        longer visit (begun at ``start``) lies within: the stuck component was waiting
        for ``a``'s (a clamp held closed around a slow dispensing)."""
        held = self._held.get(inc.component)
        if held is None or held[0] != inc.id or held[2] != "stuck" or inc.kind != "stuck" \
                or inc.anomalies != 1 or a.score <= 0.0:
            return False
        return start >= held[3] and self.topology.distance(inc.component, a.component_id) == 1

    # ------------------------------------------------------------------ reading
    def open_incidents(self) -> list[Incident]:
        """The incidents still open, in the order they opened."""
        return [inc.record() for inc in self._open.values()]

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": STATE_VERSION,
            "clock": self.clock,
            "since": self.since,
            "next_id": self.next_id,
            "open": [inc.to_dict() for inc in self._open.values()],
            "keys": [[c, m, i] for (c, m), i in self._keys.items()],
            "visits": {c: list(v) for c, v in self._visits.items()},
            "held": {c: list(h) for c, h in self._held.items()},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from ``to_dict`` output. Raises ``ValueError`` for another version or
        a malformed state."""
        if state.get("schema_version") != STATE_VERSION:
            raise ValueError(f"incident state: unknown schema_version {state.get('schema_version')!r}")
        try:
            self.clock = int(state["clock"])
            since = state.get("since")
            self.since = None if since is None else int(since)
            self.next_id = int(state["next_id"])
            self._open = {}
            for entry in state["open"]:
                inc = OpenIncident.from_dict(entry)
                self._open[inc.id] = inc
            self._keys = {(str(c), str(m)): int(i) for c, m, i in state["keys"]}
            self._visits = {str(c): (str(s), int(t), int(i)) for c, (s, t, i) in state["visits"].items()}
            self._held = {str(c): (int(i), str(s), str(k), int(e), float(x))
                          for c, (i, s, k, e, x) in state["held"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"incident state is malformed: {exc!r}") from exc
