"""The incident tracker's grouping rules on small hand-written streams of rows and anomalies.

The line here is not the simulator's: two infeeds feed one filler (``infeed_a``,
``infeed_b`` -> ``filler`` -> ``capper``), a clamp shares the filler's station, and
``lonely`` is connected to nothing.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from logloom.detect.incidents import IncidentConfig, IncidentTracker, Topology
from logloom.records import Anomaly, Incident, MetricRow

S = 1_000_000
NEAR = {
    "infeed_a": {"filler"}, "infeed_b": {"filler"}, "clamp": {"filler"},
    "filler": {"infeed_a", "infeed_b", "capper", "clamp"}, "capper": {"filler"}, "lonely": set(),
}
DURATIONS = {(c, m): 1.0 for c in NEAR for m in ("run_time", "wait_time", "fill_time", "idle_time", "clamp_time")}
TOPOLOGY = Topology({c: frozenset(n) for c, n in NEAR.items()}, DURATIONS)
CONFIG = IncidentConfig(hold_s=60.0, drift_hold_s=1200.0)
EVENT_RULES = ("stuck", "fault", "fault_end", "invalid_burst")
Item = MetricRow | Anomaly


def row(t: float, comp: str, metric: str = "run_time", value: float = 10.0, state: str = "RUN") -> MetricRow:
    return MetricRow(int(t * S), comp, metric, value, "s", state)


def anomaly(t: float, comp: str, metric: str = "run_time", value: float = 40.0, rule: str = "limits", *,
            state: str = "RUN", expected: float = 10.0, lower: float = 5.0, upper: float = 20.0,
            score: float | None = None) -> Anomaly:
    if score is None:
        score = (value - expected) / 2.5
    return Anomaly(int(t * S), comp, metric, value, "s", state, expected, lower, upper, score, rule)


def flagged(t: float, comp: str, metric: str = "run_time", value: float = 40.0, rule: str = "limits",
            **kw: object) -> list[Item]:
    """A row and its anomaly."""
    state = str(kw.get("state", "RUN"))
    return [row(t, comp, metric, value, state), anomaly(t, comp, metric, value, rule, **kw)]  # type: ignore[arg-type]


def block(items: Sequence[Item]) -> tuple[list[MetricRow], list[tuple[int, Anomaly]]]:
    """Rows and anomalies with their places: an event rule's anomaly comes before the
    next row (found on a line), any other belongs to the row before it."""
    rows: list[MetricRow] = []
    found: list[tuple[int, Anomaly]] = []
    for item in items:
        if isinstance(item, Anomaly):
            found.append((2 * len(rows) if item.rule in EVENT_RULES else 2 * len(rows) - 1, item))
        else:
            rows.append(item)
    return rows, found


def run(*items: Item | list[Item], tracker: IncidentTracker | None = None) -> list[Incident]:
    """Every incident, closed (in the order they closed) then open, after one block."""
    tracker = tracker or IncidentTracker(CONFIG, TOPOLOGY)
    flat = [x for item in items for x in (item if isinstance(item, list) else [item])]
    rows, found = block(flat)
    closed = tracker.step(rows, found, ordered=_ordered(rows))
    return closed + tracker.open_incidents()


def _ordered(rows: Sequence[MetricRow]) -> bool:
    return all(a.ts <= b.ts for a, b in itertools.pairwise(rows))


def quiet(start: float, end: float, every: float = 10.0, comp: str = "capper") -> list[Item]:
    """Normal rows of ``comp`` that move the log's time on."""
    n = int((end - start) / every) + 1
    return [row(start + i * every, comp, "idle_time", 5.0, "IDLE") for i in range(n)]


def seconds(t: int | None) -> float | None:
    return None if t is None else t / S


