"""logloom simulate on its own: determinism, the log's text, the truth's form and content,
the injected anomalies and the option errors.

The oracles here are independent of the simulator's truth tracker: they rebuild what
they check from the log text and the config files.
"""

from __future__ import annotations

import csv
import math
import re
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from logloom.config.load import load_config
from logloom.parse.log_parser import LineParser
from logloom.records import Event
from logloom.simulator import SimOptions, parse_anomalies, side_paths, simulate, simulate_command
from logloom.simulator.texts import Clock

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} ")
EPOCH = datetime(1970, 1, 1)
LOGIC = yaml.safe_load((CONFIG / "process_logic.yaml").read_text())


def _options(**changes: object) -> SimOptions:
    return replace(SimOptions(config_dir=CONFIG, cycles=60), **changes)  # type: ignore[arg-type]


def _run(tmp: Path, name: str = "sim.log", **changes: object) -> Path:
    out = tmp / name
    simulate(out, _options(**changes))
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _truth(out: Path) -> list[dict[str, str]]:
    return _csv(side_paths(out)[0])


def _anomalies(out: Path, *, consequences: bool = False) -> list[dict[str, str]]:
    rows = _csv(side_paths(out)[1])
    return rows if consequences else [r for r in rows if r["kind"] != "consequence"]


def _metric_defs() -> dict[tuple[str, str], tuple[str, dict[str, object]]]:
    """(machine type, metric name) -> (state, definition), from the config file itself."""
    defs = {}
    for machine, body in LOGIC["machines"].items():
        for state, state_body in body["states"].items():
            for metric in (state_body or {}).get("metrics", []):
                defs[(machine, metric["name"])] = (state, metric)
    return defs


def _types() -> dict[str, str]:
    graph = yaml.safe_load((CONFIG / "machine_graph.yaml").read_text())
    return {c["id"]: c["type"] for c in graph["components"]}


def _events(out: Path) -> list[Event | None]:
    parser = LineParser(load_config(CONFIG).patterns)
    with out.open(encoding="utf-8", errors="replace", newline="\n") as handle:
        parsed = [parser.parse(line.rstrip("\n"), n) for n, line in enumerate(handle, 1)]
    return [e if isinstance(e, Event) else None for e in parsed]


def _stamp(text: str) -> int:
    """A log or CSV timestamp as integer milliseconds of wall-clock time."""
    return (datetime.fromisoformat(text.replace(" ", "T")) - EPOCH) // timedelta(milliseconds=1)


# -- determinism ------------------------------------------------------------------

