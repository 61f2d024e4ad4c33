"""validate: one report with every schema and cross-file problem of the four files,
warnings for events that connect nothing, and hints in logloom's words for the
schema mistakes people make in YAML."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.config.load import load_config
from logloom.errors import ConfigError
from tests.helpers import EXAMPLE_CONFIG, WALKTHROUGH_CONFIG

GRAPH = (WALKTHROUGH_CONFIG / "machine_graph.yaml").read_text()
LOGIC = (WALKTHROUGH_CONFIG / "process_logic.yaml").read_text()
PATTERNS = (WALKTHROUGH_CONFIG / "log_patterns.yaml").read_text()
VIZ = (EXAMPLE_CONFIG / "viz_resources.yaml").read_text()
MakeConfig = Callable[..., Path]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _edit(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _problems(cfg: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    return [str(p) for p in info.value.problems]


def test_a_schema_error_no_longer_hides_the_cross_file_problems_of_its_file(make_config: MakeConfig) -> None:
    logic = _edit(LOGIC,
                  ("{name: unclamp_time, type: duration, unit: s}", "{name: unclamp_time, type: duration, unti: s}"),
                  ("type: value, field: volume", "type: value, field: volum"),  # cross-file: no such group
                  ("to: UNCLAMPING}", "to: UNCLAMPNG}"))                         # within the file
    graph = _edit(GRAPH, ("    aliases: [L1]", "    aliases: L1"))  # schema, another file
    patterns = _edit(PATTERNS, ("    target_type: dispenser", "    target_type: dispensr"))  # cross-file
    viz = "components:\n  l9_nowhere: {position: [0, 0, 0]}\n"
    cfg = make_config(raw={"process_logic.yaml": logic, "machine_graph.yaml": graph,
                           "log_patterns.yaml": patterns, "viz_resources.yaml": viz})
    report = "\n".join(_problems(cfg))
    expected = [
        f"machine_graph.yaml:{line_of(graph, 'aliases: L1')}: components[0].aliases: a list is expected here",
        f"process_logic.yaml:{line_of(logic, 'unti: s')}: machines.dispenser.states.UNCLAMPING.metrics[0].unti: "
        "unknown key (hint: did you mean 'unit'?",
        f"process_logic.yaml:{line_of(logic, 'field: volum')}: machines.dispenser.states.DISPENSING.metrics[1].field:"
        " no pattern captures a field 'volum'",
        f"process_logic.yaml:{line_of(logic, 'UNCLAMPNG')}: machines.dispenser.transitions[2].to: unknown state "
        "'UNCLAMPNG' (hint: did you mean 'UNCLAMPING'?)",
        f"log_patterns.yaml:{line_of(patterns, 'dispensr')}: patterns[0].target_type: unknown machine type 'dispensr'",
        "viz_resources.yaml:2: components.l9_nowhere: unknown component 'l9_nowhere'",
    ]
    for problem in expected:
        assert problem in report, problem


def test_a_misspelt_count_event_is_reported_beside_a_schema_error(make_config: MakeConfig) -> None:
    logic = _edit(LOGIC,
                  ("- {name: downtime, type: duration, unit: s}",
                   "- {name: downtime, type: duration, unit: s}\n          - {name: faults, type: count, event: FALT}"),
                  ("  max_jump: 4", "  max_jump: four"))
    report = _problems(make_config(raw={"process_logic.yaml": logic}))
    assert any("settings.max_jump" in p for p in report)
    assert any(p.startswith("warning:") and "no pattern produces event 'FALT'" in p for p in report), report


def test_what_only_follows_from_a_schema_error_is_left_out(make_config: MakeConfig) -> None:
    # the dispenser machine is broken (no initial): its components are not also "of an unknown type"
    logic = _edit(LOGIC, ("    initial: IDLE\n", ""))
    report = _problems(make_config(raw={"process_logic.yaml": logic}))
    assert [p for p in report if "machines.dispenser.initial: required key is missing" in p]
    assert not [p for p in report if "unknown machine type" in p], report


@pytest.mark.parametrize(("old", "new", "key_path", "hint"), [
    # metrics: one level too little, under `states:` instead of under its state
    ("      UNCLAMPING:\n        metrics:\n          - {name: unclamp_time",
     "      UNCLAMPING:\n      metrics:\n          - {name: unclamp_time",
     "machines.dispenser.states.metrics: a mapping is expected here, not a list",
     "'metrics' is read as a state name here, but it is a key of a state: indent it under the state above it, "
     "'UNCLAMPING'"),
    # transitions: under `machines:` instead of under its machine
    ("    transitions:\n      - {from: IDLE", "  transitions:\n      - {from: IDLE",
     "machines.transitions: a mapping is expected here, not a list",
     "'transitions' is read as a machine type name here, but it is a key of a machine type: indent it under the "
     "machine type above it, 'dispenser'"),
    # a list where a mapping is expected
    ("    states: {OPEN: {}, CLOSED: {metrics: [{name: clamp_time, type: duration, unit: s}]}}",
     "    states: [OPEN, CLOSED]",
     "machines.clamp.states: a mapping is expected here, not a list",
     "a mapping ('name: value' lines) is expected here, not a list ('- ' items): e.g. {OPEN: {}, CLOSED: {}}"),
    # ON/OFF are booleans in YAML 1.1
    ("    initial: OPEN\n    states: {OPEN: {},", "    initial: OPEN\n    states: {OFF: {}, OPEN: {},",
     "machines.clamp.states.OFF: read as the boolean false, not as a name",
     "YAML reads an unquoted off, no, false as the boolean false: quote the name, 'OFF'"),
    # a word of a fixed list, misspelt
    ("{name: downtime, type: duration", "{name: downtime, type: durations",
     "machines.dispenser.states.ERROR.metrics[0].type: Input should be 'duration', 'value' or 'count'",
     "did you mean 'duration'?"),
    # a key at the wrong level
    ("    initial: IDLE\n", "    initial: IDLE\n    metrics: []\n",
     "machines.dispenser.metrics: unknown key",
     "'metrics' is a key of a state (machines.<type>.states.<STATE>): check its indentation"),
])
def test_common_schema_mistakes_get_a_hint_in_logloom_words(old: str, new: str, key_path: str, hint: str,
                                                             make_config: MakeConfig, run_cli) -> None:
    logic = _edit(LOGIC, (old, new))
    code, _, err = run_cli("validate", "--config", make_config(raw={"process_logic.yaml": logic}))
    assert code == 2 and "Traceback" not in err
    assert f"{key_path} (hint: {hint})" in err, err
    assert "instance of" not in err and "valid dictionary" not in err  # the schema library's words


@pytest.mark.parametrize(("graph", "key_path", "hint"), [
    ("components:\n  id: l1_clamp\n  type: clamp\n",
     "components: a list is expected here, not a mapping", "put '- ' before 'id:' to make it an item"),
    ("components:\n  l1_clamp: {type: clamp}\n  l1_dispenser: {type: dispenser}\n",
     "components: a list is expected here, not a mapping",
     "write each entry as '- id: l1_clamp' with its keys under it"),
    (_edit(GRAPH, ("    sensors: {presence: false, clamped: false}", "    sensors: [presence, clamped]")),
     "components[0].sensors: a mapping is expected here, not a list", "e.g. {presence: false, clamped: false}"),
    (_edit(GRAPH, ("    aliases: [L1]", "    aliases: L1")),
     "components[0].aliases: a list is expected here, not a text", "write [L1] for a list of one"),
])
def test_graph_mistakes_get_a_hint(graph: str, key_path: str, hint: str, make_config: MakeConfig, run_cli) -> None:
    code, _, err = run_cli("validate", "--config", make_config(raw={"machine_graph.yaml": graph}))
    assert code == 2 and key_path in err and hint in err, err


def test_a_transition_event_no_pattern_produces_is_a_warning(make_config: MakeConfig, run_cli) -> None:
    logic = _edit(LOGIC, ("event: PROCESS_END, to: UNCLAMPING", "event: PROCES_END, to: UNCLAMPING"))
    code, out, err = run_cli("validate", "--config", make_config(raw={"process_logic.yaml": logic}))
    assert code == 0 and out.startswith("OK")
    line = line_of(logic, "PROCES_END")
    assert (f"warning: {{}}:{line}: machines.dispenser.transitions[2].event: no pattern produces event 'PROCES_END': "
            "this transition is taken only as a synthesised step of a jump (hint: did you mean 'PROCESS_END'?)"
            ).split("{}")[1] in err, err
    # ... and the pattern's PROCESS_END, now used by no machine (it measures a volume, but its name is close)
    assert "pattern 'process_finished' makes event 'PROCESS_END', which no machine uses" in err
    assert "did you mean 'PROCES_END'?" in err


def test_a_pattern_whose_event_no_machine_uses_is_a_warning(make_config: MakeConfig, run_cli) -> None:
    patterns = PATTERNS + ("  - name: heartbeat\n    regex: 'PLC alive'\n    event: HEARTBEAT\n"
                           "  - name: pressure\n    regex: 'pressure (?P<volume>[\\d.]+)'\n    event: READING\n"
                           "    fields: {volume: float}\n")
    code, _, err = run_cli("validate", "--config", make_config(raw={"log_patterns.yaml": patterns}))
    assert code == 0
    assert f"log_patterns.yaml:{line_of(patterns, 'event: HEARTBEAT')}: patterns[8].event: pattern 'heartbeat' " \
           "makes event 'HEARTBEAT', which no machine uses" in err, err
    assert "READING" not in err  # a reading of a measured field is a data-only event with a purpose


def test_the_shipped_configs_warn_of_nothing(run_cli) -> None:
    for config in (EXAMPLE_CONFIG, WALKTHROUGH_CONFIG):
        code, out, err = run_cli("validate", "--config", config)
        assert (code, err) == (0, "") and out.startswith("OK")


_EDITS = st.lists(st.tuples(st.sampled_from(["drop", "dedent", "indent", "swap"]), st.integers(0, 200)),
                  min_size=1, max_size=4)


def _mangle(text: str, edits: list[tuple[str, int]]) -> str:
    lines = text.splitlines()
    for op, n in edits:
        i = n % len(lines)
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        else:
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["process_logic.yaml", "machine_graph.yaml", "log_patterns.yaml"]), _EDITS)
def test_a_mangled_config_is_always_one_report(tmp_path: Path, name: str, edits: list[tuple[str, int]]) -> None:
    """Lines dropped, swapped or indented wrongly: a ConfigError listing problems (or a
    config that still loads), never another exception from the salvage of a broken file."""
    cfg = tmp_path / "cfg"
    shutil.rmtree(cfg, ignore_errors=True)
    shutil.copytree(WALKTHROUGH_CONFIG, cfg)
    (cfg / name).write_text(_mangle((cfg / name).read_text(), edits))
    try:
        load_config(cfg)
    except ConfigError as exc:
        assert exc.problems and all(p.file.endswith(".yaml") for p in exc.problems)
