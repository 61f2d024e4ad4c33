"""Hand-computed cases for every rule of SPEC 4 (expected values worked out by hand)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from logloom.config.load import load_config
from logloom.engine.engine import Engine
from logloom.parse.log_parser import LineParser
from logloom.records import Event, MetricRow
from tests.helpers import ROOT

RULES = ROOT / "tests" / "fixtures" / "rules_config"
DAY = "2026-01-21 "


def run(lines: list[str], config_dir: Path = RULES, *, strict: bool = False) -> tuple[list[MetricRow], Engine]:
    config = load_config(config_dir)
    parser = LineParser(config.patterns)
    engine = Engine(config, strict=strict)
    rows: list[MetricRow] = []
    for i, line in enumerate(lines, 1):
        ev = parser.parse(line, i)
        assert isinstance(ev, Event), (line, ev)
        rows.extend(engine.step(ev))
    return rows, engine


def table(rows: list[MetricRow]) -> list[tuple[str, str, float, str]]:
    return [(r.component_id, r.metric_name, r.value, r.state_context) for r in rows]


def at(clock: str, text: str) -> str:
    return f"{DAY}{clock} {text}"


def test_fifo_routes_a_sparse_line_to_the_component_that_entered_earliest() -> None:
    rows, engine = run([
        at("10:00:00", "arrive L2"), at("10:00:01", "arrive L1"),
        at("10:00:02", "start L2"),  # d2 DISPENSING since :02
        at("10:00:05", "start L1"),  # d1 DISPENSING since :05
        at("10:00:20", "end"),       # both can take END: d2 entered first
        at("10:00:30", "end"),       # only d1 is left
    ])
    cycles = [(r.component_id, r.value) for r in rows if r.metric_name == "cycle_time"]
    assert cycles == [("d2", 18.0), ("d1", 25.0)]
    assert engine.by_id["d1"].state == engine.by_id["d2"].state == "DONE"


def test_a_component_that_has_not_moved_counts_as_earliest() -> None:
    _, engine = run([at("10:00:00", "arrive L1"), at("10:00:05", "FAULT")])
    # d1 moved at 10:00:00, d2 never moved: the wildcard FAULT goes to d2 (graph order tie-break irrelevant)
    assert engine.by_id["d2"].state == "ERROR"
    assert engine.by_id["d1"].state == "READY"


def test_ties_go_to_graph_order() -> None:
    _, engine = run([at("10:00:00", "FAULT")])
    assert engine.by_id["d1"].state == "ERROR"
    assert engine.by_id["d2"].state == "IDLE"


def test_data_only_event_goes_to_the_most_recent_transition() -> None:
    rows, engine = run([
        at("10:00:00", "arrive L1"), at("10:00:01", "start L1"),
        at("10:00:02", "arrive L2"), at("10:00:03", "start L2"),  # d2 moved last
        at("10:00:04", "volume=7.5"),                             # sparse data-only: d2
        at("10:00:10", "end at L2"), at("10:00:11", "end at L1"),
    ])
    assert ("d2", "vol_last", 7.5, "DISPENSING") in table(rows)
    assert not [r for r in rows if r.component_id == "d1" and r.metric_name.startswith("vol")]
    assert engine.by_id["d2"].counters["data_only"] == 1


def test_unrouted_when_no_component_can_take_the_event() -> None:
    _, engine = run([at("10:00:00", "end")])  # nobody is DISPENSING
    assert engine.counters["unrouted"] == 1


def test_unknown_target() -> None:
    _, engine = run([at("10:00:00", "arrive L9")])
    assert engine.counters["unknown_target"] == 1


def test_guard_blocked_keeps_the_state(make_config: Callable[..., Path]) -> None:
    def no_infer(docs: dict) -> None:
        docs["process_logic.yaml"]["events"].pop("ARRIVE")

    rows, engine = run([at("10:00:00", "arrive L1"), at("10:00:05", "start L1")], make_config(RULES, edit=no_infer))
    d1 = engine.by_id["d1"]
    assert d1.state == "READY" and d1.counters["guard_blocked"] == 1
    assert [r for r in rows if r.metric_name == "wait_time"] == []


def test_jump_writes_inferred_rows_in_order() -> None:
    # d1 IDLE since 10:00:00 (seen through a reset), then END arrives for it directly:
    # IDLE -ARRIVE-> READY -START-> DISPENSING -END-> DONE, two synthesised steps.
    rows, engine = run([
        at("10:00:00", "fault L1"), at("10:00:02", "reset L1"),
        at("10:00:12", "end at L1"),
    ])
    # no value/count rows for the synthesised DISPENSING
    assert table(rows) == [
        ("d1", "downtime", 2.0, "ERROR"),
        ("d1", "idle_time", 10.0, "IDLE"),
        ("d1", "wait_time", 0.0, "READY:inferred"),
        ("d1", "cycle_time", 0.0, "DISPENSING:inferred"),
    ]
    assert all(r.ts == rows[-1].ts for r in rows[1:])
    d1 = engine.by_id["d1"]
    assert d1.state == "DONE" and d1.counters["jumps"] == 1 and d1.counters["inferred_steps"] == 2
    assert d1.sensors["presence"] is True  # the synthesised ARRIVE inferred it


def test_a_jump_keeps_the_value_on_the_line_that_ends_it() -> None:
    # START lost: the END line's volume measures the DISPENSING visit it closes, a real
    # value although the visit's start (and so its duration) was lost.
    rows, engine = run([
        at("10:00:00", "fault L1"), at("10:00:02", "reset L1"),
        at("10:00:12", "end at L1 vol=2.5"),
    ])
    assert table(rows) == [
        ("d1", "downtime", 2.0, "ERROR"),
        ("d1", "idle_time", 10.0, "IDLE"),
        ("d1", "wait_time", 0.0, "READY:inferred"),
        ("d1", "cycle_time", 0.0, "DISPENSING:inferred"),
        *[("d1", f"vol_{agg}", 2.5, "DISPENSING") for agg in ("last", "first", "min", "max", "mean")],
    ]  # no count row (retries) for a synthesised visit
    assert engine.by_id["d1"].counters["missing_value"] == 0


def test_a_jump_without_the_value_counts_it_missing_on_the_visit_it_closes() -> None:
    _, engine = run([at("10:00:00", "fault L1"), at("10:00:02", "reset L1"), at("10:00:12", "end at L1")])
    assert engine.by_id["d1"].counters["missing_value"] == 5  # DISPENSING's five value metrics


def test_a_visit_a_jump_passes_through_writes_no_value_and_misses_none() -> None:
    # IDLE -ARRIVE-> READY -START-> DISPENSING -END-> DONE -RELEASE-> IDLE: DISPENSING
    # is neither left by a line nor closed by one; nothing of it was measured.
    rows, engine = run([at("10:00:00", "release L1")])
    assert table(rows) == [
        ("d1", "wait_time", 0.0, "READY:inferred"),
        ("d1", "cycle_time", 0.0, "DISPENSING:inferred"),
        ("d1", "unclamp_time", 0.0, "DONE:inferred"),
    ]  # IDLE's start was never seen: no idle_time
    assert engine.by_id["d1"].counters["missing_value"] == 0


def test_the_jumps_value_is_not_captured_on_the_stale_visit_it_leaves(make_config: Callable[..., Path]) -> None:
    def ready_reading(docs: dict) -> None:
        docs["process_logic.yaml"]["machines"]["dispenser"]["states"]["READY"]["metrics"].append(
            {"name": "ready_vol", "type": "value", "field": "volume"})

    config = make_config(RULES, edit=ready_reading)
    rows, engine = run([
        at("10:00:00", "arrive L1"), at("10:00:01", "vol L1 1.0"),  # a reading while READY
        at("10:00:05", "end at L1 vol=2.5"),                         # START lost
    ], config)
    assert table(rows)[:3] == [
        ("d1", "wait_time", 5.0, "READY"), ("d1", "ready_vol", 1.0, "READY"),
        ("d1", "cycle_time", 0.0, "DISPENSING:inferred"),
    ]
    assert ("d1", "vol_last", 2.5, "DISPENSING") in table(rows)
    rows, engine = run([at("10:00:00", "arrive L1"), at("10:00:05", "end at L1 vol=2.5")], config)
    assert [r for r in rows if r.metric_name == "ready_vol"] == []
    assert engine.by_id["d1"].counters["missing_value"] == 1  # READY's reading, not DISPENSING's


def test_a_refused_jump_keeps_the_value_on_the_current_visit(make_config: Callable[..., Path]) -> None:
    def idle_reading(docs: dict) -> None:
        docs["process_logic.yaml"]["machines"]["dispenser"]["states"]["IDLE"]["metrics"].append(
            {"name": "idle_vol", "type": "value", "field": "volume"})

    # strict: no jump, no change; the reading stays on the visit that was current
    rows, engine = run([at("10:00:00", "end at L1 vol=2.5"), at("10:00:01", "arrive L1")],
                       make_config(RULES, edit=idle_reading), strict=True)
    assert engine.by_id["d1"].counters["invalid_transition"] == 1
    assert table(rows) == [("d1", "idle_vol", 2.5, "IDLE")]


def test_max_jump_exceeded_is_invalid(make_config: Callable[..., Path]) -> None:
    def one_step(docs: dict) -> None:
        docs["process_logic.yaml"]["settings"]["max_jump"] = 1

    rows, engine = run([at("10:00:00", "end at L1")], make_config(RULES, edit=one_step))
    d1 = engine.by_id["d1"]
    assert rows == [] and d1.state == "IDLE" and d1.counters["invalid_transition"] == 1


def test_a_jump_never_passes_through_a_wildcard() -> None:
    # RESET only leaves ERROR, and ERROR is reached only through the "*" FAULT.
    rows, engine = run([at("10:00:00", "reset L1")])
    d1 = engine.by_id["d1"]
    assert rows == [] and d1.state == "IDLE" and d1.counters["invalid_transition"] == 1


def test_strict_refuses_jumps() -> None:
    rows, engine = run([at("10:00:00", "end at L1")], strict=True)
    assert rows == [] and engine.by_id["d1"].counters["invalid_transition"] == 1


def test_negative_duration_writes_no_row_but_transitions() -> None:
    rows, engine = run([
        at("10:00:00", "arrive L1"), at("10:00:10", "start L1"),
        at("10:00:15", "vol L1 3.0"),
        at("10:00:05", "end at L1"),  # earlier than the entry into DISPENSING
    ])
    d1 = engine.by_id["d1"]
    assert d1.state == "DONE" and d1.counters["negative_duration"] == 1
    assert not [r for r in rows if r.metric_name == "cycle_time"]
    assert ("d1", "vol_last", 3.0, "DISPENSING") in table(rows)


def test_unseen_first_visit_writes_no_duration() -> None:
    rows, _ = run([
        at("10:00:00", "close L1"),  # leaves OPEN, whose start was never seen
        at("10:00:04", "open L1"),
        at("10:00:10", "close L1"),
    ])
    assert table(rows) == [("c1", "clamp_time", 4.0, "CLOSED"), ("c1", "open_time", 6.0, "OPEN")]


def test_each_agg_over_captures_including_the_exit_line() -> None:
    rows, _ = run([
        at("10:00:00", "arrive L1"), at("10:00:01", "start L1"),
        at("10:00:02", "vol L1 3.0"), at("10:00:03", "vol L1 1.0"),
        at("10:00:04", "end vol=2.0"),  # captured before the exit
    ])
    got = {r.metric_name: r.value for r in rows}
    assert (got["vol_last"], got["vol_first"], got["vol_min"], got["vol_max"]) == (2.0, 3.0, 1.0, 3.0)
    assert got["vol_mean"] == 2.0


def test_count_metric_writes_zero_and_counts_the_visit_only() -> None:
    rows, _ = run([
        at("10:00:00", "arrive L1"), at("10:00:01", "retry L1"),  # not in DISPENSING yet
        at("10:00:02", "start L1"), at("10:00:05", "end at L1"),
        at("10:00:06", "release L1"), at("10:00:07", "arrive L1"), at("10:00:08", "start L1"),
        at("10:00:09", "retry L1"), at("10:00:10", "retry L1"), at("10:00:11", "end at L1"),
    ])
    assert [r.value for r in rows if r.metric_name == "retries"] == [0.0, 2.0]


def test_missing_value_writes_nothing_and_counts() -> None:
    rows, engine = run([at("10:00:00", "arrive L1"), at("10:00:01", "start L1"), at("10:00:05", "end at L1")])
    assert not [r for r in rows if r.metric_name.startswith("vol")]
    assert engine.by_id["d1"].counters["missing_value"] == 5


def test_self_transition_exits_and_reenters(make_config: Callable[..., Path]) -> None:
    def loop(docs: dict) -> None:
        docs["process_logic.yaml"]["machines"]["clamp"]["transitions"].append(
            {"from": "CLOSED", "event": "CLAMP_CLOSE", "to": "CLOSED"})

    rows, _ = run([at("10:00:00", "close L1"), at("10:00:03", "close L1")], make_config(RULES, edit=loop))
    assert table(rows) == [("c1", "clamp_time", 3.0, "CLOSED")]


def test_dst_change_with_a_timezone(make_config: Callable[..., Path]) -> None:
    def berlin(docs: dict) -> None:
        docs["log_patterns.yaml"]["timestamp"]["timezone"] = "Europe/Berlin"

    cfg = make_config(RULES, edit=berlin)
    # spring forward: 01:59 CET -> 03:01 CEST is 2 minutes of real time
    rows, _ = run(["2026-03-29 01:59:00 close L1", "2026-03-29 03:01:00 open L1"], cfg)
    assert table(rows) == [("c1", "clamp_time", 120.0, "CLOSED")]
    # fall back: 02:50 (first, CEST) then 02:10 again (second, CET) is 20 minutes later
    rows, _ = run(["2026-10-25 02:50:00 close L1", "2026-10-25 02:10:00 open L1"], cfg)
    assert table(rows) == [("c1", "clamp_time", 1200.0, "CLOSED")]


@pytest.mark.parametrize(("unit", "written"), [("ms", 3250.5), ("s", 3.2505), ("min", 0.054175), ("h", 0.000903)])
def test_a_duration_is_written_in_its_unit(unit: str, written: float, make_config: Callable[..., Path]) -> None:
    def in_unit(docs: dict) -> None:
        docs["process_logic.yaml"]["machines"]["clamp"]["states"]["CLOSED"]["metrics"][0]["unit"] = unit

    rows, _ = run([at("10:00:00", "close L1"), at("10:00:03.2505", "open L1")], make_config(RULES, edit=in_unit))
    # 3.2505 s; minutes and hours rounded to 6 decimals like every value
    assert [(r.value, r.unit) for r in rows] == [(written, unit)]


def test_a_duration_unit_must_be_a_time_unit(make_config: Callable[..., Path], run_cli) -> None:
    def seconds(docs: dict) -> None:
        docs["process_logic.yaml"]["machines"]["clamp"]["states"]["CLOSED"]["metrics"][0]["unit"] = "sec"

    code, _, err = run_cli("validate", "--config", make_config(RULES, edit=seconds))
    assert code == 2 and "process_logic.yaml" in err and "one of us, ms, s, min, h" in err
    assert "Traceback" not in err


def test_strptime_format_with_a_comma_fraction(make_config: Callable[..., Path]) -> None:
    def german(docs: dict) -> None:
        docs["log_patterns.yaml"]["timestamp"] = {
            "regex": r"^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d+)",
            "format": "%d.%m.%Y %H:%M:%S,%f",
        }

    rows, _ = run(["21.01.2026 10:00:00,250 close L1", "21.01.2026 10:00:01,5 open L1"],
                  make_config(RULES, edit=german))
    assert table(rows) == [("c1", "clamp_time", 1.25, "CLOSED")]


@pytest.mark.parametrize("stop_after", range(0, 12))
def test_state_dict_round_trip_continues_identically(stop_after: int) -> None:
    lines = [
        at("10:00:00", "arrive L1"), at("10:00:01", "start L1"), at("10:00:02", "vol L1 3.0"),
        at("10:00:03", "retry L1"), at("10:00:04", "arrive L2"), at("10:00:05", "start L2"),
        at("10:00:06", "end vol=2.5"), at("10:00:07", "close L1"), at("10:00:08", "release L1"),
        at("10:00:09", "end"), at("10:00:10", "FAULT"), at("10:00:11", "reset L2"),
    ]
    whole, _ = run(lines)
    config = load_config(RULES)
    parser = LineParser(config.patterns)
    first = Engine(config)
    rows = [r for i, line in enumerate(lines[:stop_after], 1) for r in first.step(parser.parse(line, i))]  # type: ignore[arg-type]
    second = Engine(config)
    second.load_state(first.state_dict())
    rows += [r for i, line in enumerate(lines[stop_after:], 1) for r in second.step(parser.parse(line, i))]  # type: ignore[arg-type]
    assert rows == whole