# ------------------------------------------------------------------ same visit
def test_a_stuck_visit_and_its_end_are_one_incident_held_open_while_it_lasts() -> None:
    stuck = anomaly(25, "filler", "fill_time", 25.0, "stuck", state="FILL")
    [inc] = run(quiet(0, 20), stuck, quiet(30, 700),  # far longer than hold_s
                flagged(705, "filler", "fill_time", 705.0, state="FILL"), quiet(710, 800))
    assert (seconds(inc.opened), seconds(inc.closed)) == (25.0, 705.0)
    assert inc.rules == ("stuck", "limits") and inc.anomalies == 2 and inc.kind == "stuck"
    assert inc.peak.value == 705.0 and "stuck in FILL" in inc.cause


def test_the_metrics_of_one_visit_are_one_incident() -> None:
    [inc] = run(flagged(10, "filler", "fill_time", 40.0, state="FILL"),
                flagged(10, "filler", "volume", 0.1, state="FILL", expected=1.0, lower=0.9, upper=1.1, score=-9.0),
                quiet(20, 200))
    assert inc.metrics == ("fill_time", "volume") and inc.closed == 10 * S


# --------------------------------------------------------------- same metric
def test_a_chattering_metric_is_held_to_one_incident_until_quiet_for_hold_s() -> None:
    first, second = run(*(flagged(t, "lonely", "run_time") for t in (0, 50, 100, 150)), quiet(160, 230),
                        flagged(240, "lonely", "run_time"), quiet(250, 400))
    assert (first.anomalies, seconds(first.opened), seconds(first.closed)) == (4, 0.0, 150.0)
    assert (second.anomalies, seconds(second.opened)) == (1, 240.0)


def test_a_drift_is_one_incident_while_it_lasts() -> None:
    ewma = [flagged(t, "lonely", "run_time", 12.0, "ewma", score=3.6) for t in (0, 900, 1800)]
    first, second = run(*ewma, quiet(1810, 3100), flagged(3100, "lonely", "run_time", 12.0, "ewma", score=3.6),
                        quiet(3110, 3200))
    assert (first.kind, first.anomalies, seconds(first.closed)) == ("drift", 3, 1800.0)
    assert second.anomalies == 1 and second.closed is None  # still within its drift hold
    assert first.cause == "run_time drifting up: 12 s (median 10)"


# -------------------------------------------------------------------- knock-on
def test_knock_on_effects_on_neighbours_attach_to_their_cause() -> None:
    """The filler's 30 s delay blocks both infeeds and starves the capper."""
    incidents = run(
        quiet(0, 50, comp="lonely"),
        flagged(100, "filler", "fill_time", 40.0, state="FILL"),  # visit 60..100 s, 30 s late
        flagged(105, "infeed_a", "run_time", 44.0, upper=15.0),  # blocked 60..105: 29 s past its limit
        flagged(106, "infeed_b", "run_time", 30.0, upper=15.0),
        flagged(110, "capper", "idle_time", 55.0, state="IDLE", upper=30.0),  # starved
        quiet(120, 300, comp="lonely"),
    )
    [inc] = incidents
    assert inc.component_id == "filler" and inc.metrics == ("fill_time",)
    assert inc.effects == ("infeed_a.run_time", "infeed_b.run_time", "capper.idle_time")
    assert (inc.anomalies, inc.effect_anomalies, seconds(inc.closed)) == (1, 3, 110.0)


def test_what_a_cause_cannot_explain_opens_its_own_incidents() -> None:
    incidents = run(
        flagged(100, "filler", "fill_time", 40.0, state="FILL"),  # visit 60..100 s, 30 s late
        flagged(101, "lonely", "run_time", 44.0),  # not connected to the filler
        flagged(102, "infeed_a", "pressure", 9.0, expected=6.0, lower=5.5, upper=6.5),  # not a duration
        flagged(100.5, "infeed_b", "run_time", 1.0, score=-4.5),  # shorter while the filler was late
        flagged(104, "capper", "idle_time", 150.0, state="IDLE", upper=30.0),  # 120 s past: more than 30 s late
        quiet(110, 170, comp="lonely"),
        flagged(180, "clamp", "clamp_time", 45.0, upper=25.0),  # began after the cause ended (135..180)
        quiet(190, 400, comp="lonely"),
    )
    by_component = {inc.component_id: inc for inc in incidents}
    assert len(incidents) == 6 and by_component["filler"].effects == ()
    assert all(inc.anomalies == 1 and not inc.effects for inc in incidents)


