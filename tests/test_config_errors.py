"""Every kind of broken config exits 2 with file, key path and line, and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from logloom.config import load_config
from logloom.errors import ConfigError

from .conftest import WALKTHROUGH_CONFIG

GRAPH = (WALKTHROUGH_CONFIG / "machine_graph.yaml").read_text()
LOGIC = (WALKTHROUGH_CONFIG / "process_logic.yaml").read_text()
PATTERNS = (WALKTHROUGH_CONFIG / "log_patterns.yaml").read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


CASES = [
    # (file, original text, replace this, with this, expected key path, needle for the line)
    ("machine_graph.yaml", GRAPH, "    type: clamp", "    type: clmap", "components[0].type", "type: clmap"),
    ("machine_graph.yaml", GRAPH, "    next: [l1_dispenser]", "    next: [l1_dispensr]", "components[0].next[0]", "next: [l1_dispensr]"),
    ("machine_graph.yaml", GRAPH, "    aliases: [L1]\n    sensors: {presence: false}",
     "    aliases: [L1]\n    sensor: {presence: false}", "components[1].sensor", "sensor: {presence"),
    ("process_logic.yaml", LOGIC, "to: CLOSED}", "to: CLOSD}", "machines.clamp.transitions[0].to", "to: CLOSD}"),
    ("process_logic.yaml", LOGIC, "initial: IDLE", "initial: IDEL", "machines.dispenser.initial", "initial: IDEL"),
    ("process_logic.yaml", LOGIC, "process_cycle_time, type: duration", "process_cycle_time, type: durration",
     "machines.dispenser.states.DISPENSING.metrics[0].type", "durration"),
    ("process_logic.yaml", LOGIC, "requires: {presence: true}", "requires: {presense: true}",
     "machines.dispenser.transitions[1].requires.presense", "presense"),
    ("process_logic.yaml", LOGIC, '"l1_clamp.clamped"', '"l9_clamp.clamped"', "events.PALLET_RELEASED.infer.l9_clamp.clamped", "l9_clamp"),
    ("process_logic.yaml", LOGIC, "  max_jump: 4", "  max_jump: 4\n  permisive: true", "settings.permisive", "permisive"),
    ("log_patterns.yaml", PATTERNS, "(?P<ts>", "(?P<time>", "timestamp.regex", "(?P<time>"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: '%Q'", "timestamp.format", "format: '%Q'"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: iso\n  timezone: Mars/Olympus", "timestamp.timezone", "Mars"),
    ("log_patterns.yaml", PATTERNS, "'Dispensing Started at (?P<station>\\w+)'", "'Dispensing Started at (?P<station>\\w+'",
     "patterns[1].regex", "Dispensing Started"),
    ("log_patterns.yaml", PATTERNS, "fields: {volume: float}", "fields: {volume: decimal}", "patterns[2].fields.volume", "decimal"),
    ("log_patterns.yaml", PATTERNS, "fields: {volume: float}", "fields: {volum: float}", "patterns[2].fields.volum", "volum: float"),
    ("log_patterns.yaml", PATTERNS, "    target_type: dispenser\n  - name: process", "    target_type: dispensr\n  - name: process",
     "patterns[1].target_type", "dispensr"),
    ("log_patterns.yaml", PATTERNS, "target: '{station}'\n    target_type: dispenser\n  - name: process",
     "target: '{stat}'\n    target_type: dispenser\n  - name: process", "patterns[1].target", "{stat}"),
]


@pytest.mark.parametrize(("name", "text", "old", "new", "path", "needle"), CASES, ids=lambda v: str(v)[:30])
def test_broken_config_names_file_key_and_line(
    name: str, text: str, old: str, new: str, path: str, needle: str,
    make_config: Callable[..., Path], run_cli,
) -> None:
    assert old in text, "the case no longer matches the walkthrough config"
    broken = text.replace(old, new, 1)
    cfg = make_config(raw={name: broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2
    assert "Traceback" not in err
    expected = f"{cfg / name}:{line_of(broken, needle)}: {path}"
    assert expected in err, err


def test_yaml_syntax_error_has_a_line(make_config: Callable[..., Path], run_cli) -> None:
    cfg = make_config(raw={"process_logic.yaml": LOGIC.replace("  clamp:", "  clamp: [", 1)})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "process_logic.yaml:" in err and "YAML syntax" in err


def test_yaml_syntax_errors_are_worded_by_pyyaml_whichever_parser_read_the_file(
    make_config: Callable[..., Path], run_cli,
) -> None:
    # libyaml reads the configs when present, but words its errors differently
    broken = LOGIC.replace("  clamp:", "  clamp: [", 1)
    with pytest.raises(yaml.MarkedYAMLError) as info:
        yaml.load(broken, Loader=yaml.SafeLoader)
    mark = info.value.problem_mark
    assert mark is not None
    cfg = make_config(raw={"process_logic.yaml": broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2
    assert f"process_logic.yaml:{mark.line + 1}: YAML syntax: {info.value.problem}" in err, err


def test_every_problem_is_reported_at_once(make_config: Callable[..., Path]) -> None:
    cfg = make_config(raw={
        "machine_graph.yaml": GRAPH.replace("type: clamp", "type: clmap"),
        "log_patterns.yaml": PATTERNS.replace("format: iso", "format: '%Q'"),
    })
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {"machine_graph.yaml", "log_patterns.yaml"}


def test_unknown_key_hint_suggests_the_right_one(make_config: Callable[..., Path], run_cli) -> None:
    cfg = make_config(raw={"log_patterns.yaml": PATTERNS.replace("    event: PROCESS_END", "    evnt: PROCESS_END")})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "did you mean 'event'?" in err


def test_unreachable_state_is_a_warning_not_an_error(make_config: Callable[..., Path], run_cli) -> None:
    cfg = make_config(raw={"process_logic.yaml": LOGIC.replace("      IDLE: {}", "      IDLE: {}\n      LIMBO: {}")})
    code, out, err = run_cli("validate", "--config", cfg)
    assert code == 0 and out.startswith("OK")
    assert "LIMBO" in err and "cannot be reached" in err


def test_missing_files(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("validate", "--config", tmp_path)
    assert code == 2 and "machine_graph.yaml" in err and "file not found" in err


def test_missing_log_file_exits_2(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", tmp_path, "--logs", tmp_path / "nope.log")
    assert code == 2 and "nope.log" in err and "Traceback" not in err


def test_bad_option_exits_2(run_cli) -> None:
    code, _, err = run_cli("monitor", "--max-part-mb", "-3")
    assert code == 2 and "max-part-mb" in err