OPTION_MIXES = st.fixed_dictionaries({
    "seed": st.integers(-(2**40), 2**40),
    "cycles": st.integers(1, 40),
    "noise": st.sampled_from([0.0, 0.1, 0.4]),
    "sparse": st.sampled_from([0.0, 0.5]),
    "drop": st.sampled_from([0.0, 0.1]),
    "garbage": st.sampled_from([0.0, 0.05]),
    "disorder": st.sampled_from([0.0, 0.1]),
    "faults": st.sampled_from([0.0, 0.1]),
    "random_spikes": st.sampled_from([0.0, 0.05]),
    "consequences": st.booleans(),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPTION_MIXES)
def test_same_seed_gives_the_same_bytes(mix: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        first = _run(Path(tmp), "a.log", **mix)
        second = _run(Path(tmp), "b.log", **mix)
        for one, two in zip((first, *side_paths(first)), (second, *side_paths(second)),
                            strict=True):
            assert one.read_bytes() == two.read_bytes()


def test_another_seed_gives_another_log(tmp_path: Path) -> None:
    one = _run(tmp_path, "a.log", seed=1)
    two = _run(tmp_path, "b.log", seed=2)
    assert one.read_bytes() != two.read_bytes()


# -- the log ------------------------------------------------------------------------

@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
       st.lists(st.integers(0, 10**11), min_size=1, max_size=20))
def test_clock_text_is_the_datetime_text(start: datetime, offsets: list[int]) -> None:
    start = start.replace(microsecond=start.microsecond // 1000 * 1000)
    clock = Clock(start)
    for ms in offsets:  # in any order: lines may go back in time
        moment = start + timedelta(milliseconds=ms)
        assert clock.iso(ms) == moment.isoformat()
        assert clock.log(ms) == moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment:%f}"[:3]


def test_lines_option_writes_exactly_that_many_lines(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=None, lines=1234, noise=0.2, garbage=0.05)
    assert out.read_bytes().count(b"\n") == 1234


def test_every_event_line_reads_as_an_event_and_noise_as_nothing(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=200, noise=0.25, faults=0.05)
    texts = out.read_text(encoding="utf-8").splitlines()
    events = _events(out)
    assert all(STAMP.match(text) for text in texts)
    noise = [t for t, e in zip(texts, events, strict=True) if e is None]
    assert all(" [DEBUG] " in t or "Operator" in t or "temperature" in t or "OPC-UA" in t
               for t in noise)
    assert 0.2 < len(noise) / len(texts) < 0.3
    kinds = {e.event for e in events if isinstance(e, Event)}
    assert {"FAULT", "RESET", "PROCESS_END", "CONVEYOR_START", "CLAMP_PRESSURE"} <= kinds


def test_stations_work_concurrently(tmp_path: Path) -> None:
    events = [e for e in _events(_run(tmp_path, cycles=20)) if isinstance(e, Event)]
    dispensing: set[str] = set()
    overlaps = 0
    for event in events:
        if event.event == "PROCESS_START":
            dispensing.add(str(event.target))
            overlaps += len(dispensing) > 1
        elif event.event == "PROCESS_END":
            dispensing.discard(str(event.target))
    assert overlaps > 5


def test_garbage_lines_have_no_timestamp_and_invalid_utf8(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=100, garbage=0.1)
    lines = out.read_bytes().split(b"\n")[:-1]
    garbage = [line for line in lines if not STAMP.match(line.decode("latin-1"))]
    assert 0.05 < len(garbage) / len(lines) < 0.15
    undecodable = 0
    for line in garbage:
        assert b"\r" not in line and not line[:1].isdigit()
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > len(garbage) / 2


def test_disorder_writes_timestamps_out_of_order(tmp_path: Path) -> None:
    ordered = [_stamp(t[:23]) for t in _run(tmp_path, "a.log").read_text().splitlines()]
    assert ordered == sorted(ordered)
    shuffled = [_stamp(t[:23]) for t in _run(tmp_path, "b.log", disorder=0.2).read_text()
                .splitlines()]
    assert shuffled != sorted(shuffled)


def test_sparse_lines_appear_only_where_fifo_picks_the_finisher(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=300, sparse=0.7)
    finished_by = {(r["timestamp"], r["component_id"]) for r in _truth(out)
                   if r["metric_name"] == "process_cycle_time"}
    entered: dict[str, int] = {}  # dispensers now dispensing -> when they started
    sparse = 0
    for event in _events(out):
        if not isinstance(event, Event):
            continue
        name = event.target
        if event.event == "PROCESS_START":
            entered[str(name)] = event.ts
        elif event.event in ("PROCESS_END", "FAULT"):
            if name is None:
                sparse += 1
                name = min(entered, key=lambda n: entered[n])  # first in, first out
                station = {"L1": "l1_dispenser", "L2": "l2_dispenser"}[name]
                assert (_iso(event.ts), station) in finished_by
            entered.pop(str(name), None)
    assert sparse > 100


def _iso(ts_us: int) -> str:
    """An Event's wall-clock microseconds as the CSVs write them."""
    return (EPOCH + timedelta(microseconds=ts_us)).isoformat()


# -- the truth ------------------------------------------------------------------------

def test_truth_rows_have_the_metrics_schema_and_the_configs_units(tmp_path: Path) -> None:
    out = _run(tmp_path, faults=0.1, sparse=0.3)
    header = side_paths(out)[0].read_text().splitlines()[0]
    assert header == "timestamp,component_id,metric_name,value,unit,state_context"
    defs, types = _metric_defs(), _types()
    rows = _truth(out)
    assert rows
    for row in rows:
        assert datetime.fromisoformat(row["timestamp"]).isoformat() == row["timestamp"]
        assert repr(round(float(row["value"]), 6)) == row["value"]
        state, metric = defs[(types[row["component_id"]], row["metric_name"])]
        assert row["state_context"] == state
        default = {"duration": "s", "count": "count", "value": ""}[str(metric["type"])]
        assert row["unit"] == metric.get("unit", default)


def test_durations_are_the_gaps_between_the_log_lines(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=100)
    started: dict[str, int] = {}
    expected = []
    for event in _events(out):
        if isinstance(event, Event) and event.target == "L2":
            if event.event == "PROCESS_START":
                started["L2"] = event.ts
            elif event.event == "PROCESS_END":
                expected.append((_iso(event.ts), repr((event.ts - started["L2"]) / 1e6)))
    got = [(r["timestamp"], r["value"]) for r in _truth(out)
           if r["component_id"] == "l2_dispenser" and r["metric_name"] == "process_cycle_time"]
    assert got == expected and len(got) == 100


def test_a_first_visit_writes_no_duration(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=30)
    starts = sum(1 for e in _events(out) if isinstance(e, Event) and e.event == "CONVEYOR_START"
                 and e.target == "CONV1")
    idle = [r for r in _truth(out) if r["component_id"] == "conv_in"
            and r["state_context"] == "IDLE"]
    assert starts == 30 and len(idle) == starts - 1


def test_changing_the_config_changes_the_truth(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    logic = yaml.safe_load((config / "process_logic.yaml").read_text())
    metrics = logic["machines"]["dispenser"]["states"]["DISPENSING"]["metrics"]
    for metric in metrics:
        if metric["name"] == "process_cycle_time":
            metric["unit"] = "sec"
        if metric["name"] == "dispense_pressure":
            metric["agg"] = "max"
    (config / "process_logic.yaml").write_text(yaml.safe_dump(logic, sort_keys=False))
    out = _run(tmp_path, config_dir=config, cycles=40)
    readings: list[float] = []
    maxima = []
    for event in _events(out):
        if isinstance(event, Event) and event.target == "L1":
            if event.event == "PROCESS_START":
                readings = []
            elif event.event == "DISPENSE_PRESSURE":
                readings.append(event.fields["pressure"])
            elif event.event == "PROCESS_END":
                maxima.append(repr(round(max(readings), 6)))
    rows = [r for r in _truth(out) if r["component_id"] == "l1_dispenser"]
    assert {r["unit"] for r in rows if r["metric_name"] == "process_cycle_time"} == {"sec"}
    assert [r["value"] for r in rows if r["metric_name"] == "dispense_pressure"] == maxima


# -- anomalies ----------------------------------------------------------------------------

def _series(out: Path, component: str, metric: str) -> list[tuple[str, float]]:
    return [(r["timestamp"], float(r["value"])) for r in _truth(out)
            if r["component_id"] == component and r["metric_name"] == metric]


@pytest.mark.parametrize(
    ("spec", "component", "metric", "cycle", "factor"),
    [
        ("spike:l1_dispenser.process_cycle_time@20x1.6", "l1_dispenser",
         "process_cycle_time", 20, 1.6),
        ("spike:l2_dispenser.process_cycle_time@33x0.45", "l2_dispenser",
         "process_cycle_time", 33, 0.45),
        ("stuck:l1_clamp.CLOSED@30x20", "l1_clamp", "clamp_time", 30, 20.0),
        ("spike:conv_transfer.transport_time@7x2", "conv_transfer", "transport_time", 7, 2.0),
        ("spike:l1_dispenser.dispensed_volume@10x1.3", "l1_dispenser", "dispensed_volume", 10, 1.3),
    ],
)
def test_a_spike_scales_one_visit_and_is_listed(tmp_path: Path, spec: str, component: str,
                                               metric: str, cycle: int, factor: float) -> None:
    injections, _ = parse_anomalies([spec])
    plain = _series(_run(tmp_path, "plain.log"), component, metric)
    out = _run(tmp_path, "spiked.log", injections=injections)
    spiked = _series(out, component, metric)
    index = cycle - 1  # one row per cycle: none of these states is a first, unseen visit
    # durations are whole milliseconds, values hundredths, both rounded after scaling
    assert spiked[index][1] == pytest.approx(plain[index][1] * factor, abs=0.012)
    others = [v for i, (_, v) in enumerate(spiked) if i != index]
    assert others == [v for i, (_, v) in enumerate(plain) if i != index]
    listed = _anomalies(out, consequences=True)
    assert [(a["timestamp"], a["component_id"], a["metric_name"], float(a["factor"]))
            for a in listed] == [(spiked[index][0], component, metric, factor)]


def test_drift_lists_every_visit_with_its_growing_factor(tmp_path: Path) -> None:
    injections, _ = parse_anomalies(["drift:l2_dispenser.process_cycle_time@50+0.01"])
    plain = _series(_run(tmp_path, "plain.log", cycles=80), "l2_dispenser", "process_cycle_time")
    out = _run(tmp_path, "drift.log", cycles=80, injections=injections)
    drifted = _series(out, "l2_dispenser", "process_cycle_time")
    listed = _anomalies(out)
    assert [float(a["factor"]) for a in listed] == [
        pytest.approx(1 + 0.01 * k) for k in range(1, 32)
    ]
    assert {a["kind"] for a in listed} == {"drift"}
    for row, (stamp, value), (_, before) in zip(listed, drifted[49:], plain[49:], strict=True):
        assert row["timestamp"] == stamp
        assert value == pytest.approx(before * float(row["factor"]), abs=0.001)
    assert [v for _, v in drifted[:49]] == [v for _, v in plain[:49]]


def _differing_rows(tmp: Path, specs: str, **mix: object) -> tuple[dict[tuple[str, str, str],
                                                                        float], Path]:
    """Rows that differ between a run with ``specs`` and one with only their faults."""
    injections, rate = parse_anomalies([specs])
    faults_only = tuple(i for i in injections if i.kind == "fault")
    plain = _truth(_run(tmp, "plain.log", injections=faults_only, **mix))
    out = _run(tmp, "disturbed.log", injections=injections, random_spikes=rate,
               consequences=True, **mix)
    disturbed = _truth(out)
    by_component: dict[str, list[dict[str, str]]] = {}
    for row in plain:
        by_component.setdefault(row["component_id"], []).append(row)
    differing = {}
    for row in disturbed:
        before = by_component[row["component_id"]].pop(0)
        assert before["metric_name"] == row["metric_name"]
        if before["value"] != row["value"]:
            ratio = float(row["value"]) / float(before["value"])
            differing[(row["timestamp"], row["component_id"], row["metric_name"])] = ratio
    return differing, out


def test_consequences_are_the_rows_that_differ_from_the_undisturbed_run(tmp_path: Path) -> None:
    differing, out = _differing_rows(
        tmp_path,
        "spike:l1_dispenser.process_cycle_time@20x2.0,stuck:l1_clamp.CLOSED@40x10,"
        "drift:l2_dispenser.process_cycle_time@60+0.01,spike:l2_dispenser.dispensed_volume@30x1.3,"
        "spike:conv_in.transport_time@50x0.45,random-spikes:0.02,fault:l2_dispenser@10",
        cycles=100, faults=0.03,
    )
    listed = [a for a in _anomalies(out, consequences=True) if a["kind"] != "fault"]
    assert {(a["timestamp"], a["component_id"], a["metric_name"]) for a in listed} == set(differing)
    consequences = [a for a in listed if a["kind"] == "consequence"]
    assert len(consequences) > 50
    for row in consequences:
        key = (row["timestamp"], row["component_id"], row["metric_name"])
        assert float(row["factor"]) == pytest.approx(differing[key], abs=1e-6)


SPECS = ["spikes", "drift", "stuck:l1_clamp.CLOSED@7x5", "spike:l2_dispenser.wait_time@9x0.45",
         "spike:conv_transfer.transport_time@11x2", "random-spikes:0.05",
         "random-spikes:unclamp_time:0.1", "spike:l1_clamp.clamp_pressure@5x1.2",
         "fault:l1_dispenser@6", "drift:l1_clamp.clamp_time@3-0.02",
         "drift:l1_dispenser.dispense_pressure@3+0.01", "spike:l1_dispenser.UNCLAMPING@8x0.4"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SPECS), min_size=1, max_size=5, unique=True),
       st.integers(0, 2**32), st.sampled_from([0.0, 0.1]), st.sampled_from([0.0, 0.1]))
