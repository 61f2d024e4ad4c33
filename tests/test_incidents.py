"""Incidents end to end through the CLI, on a bottling line that is not the simulator's.

Two infeed conveyors feed one filler, which hands over to a capper; German
timestamps; fault states without any metric. A jam is one incident with what it
blocked and starved attached; the same line without ``next`` has no knock-on to
attach, so each component's symptoms stand alone.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

GRAPH = {
    "line": "bottling",
    "components": [
        {"id": "infeed_a", "type": "conveyor", "aliases": ["IN-A"], "next": ["filler"]},
        {"id": "infeed_b", "type": "conveyor", "aliases": ["IN-B"], "next": ["filler"]},
        {"id": "filler", "type": "filler", "aliases": ["FILLER"], "next": ["capper"]},
        {"id": "capper", "type": "capper", "aliases": ["CAPPER"]},
    ],
}
LOGIC = """
machines:
  conveyor:
    initial: WAITING
    states:
      WAITING: {metrics: [{name: wait_time, type: duration}]}
      RUNNING: {metrics: [{name: run_time, type: duration}]}
      JAMMED: {fault: true}
    transitions:
      - {from: WAITING, event: GO, to: RUNNING}
      - {from: RUNNING, event: HANDOVER, to: WAITING}
      - {from: "*", event: JAM, to: JAMMED}
      - {from: JAMMED, event: CLEARED, to: WAITING}
  filler:
    initial: IDLE
    states:
      IDLE: {metrics: [{name: idle_time, type: duration}]}
      FILLING: {metrics: [{name: fill_time, type: duration}]}
      JAMMED: {fault: true}
    transitions:
      - {from: IDLE, event: FILL, to: FILLING}
      - {from: FILLING, event: FILLED, to: IDLE}
      - {from: "*", event: JAM, to: JAMMED}
      - {from: JAMMED, event: CLEARED, to: IDLE}
  capper:
    initial: IDLE
    states:
      IDLE: {metrics: [{name: idle_time, type: duration}]}
      CAPPING: {metrics: [{name: cap_time, type: duration}]}
    transitions:
      - {from: IDLE, event: CAP, to: CAPPING}
      - {from: CAPPING, event: CAPPED, to: IDLE}
"""
PATTERNS = r"""
timestamp:
  regex: '^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d{3})'
  format: '%d.%m.%Y %H:%M:%S,%f'
patterns:
  - {name: go, regex: '\| (?P<c>[\w-]+) \| start', event: GO, target: '{c}'}
  - {name: handover, regex: '\| (?P<c>[\w-]+) \| handover', event: HANDOVER, target: '{c}'}
  - {name: fill, regex: '\| FILLER \| fill start', event: FILL, target: FILLER}
  - {name: filled, regex: '\| FILLER \| fill done', event: FILLED, target: FILLER}
  - {name: cap, regex: '\| CAPPER \| cap start', event: CAP, target: CAPPER}
  - {name: capped, regex: '\| CAPPER \| cap done', event: CAPPED, target: CAPPER}
  - {name: jam, regex: '\| (?P<c>[\w-]+) \| ALARM jam', event: JAM, target: '{c}'}
  - {name: cleared, regex: '\| (?P<c>[\w-]+) \| jam cleared', event: CLEARED, target: '{c}'}