def test_the_line_catching_up_right_after_its_cause_is_a_knock_on_too() -> None:
    [inc] = run(
        flagged(100, "filler", "fill_time", 40.0, state="FILL"),  # 30 s late
        flagged(112, "capper", "idle_time", 2.0, state="IDLE", score=-5.0),  # 110..112: within 30 s after
        quiet(120, 300, comp="lonely"),
    )
    assert inc.effects == ("capper.idle_time",)
    later = run(flagged(100, "filler", "fill_time", 40.0, state="FILL"),
                flagged(140, "capper", "idle_time", 2.0, state="IDLE", score=-5.0))  # 138..140: too late
    assert [i.component_id for i in later] == ["filler", "capper"]


def test_a_stuck_visit_that_waited_for_its_neighbour_is_re_rooted() -> None:
    """The clamp stays closed around a slow filling: its stuck row comes first, yet the
    filling inside it is the cause."""
    incidents = run(
        quiet(0, 20, comp="lonely"),
        anomaly(26, "clamp", "clamp_time", 26.0, "stuck", state="CLOSED", upper=25.0),  # closed at 0
        flagged(40, "filler", "fill_time", 38.0, state="FILL"),  # 2..40 s: inside the clamp's visit
        flagged(42, "clamp", "clamp_time", 42.0, state="CLOSED", upper=25.0),
        quiet(50, 200, comp="lonely"),
    )
    [inc] = incidents
    assert (inc.component_id, inc.metrics, inc.kind) == ("filler", ("fill_time",), "limits")
    assert inc.effects == ("clamp.clamp_time",) and inc.effect_anomalies == 2
    assert seconds(inc.opened) == 26.0 and inc.cause == "fill_time 38 s above 20"


def test_without_knock_on_every_component_has_its_own_incidents() -> None:
    tracker = IncidentTracker(IncidentConfig(hold_s=60.0, knock_on=False), TOPOLOGY)
    incidents = run(flagged(100, "filler", "fill_time", 40.0, state="FILL"),
                    flagged(105, "infeed_a", "run_time", 44.0, upper=15.0), tracker=tracker)
    assert [i.component_id for i in incidents] == ["filler", "infeed_a"]


# ---------------------------------------------------------------------- faults
def test_a_fault_opens_at_once_and_holds_what_it_causes_until_it_ends() -> None:
    nan = math.nan
    events: list[tuple[str, int, str]] = []
    tracker = IncidentTracker(CONFIG, TOPOLOGY)
    tracker.listener = lambda change, inc, a: events.append((change, inc.id, a.rule if a else ""))
    start = Anomaly(10 * S, "filler", "JAM", 0.0, "s", "JAM", nan, nan, nan, nan, "fault")
    end = Anomaly(610 * S, "filler", "JAM", 600.0, "s", "JAM", nan, nan, nan, nan, "fault_end")
    rows, found = block([row(5, "lonely"), start])
    assert tracker.step(rows, found, ordered=True) == []
    [open_] = tracker.open_incidents()
    assert (open_.kind, open_.closed, open_.cause) == ("fault", None, "fault: JAM (still in it)")
    assert events == [("opened", 1, "fault")]
    [inc] = run(
        anomaly(300, "infeed_a", "run_time", 295.0, "stuck", upper=15.0),  # blocked, 1 hop
        quiet(310, 600, comp="lonely"),
        end,
        flagged(611, "infeed_a", "run_time", 601.0, upper=15.0),  # the stuck visit ends
        flagged(612, "capper", "idle_time", 590.0, state="IDLE", upper=30.0),  # starved, 2 hops on
        flagged(650, "filler", "fill_time", 40.0, state="FILL"),  # its own component, after: joins
        quiet(710, 900, comp="lonely"),
        tracker=tracker,
    )
    assert (inc.kind, inc.anomalies, inc.effect_anomalies) == ("fault", 3, 3)
    assert inc.effects == ("infeed_a.run_time", "capper.idle_time") and inc.metrics == ("JAM", "fill_time")
    assert inc.peak is end and inc.cause == "fault: JAM for 600 s"
    assert (seconds(inc.opened), seconds(inc.closed)) == (10.0, 650.0)
    assert events[-1] == ("closed", 1, "")