# At cycle 27 the clamp's drift reaches 0.5 and a random spike doubles it: the visit is
# undisturbed and must not be listed.
@example(specs=["spikes", "drift", "random-spikes:0.05", "drift:l1_clamp.clamp_time@3-0.02"],
         seed=511, drop=0.0, faults=0.0)
def test_anomalies_csv_lists_exactly_the_changed_rows(specs: list[str], seed: int, drop: float,
                                                      faults: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        differing, out = _differing_rows(Path(tmp), ",".join(specs), cycles=40, seed=seed,
                                         drop=drop, faults=faults)
        listed = {(a["timestamp"], a["component_id"], a["metric_name"])
                  for a in _anomalies(out, consequences=True) if a["kind"] != "fault"}
        assert listed == set(differing)


@pytest.mark.parametrize(
    ("specs", "seed"),
    [
        # cycle 27: the drift has reached 1 - 0.02 * 25 = 0.5, the spike doubles that
        ("drift:l1_clamp.clamp_time@3-0.02,spike:l1_clamp.clamp_time@27x2.0", 0),
        ("drift:l1_clamp.clamp_pressure@3-0.02,spike:l1_clamp.clamp_pressure@27x2.0", 0),
        # a lower reading changes, the max (clamp_pressure's agg) does not
        ("drift:l2_clamp.clamp_pressure@2-0.0005", 2),
        # changes below the written hundredth, below the millisecond
        ("drift:l1_dispenser.dispensed_volume@2+0.0001", 0),
        ("drift:conv_in.transport_time@2+0.00001", 0),
    ],
)
def test_a_change_the_line_hides_is_not_listed(tmp_path: Path, specs: str, seed: int) -> None:
    differing, out = _differing_rows(tmp_path, specs, cycles=40, seed=seed)
    listed = _anomalies(out, consequences=True)
    assert {(a["timestamp"], a["component_id"], a["metric_name"]) for a in listed} \
        == set(differing)
    assert 0 < len([a for a in listed if a["kind"] == "drift"]) < 39
    assert "2.0" not in {a["factor"] for a in listed}


def test_listing_consequences_changes_nothing_else(tmp_path: Path) -> None:
    injections, rate = parse_anomalies(["spikes,drift,fault:l1_dispenser@9"])
    mix = {"faults": 0.05, "drop": 0.05, "sparse": 0.5, "injections": injections,
           "random_spikes": rate}
    without = _run(tmp_path, "a.log", **mix)
    with_them = _run(tmp_path, "b.log", consequences=True, **mix)
    assert without.read_bytes() == with_them.read_bytes()
    assert side_paths(without)[0].read_bytes() == side_paths(with_them)[0].read_bytes()
    assert _anomalies(without) == _anomalies(with_them)
    assert len(_anomalies(with_them, consequences=True)) > len(_anomalies(with_them))


def test_a_fault_episode_writes_downtime_and_is_listed(tmp_path: Path) -> None:
    injections, _ = parse_anomalies(["fault:l1_dispenser@5"])
    out = _run(tmp_path, cycles=10, injections=injections)
    text = out.read_text()
    assert text.count("FAULT at L1") == 1 and text.count("Reset at L1 by operator") == 1
    downtime = [r for r in _truth(out) if r["metric_name"] == "downtime"]
    assert len(downtime) == 1 and downtime[0]["state_context"] == "ERROR"
    assert float(downtime[0]["value"]) > 10
    kinds = {(a["metric_name"], a["kind"], a["timestamp"]) for a in _anomalies(out)}
    assert ("downtime", "fault", downtime[0]["timestamp"]) in kinds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("spikes", {("l1_dispenser", "process_cycle_time"), ("l2_dispenser", "process_cycle_time")}),
        ("random-spikes:clamp_time:0.1", {("l1_clamp", "clamp_time"), ("l2_clamp", "clamp_time")}),
        ("random-spikes:conv_in.MOVING:0.1", {("conv_in", "transport_time")}),
    ],
)
def test_random_spikes_hit_the_metrics_named(tmp_path: Path, spec: str,
                                             expected: set[tuple[str, str]]) -> None:
    injections, rate = parse_anomalies([spec])
    out = _run(tmp_path, cycles=200, injections=injections, random_spikes=rate)
    listed = _anomalies(out)
    assert {(a["component_id"], a["metric_name"]) for a in listed} == expected
    factors = {float(a["factor"]) for a in listed}
    assert factors <= {0.45, 1.6, 2.0}
    if "clamp" in spec:
        assert factors <= {1.6, 2.0}  # a clamp's CLOSED holds the dispensing: it only grows


