"""`logloom coverage` on a simulated shift, on hand-made logs and on a log that looks
nothing like the simulator's. Expected counts come from the test's own reading of the
log (plain ``re``) or from how the test wrote it, never from the report under test."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from logloom.authoring.coverage import Coverage
from logloom.authoring.templates import UnmatchedLines, mask
from logloom.config.load import load_config
from logloom.simulator.texts import NoiseWriter
from tests.helpers import EXAMPLE_CONFIG, ROOT

SCREW_CONFIG = ROOT / "examples" / "screwdriver_berlin" / "config"
TS = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?")


def with_dead_rules(docs: dict[str, dict]) -> None:
    """A pattern no line matches and a state (with its way out) that nothing enters."""
    docs["log_patterns.yaml"]["patterns"].append(
        {"name": "spindle_hot", "regex": r"Spindle overheated at (?P<station>\w+)", "event": "SPINDLE_HOT",
         "target": "{station}", "target_type": "dispenser"})
    dispenser = docs["process_logic.yaml"]["machines"]["dispenser"]
    dispenser["states"]["MAINTENANCE"] = {}
    dispenser["transitions"].append({"from": "MAINTENANCE", "event": "RESET", "to": "IDLE"})


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from logloom.cli import main

    log = tmp_path_factory.mktemp("shift") / "shift.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(log), "--cycles", "40",
                 "--seed", "5", "--noise", "0.25", "--sparse", "0.3", "--faults", "0.1", "-q"]) == 0
    return log


def first_pattern_of(config_dir: Path, log: Path) -> tuple[Counter[str], list[str]]:
    """The test's own reading: which pattern each line's text matches first; the unmatched texts."""
    raw = yaml.safe_load((config_dir / "log_patterns.yaml").read_text())
    patterns = [(p["name"], re.compile(p["regex"])) for p in raw["patterns"]]
    hits: Counter[str] = Counter()
    unmatched = []
    for line in log.read_text().splitlines():
        m = TS.match(line)
        assert m, line
        rest = line[m.end():]
        name = next((n for n, rx in patterns if rx.search(rest)), None)
        if name is None:
            unmatched.append(rest)
        else:
            hits[name] += 1
    return hits, unmatched


def test_a_simulated_shift_shows_dead_rules_and_the_noise(shift: Path, make_config, run_cli) -> None:
    config_dir = make_config(EXAMPLE_CONFIG, edit=with_dead_rules)
    code, out, err = run_cli("coverage", "--config", config_dir, "--logs", shift, "--json")
    assert code == 0, err
    report = json.loads(out)
    hits, unmatched = first_pattern_of(config_dir, shift)
    assert {p["name"]: p["hits"] for p in report["patterns"] if p["hits"]} == dict(hits)
    assert "spindle_hot" in report["unused_patterns"]
    assert {"event": "SPINDLE_HOT", "why": "its patterns never matched"} in report["events_never_produced"]
    assert [(t["from"], t["event"], t["to"]) for t in report["transitions_never_taken"]
            if t["machine"] == "dispenser"] == [("MAINTENANCE", "RESET", "IDLE")]
    assert report["states_never_visited"] == [{"machine": "dispenser", "state": "MAINTENANCE"}]
    for p in report["patterns"]:  # each sample is a line its pattern matches
        if p["sample"]:
            assert hits[p["name"]] and p["sample"]["line"] >= 1
    # the noise: every unmatched line falls in one template, whose regex matches it
    assert report["unmatched"] == len(unmatched)
    templates = report["unmatched_templates"]
    assert sum(t["count"] for t in templates) == len(unmatched) and report["not_clustered"] == 0
    assert len(templates) == 6  # the simulator's six kinds of noise line
    regexes = [re.compile(t["regex"]) for t in templates]
    owners = Counter(next(i for i, rx in enumerate(regexes) if rx.search(text)) for text in unmatched)
    assert [owners[i] for i in range(len(templates))] == [t["count"] for t in templates]
    # and the kinds are the simulator's: fresh noise lines all match one of the regexes
    fresh = NoiseWriter(random.Random(2024))
    for _ in range(300):
        text = " " + fresh.message()
        assert sum(1 for rx in regexes if rx.search(text)) == 1, text
    heartbeat = next(t for t in templates if "Heartbeat" in t["template"])
    assert heartbeat["template"] == "[DEBUG] Heartbeat PLC-<NUM> seq=<NUM> ok"
    assert re.compile(heartbeat["regex"]).groupindex.keys() == {"plc", "seq"}
    # a transition taken once per line of its event: no line of this shift was dropped
    by_event = {t["event"]: t for t in report["transitions"] if t["machine"] == "conveyor"}
    assert by_event["CONVEYOR_START"]["taken"] == hits["conveyor_start"]
    assert all(t["jumped_to"] == t["synthesised"] == 0 for t in report["transitions"])


def test_the_table_names_what_is_never_used(shift: Path, make_config, run_cli) -> None:
    config_dir = make_config(EXAMPLE_CONFIG, edit=with_dead_rules)
    code, out, _ = run_cli("coverage", "--config", config_dir, "--logs", shift, "--top", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"coverage of {shift}: ")
    assert ["spindle_hot", "SPINDLE_HOT", "0", "never", "matched"] in [line.split() for line in lines]
    never = lines.index("never used")
    assert lines[never + 1].startswith("  patterns:    ") and "spindle_hot" in lines[never + 1]
    assert lines[never + 3] == "  transitions: dispenser #6 MAINTENANCE --RESET--> IDLE"
    assert lines[never + 4] == "  states:      dispenser.MAINTENANCE"
    assert any(line.startswith("unmatched lines: ") and line.endswith("the 2 most frequent shown (--top)")
               for line in lines)
    assert sum(1 for line in lines if line.strip().startswith("regex:")) == 2


SCREW = [
    "15.01.2026 09:00:00,000 SD-01 Start",         # no part: blocked by START's guard
    "15.01.2026 09:00:05,000 SD-01 Teil erkannt",  # data only
    "15.01.2026 09:00:07,000 SD-01 Start",         # WAITING -> FASTENING
    "15.01.2026 09:00:40,000 SD-01 Teil erkannt",
    "15.01.2026 09:00:41,000 SD-01 Start",         # fertig lost: jump via DONE (synthesised) to START
    "15.01.2026 09:00:42,000 SD-07 fertig",        # no such tool
    "15.01.2026 09:00:43,000 Schichtwechsel",      # unmatched
    "kaputt",                                      # malformed
]


@pytest.mark.parametrize("strict", [False, True])
def test_guard_blocks_jumps_and_refusals_are_counted_per_transition(tmp_path: Path, strict: bool) -> None:
    log = tmp_path / "screw.log"
    log.write_text("\n".join(SCREW) + "\n")
    coverage = Coverage(load_config(SCREW_CONFIG), strict=strict)
    coverage.read(log)
    report = coverage.report()
    start, done = report["transitions"]  # WAITING --START--> FASTENING, FASTENING --DONE--> WAITING
    assert start["guard_blocked"] == 1
    if strict:
        assert (start["taken"], start["jumped_to"], done["synthesised"]) == (1, 0, 0)
        assert report["refused"] == [{"machine": "screwdriver", "state": "FASTENING", "event": "START", "count": 1}]
        assert report["transitions_never_taken"] == [done]
    else:
        assert (start["taken"], start["jumped_to"], done["synthesised"], done["taken"]) == (1, 1, 1, 0)
        assert report["refused"] == [] and report["transitions_never_taken"] == []
    assert report["lost_events"] == [{"outcome": "unknown_target", "event": "DONE", "target": "SD-07", "count": 1}]
    assert report["data_only"] == [{"machine": "screwdriver", "event": "PART_IN", "count": 2}]
    assert (report["lines"], report["events"], report["unmatched"], report["malformed"]) == (8, 6, 1, 1)
    assert report["malformed_lines"][0]["reason"] == "no timestamp"
    assert report["malformed_lines"][0]["sample"] == {"line": 8, "text": "kaputt"}
    assert [p["name"] for p in report["patterns"] if not p["hits"]] == ["torque", "rework"]
    assert {e["event"] for e in report["events_never_produced"]} == {"TORQUE", "REWORK"}


# -- a log that looks nothing like the simulator's ---------------------------------------------
FOREIGN_PATTERNS = """\
timestamp:
  regex: '^(?P<ts>\\d{2}\\.\\d{2}\\.\\d{4} \\d{2}:\\d{2}:\\d{2},\\d{3});'
  format: '%d.%m.%Y %H:%M:%S,%f'