"""
JAM_S = 300.0
START = datetime(2026, 2, 3, 22, 0, 0)


def shift(cycles: int, seed: int, jam: tuple[str, int] | None = None) -> str:
    """A shift of the bottling line: a bottle every 20 s from the infeeds in turn.

    ``jam``: (station, cycle) jams for 300 s: the filler part-way through filling
    (the infeed that comes next is blocked, the capper starved, the line restarts
    late), or an infeed while running (its bottle is lost; the filler gets only the
    other infeed's bottles meanwhile).
    """
    rnd = random.Random(seed)
    lines: list[tuple[float, str]] = []
    filler_free = capper_free = offset = 0.0
    jammed_until = {"IN-A": 0.0, "IN-B": 0.0}
    for k in range(cycles):
        conv = ("IN-A", "IN-B")[k % 2]
        if jam is not None and jam[0] == "FILLER" and k == jam[1] + 2:
            offset = JAM_S  # the line restarts late, after the bottle that was on its way
        go = 20.0 * k + offset + rnd.uniform(0.0, 2.0)
        if go < jammed_until[conv]:
            continue  # that infeed is still jammed: no bottle from it
        if jam == (conv, k):
            lines += [(go, f"{conv} | start"), (go + 2, f"{conv} | ALARM jam"), (go + 2 + JAM_S, f"{conv} | jam cleared")]
            jammed_until[conv] = go + 2 + JAM_S
            continue
        handover = max(go + 3.0 + rnd.uniform(0.0, 0.4), filler_free)
        fill = handover + 0.5
        lines += [(go, f"{conv} | start"), (handover, f"{conv} | handover"), (fill, "FILLER | fill start")]
        if jam == ("FILLER", k):
            lines += [(fill + 4, "FILLER | ALARM jam"), (fill + 4 + JAM_S, "FILLER | jam cleared")]
            fill += 5 + JAM_S
            lines.append((fill, "FILLER | fill start"))
        done = fill + 8.0 + rnd.uniform(-0.4, 0.4)
        filler_free = done + 0.2
        cap = max(done + 1.0, capper_free)
        capper_free = cap + 2.0 + rnd.uniform(0.0, 0.3)
        lines += [(done, "FILLER | fill done"), (cap, "CAPPER | cap start"), (capper_free, "CAPPER | cap done")]
    lines.sort()
    return "".join(f"{(START + timedelta(seconds=t)).strftime('%d.%m.%Y %H:%M:%S,%f')[:-3]} | {text}\n"
                   for t, text in lines)


def write_config(target: Path, *, with_next: bool = True) -> Path:
    target.mkdir(parents=True)
    graph = yaml.safe_load(yaml.safe_dump(GRAPH))
    if not with_next:
        for comp in graph["components"]:
            comp.pop("next", None)
    (target / "machine_graph.yaml").write_text(yaml.safe_dump(graph, sort_keys=False))
    (target / "process_logic.yaml").write_text(LOGIC)
    (target / "log_patterns.yaml").write_text(PATTERNS)
    return target


def read(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def bottling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config dir and a baseline recorded from a good shift (``data/``)."""
    from logloom.cli import main

    work = tmp_path_factory.mktemp("bottling")
    config = write_config(work / "config")
    (work / "good.log").write_text(shift(160, seed=1))
    assert main(["record", "--config", str(config), "--data", str(work / "data"),
                 "--logs", str(work / "good.log"), "-q"]) == 0
    return work


def monitor(work: Path, name: str, log_text: str, config: Path) -> Path:
    from logloom.cli import main

    data = work / name
    data.mkdir()
    (data / "process_baseline.json").write_bytes((work / "data" / "process_baseline.json").read_bytes())
    (work / f"{name}.log").write_text(log_text)
    assert main(["monitor", "--config", str(config), "--data", str(data), "--logs", str(work / f"{name}.log"),
                 "-q"]) == 0
    return data


def test_a_filler_jam_is_one_incident_with_what_it_blocked_and_starved(bottling: Path) -> None:
    data = monitor(bottling, "filler_jam", shift(90, seed=2, jam=("FILLER", 30)), bottling / "config")
    [fault] = [r for r in read(data / "anomalies.csv") if r["rule"] == "fault"]
    [end] = [r for r in read(data / "anomalies.csv") if r["rule"] == "fault_end"]
    assert (fault["component_id"], fault["metric_name"], fault["value"]) == ("filler", "JAMMED", "0.0")
    assert end["state_context"] == "JAMMED" and float(end["value"]) == JAM_S  # no metric, not covered
    [incident] = read(data / "incidents.csv")
    assert (incident["component_id"], incident["kind"], incident["opened"]) == ("filler", "fault", fault["timestamp"])
    assert incident["cause"] == "fault: JAMMED for 300 s" and incident["closed"] >= end["timestamp"]
    effects = set(incident["effects"].split(";"))
    assert {"infeed_b.run_time", "capper.idle_time"} <= effects, effects  # blocked, starved
    assert int(incident["anomalies"]) + int(incident["effect_anomalies"]) == len(read(data / "anomalies.csv"))


def test_an_infeed_jam_starves_the_filler_and_the_capper(bottling: Path) -> None:
    """A fault on a conveyor with another feeder beside it: the filler still fills the
    other infeed's bottles, but idles twice as long between them."""
    data = monitor(bottling, "infeed_jam", shift(90, seed=3, jam=("IN-A", 30)), bottling / "config")
    incidents = read(data / "incidents.csv")
    faults = [r for r in incidents if r["kind"] == "fault"]
    assert [(r["component_id"], r["cause"]) for r in faults] == [("infeed_a", "fault: JAMMED for 300 s")]
    assert "filler.idle_time" in faults[0]["effects"].split(";")
    assert len(incidents) == 1, incidents


def test_a_line_without_next_attaches_no_knock_on(bottling: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "no_next", with_next=False)
    data = monitor(bottling, "no_next", shift(90, seed=2, jam=("FILLER", 30)), config)
    incidents = read(data / "incidents.csv")
    fault = next(r for r in incidents if r["kind"] == "fault")
    assert fault["effects"] == "" and fault["component_id"] == "filler"
    assert {r["component_id"] for r in incidents} >= {"filler", "infeed_b", "capper"}