def test_random_faults_and_spikes_have_their_own_streams(tmp_path: Path) -> None:
    out = _run(tmp_path, cycles=300, faults=0.05, random_spikes=0.02)
    text = out.read_text()
    assert 5 < text.count("[ERROR] FAULT at") == text.count("by operator")
    assert any(a["kind"] == "spike" for a in _anomalies(out))


# -- option errors --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cycles", "0"], "--cycles"),
        (["--cycles", "5", "--lines", "5"], "not both"),
        (["--noise", "1.5"], "--noise"),
        (["--noise", "0.5", "--garbage", "0.5"], "at most 0.9"),
        (["--start", "yesterday"], "ISO"),
        (["--start", "2026-01-21T06:00:00+01:00"], "naive"),
        (["--anomalies", "spike:l1_dispenser"], "not an anomaly"),
        (["--anomalies", "spike:l9_dispenser.process_cycle_time@3x2"], "unknown component"),
        (["--anomalies", "spike:l1_dispenser.idle_time@3x2"], "follows from the rest"),
        (["--anomalies", "spike:l1_dispenser.retries@3x2"], "count"),
        (["--anomalies", "drift:l1_dispenser.process_cycle_time@3x2"], "drift:"),
        (["--anomalies", "fault:l1_clamp@3"], "only dispensers"),
        (["--anomalies", "random-spikes:idle_time:0.1"], "follows from the rest"),
        (["--anomalies", "random-spikes:nothing:0.1"], "no component has"),
        (["--anomalies", "random-spikes:1.5"], "[0, 1]"),
        (["--anomalies", "stuck:l1_clamp.CLOSED@3x0.5"], "lengthened"),
        (["--anomalies", "spike:l1_dispenser.process_cycle_time@300x2"], "past --cycles"),
        (["--config", "nowhere"], "cannot read"),
    ],
)
def test_bad_options_exit_2_with_one_message(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    result = CliRunner().invoke(simulate_command, ["--out", str(tmp_path / "x.log"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unmodelled_component_type_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    graph = (config / "machine_graph.yaml").read_text()
    (config / "machine_graph.yaml").write_text(graph.replace("type: clamp", "type: robot", 1))
    result = CliRunner().invoke(simulate_command, ["--out", str(tmp_path / "x.log"),
                                                   "--config", str(config)])
    assert result.exit_code == 2
    assert "'robot'" in result.output and "conveyor, clamp, dispenser" in result.output


def test_patterns_that_would_misread_a_line_are_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    patterns = (config / "log_patterns.yaml").read_text()
    (config / "log_patterns.yaml").write_text(patterns.replace("Clamp opened at", "Clamp open at"))
    result = CliRunner().invoke(simulate_command, ["--out", str(tmp_path / "x.log"),
                                                   "--config", str(config)])
    assert result.exit_code == 2
    assert "Clamp opened at L1" in result.output and "CLAMP_OPEN" in result.output


def test_the_command_reports_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "demo.log"
    result = CliRunner().invoke(simulate_command, ["--out", str(out), "--cycles", "3",
                                                   "--config", str(CONFIG)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().count("\n")
    assert f"{lines} lines" in result.output
    assert all(p.exists() for p in side_paths(out))
    quiet = CliRunner().invoke(simulate_command, ["--out", str(out), "--cycles", "3", "--quiet",
                                                  "--config", str(CONFIG)])
    assert quiet.exit_code == 0 and quiet.output == ""


def test_summary_counts_match_the_files(tmp_path: Path) -> None:
    out = tmp_path / "s.log"
    summary = simulate(out, _options(noise=0.2, garbage=0.05, drop=0.1, sparse=0.5))
    assert summary.lines == out.read_bytes().count(b"\n")
    assert summary.lines == summary.event_lines + summary.noise_lines + summary.garbage_lines
    assert summary.truth_rows == len(_truth(out))
    assert summary.affected_rows == len(_csv(side_paths(out)[2])) > 0
    assert summary.dropped_lines > 0 and summary.pallets == 60
    assert math.isclose(summary.noise_lines / summary.lines, 0.2, abs_tol=0.05)