patterns:
  - {name: fill_start, regex: 'FIL;INFO;Fill start bottle=(?P<bottle>\\d+)', event: FILL_START, target: filler}
  - {name: fill_end, regex: 'FIL;INFO;Fill end vol=(?P<vol>[\\d.]+)ml', event: FILL_END, target: filler,
     fields: {vol: float}}
"""
FOREIGN_GRAPH = "line: bottling\ncomponents:\n  - {id: filler, type: filler}\n"
FOREIGN_LOGIC = """\
machines:
  filler:
    initial: IDLE
    states:
      IDLE: {}
      FILLING: {metrics: [{name: fill_time, type: duration}, {name: volume, type: value, field: vol, unit: ml}]}
    transitions:
      - {from: IDLE, event: FILL_START, to: FILLING}
      - {from: FILLING, event: FILL_END, to: IDLE}
"""


START = datetime(2025, 2, 3, 6)


def foreign_log(path: Path, lines: int) -> Counter[str]:
    """Semicolon-separated PLC lines, mostly noise of kinds the simulator never writes:
    network packets with IPs, counters in every line, hex ids, free text with a path."""
    rng = random.Random(11)
    kinds: Counter[str] = Counter()
    out = []
    for i in range(lines):
        t = START + timedelta(milliseconds=250 * i + rng.randrange(250))
        stamp = f"{t:%d.%m.%Y %H:%M:%S},{t.microsecond // 1000:03d};"
        pick = rng.random()
        if pick < 0.1:
            kind, text = "fill", (f"FIL;INFO;Fill start bottle={i}" if i % 2 == 0 else
                                  f"FIL;INFO;Fill end vol={rng.uniform(498, 502):.1f}ml")
        elif pick < 0.4:
            kind = "packet"
            text = f"NET;DEBUG;Packet {rng.randrange(10**5)} from 10.0.{rng.randrange(256)}.{rng.randrange(256)} " \
                   f"len={rng.randrange(40, 1500)}"
        elif pick < 0.7:
            kind = "counter"
            text = f"PLC;INFO;Shift counter parts_ok={rng.randrange(10**5)} parts_nok={rng.randrange(1000)}"
        elif pick < 0.85:
            kind = "txn"
            text = f"MES;INFO;Transaction {rng.getrandbits(64):016x} committed in {rng.uniform(0.1, 9):.2f} ms"
        else:
            kind = "recipe"
            text = f"HMI;WARN;Recipe /plant/recipes/{rng.choice(['cola', 'water', 'juice'])}.rcp reloaded by " \
                   f"{rng.choice(['anna', 'ben', 'chris'])}"
        kinds[kind] += 1
        out.append(stamp + text)
    path.write_text("\n".join(out) + "\n")
    return kinds


def test_a_log_unlike_the_simulators(tmp_path: Path, run_cli) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "log_patterns.yaml").write_text(FOREIGN_PATTERNS)
    (config_dir / "machine_graph.yaml").write_text(FOREIGN_GRAPH)
    (config_dir / "process_logic.yaml").write_text(FOREIGN_LOGIC)
    log = tmp_path / "plc.log"
    kinds = foreign_log(log, 3000)
    code, out, err = run_cli("coverage", "--config", config_dir, "--logs", log, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["events"] == kinds["fill"]
    assert report["unmatched"] == 3000 - kinds["fill"]
    by_first_word = {t["template"].split(";")[0]: t for t in report["unmatched_templates"]}
    assert {k: t["count"] for k, t in by_first_word.items()} == {
        "NET": kinds["packet"], "PLC": kinds["counter"], "MES": kinds["txn"], "HMI": kinds["recipe"]}
    assert "<IP>" in by_first_word["NET"]["template"]
    counter = re.compile(by_first_word["PLC"]["regex"])
    assert set(counter.groupindex) == {"parts_ok", "parts_nok"}
    assert by_first_word["MES"]["template"] == "MES;INFO;Transaction <HEX> committed in <NUM> ms"
    rest = log.read_text().splitlines()
    for line in rest:  # every regex matches every line of its kind (the text after the timestamp)
        text = line[24:]
        if not text.startswith("FIL"):
            assert re.search(by_first_word[text[:3]]["regex"], text), text
    transitions = {t["event"]: t for t in report["transitions"]}
    assert transitions["FILL_START"]["taken"] + transitions["FILL_START"]["jumped_to"] > 0


def test_distinct_texts_past_the_cap_are_counted_not_clustered() -> None:
    lines = UnmatchedLines(lambda line: line[1:], max_texts=3)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for i, word in enumerate(words * 2):
        lines.add_many([i + 1], [f"t {word} up {i}"])
    assert lines.total == 10
    assert lines.not_clustered == 4  # delta and epsilon, twice each
    assert sum(t.count for t in lines.mine()) == 6


def test_masking() -> None:
    assert mask("temp -3.5 C at 10.0.0.1 id 0xdeadBEEF sess a3f2b9c1 P-000001 HMI-2 (E-101) x=-4") == \
        "temp <NUM> C at <IP> id <HEX> sess <HEX> P-<NUM> HMI-<NUM> (E-<NUM>) x=<NUM>"


def test_without_drain3_coverage_reports_the_rest_and_says_how_to_add_templates(
        shift: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """drain3 is an extra (it pins old jsonpickle and cachetools): missing, only the
    templates are left out, with the install command."""
    import sys

    monkeypatch.setitem(sys.modules, "drain3", None)  # `import drain3` raises ImportError
    code, out, err = run_cli("coverage", "--config", EXAMPLE_CONFIG, "--logs", shift, "--json")
    assert code == 0, err
    report = json.loads(out)
    hits, unmatched = first_pattern_of(EXAMPLE_CONFIG, shift)
    assert {p["name"]: p["hits"] for p in report["patterns"] if p["hits"]} == dict(hits)
    assert report["unmatched"] == len(unmatched) > 0
    assert report["unmatched_templates"] is None
    code, out, err = run_cli("coverage", "--config", EXAMPLE_CONFIG, "--logs", shift)
    assert code == 0, err
    assert "pip install 'logloom[templates]'" in out + err