# ------------------------------------------------------------------ lost lines
def test_a_visit_that_ended_in_a_jump_over_lost_lines_is_a_data_incident() -> None:
    [inc] = run(
        quiet(0, 20, comp="lonely"),
        anomaly(30, "infeed_a", "run_time", 30.0, "stuck", upper=15.0),
        row(60, "infeed_a", "run_time", 60.0),  # left by a jump: the stop line was lost
        anomaly(60, "infeed_a", "run_time", 60.0, upper=15.0),
        row(60, "infeed_a", "wait_time", 0.0, "WAIT:inferred"),
        quiet(70, 200, comp="lonely"),
    )
    assert inc.kind == "lost_lines" and "lost log lines" in inc.cause


# --------------------------------------------------------- resume anywhere
def _stream(seed: int) -> list[list[Item]]:
    """A shift with every kind of incident; times go back here and there."""
    import random

    rnd = random.Random(seed)
    groups: list[list[Item]] = []
    t = 0.0
    comps = list(NEAR)
    for _ in range(120):
        t += rnd.choice([3.0, 7.0, 20.0, 45.0, -2.0])
        comp = rnd.choice(comps)
        pick = rnd.random()
        if pick < 0.6:
            groups.append([row(t, comp, "idle_time", 5.0, "IDLE")])
        elif pick < 0.8:
            groups.append(flagged(t, comp, rnd.choice(["run_time", "idle_time"]), rnd.uniform(0.5, 80.0)))
        elif pick < 0.87:
            groups.append([anomaly(t, comp, "run_time", 25.0, "stuck", upper=20.0)])
        elif pick < 0.93:
            groups.append(flagged(t, comp, "run_time", 12.0, "ewma", score=3.7))
        else:
            groups.append([Anomaly(int(t * S), "filler", "JAM", 0.0, "s", "JAM", 1.0, 0.0, 2.0, 0.0,
                                   rnd.choice(["fault", "fault_end"]))])
    return groups


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), cuts=st.lists(st.floats(0.0, 1.0), max_size=4))
def test_cut_anywhere_and_resumed_from_json_the_incidents_are_the_same(seed: int, cuts: list[float]) -> None:
    groups = _stream(seed)
    whole = IncidentTracker(CONFIG, TOPOLOGY)
    expected = run(*groups, tracker=whole)
    bounds = sorted({0, len(groups), *(int(c * len(groups)) for c in cuts)})
    closed: list[Incident] = []
    state = IncidentTracker(CONFIG, TOPOLOGY).to_dict()
    for a, b in itertools.pairwise(bounds):
        tracker = IncidentTracker(CONFIG, TOPOLOGY)
        tracker.restore(json.loads(json.dumps(state)))
        rows, found = block([x for g in groups[a:b] for x in g])
        closed += tracker.step(rows, found, ordered=_ordered(rows))
        state = tracker.to_dict()
    tracker = IncidentTracker(CONFIG, TOPOLOGY)
    tracker.restore(state)
    got = closed + tracker.open_incidents()
    assert [_comparable(i) for i in got] == [_comparable(i) for i in expected]
    assert len(expected) >= 3


def _comparable(inc: Incident) -> tuple[object, ...]:
    return tuple(json.dumps(list(inc.peak)) if isinstance(x, Anomaly) else x for x in inc)


def test_a_state_of_another_version_is_refused() -> None:
    tracker = IncidentTracker(CONFIG, TOPOLOGY)
    state = tracker.to_dict()
    state["schema_version"] = 99
    try:
        tracker.restore(state)
    except ValueError as exc:
        assert "schema_version" in str(exc)
    else:
        raise AssertionError("a state of an unknown version was taken")
