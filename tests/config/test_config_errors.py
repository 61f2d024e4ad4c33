"""Every kind of broken config exits 2 with file, key path and line, and no traceback."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.config import yaml_io
from logloom.config.load import load_config
from logloom.errors import ConfigError
from tests.helpers import EXAMPLE_CONFIG, ROOT, WALKTHROUGH_CONFIG

GRAPH = (WALKTHROUGH_CONFIG / "machine_graph.yaml").read_text()
LOGIC = (WALKTHROUGH_CONFIG / "process_logic.yaml").read_text()
PATTERNS = (WALKTHROUGH_CONFIG / "log_patterns.yaml").read_text()
VIZ = (EXAMPLE_CONFIG / "viz_resources.yaml").read_text()


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
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: iso\n  year: 2025", "timestamp.year", "year: 2025"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: '%b %d %H:%M:%S'\n  year: next", "timestamp.year",
     "year: next"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: '%b %d %H:%M:%S'\n  year: '2025'", "timestamp.year",
     "year: '2025'"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: '%b %d %H:%M:%S %z'", "timestamp.format", "%z"),
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


JSON_PATTERNS = (ROOT / "examples" / "filler_json" / "config" / "log_patterns.yaml").read_text()
JSON_LOGIC = (ROOT / "examples" / "filler_json" / "config" / "process_logic.yaml").read_text()
CASES += [  # a JSON-lines log (format: json)
    ("log_patterns.yaml", JSON_PATTERNS, "msg: {regex: '^CAP start'}", "msg: {regx: '^CAP start'}",
     "patterns[2].match.msg.regx", "regx"),
    ("log_patterns.yaml", JSON_PATTERNS, "msg: {regex: '^CAP start'}", "msg: {regex: '^CAP (start'}",
     "patterns[2].match.msg.regex", "CAP (start"),
    ("log_patterns.yaml", JSON_PATTERNS, "match: {src: filler, msg: FILL start}",
     "match: {src: filler, msg: [FILL start, {a: 1}]}", "patterns[0].match.msg", "{a: 1}"),
    ("log_patterns.yaml", JSON_PATTERNS, "match: {src: filler, msg: FILL start}", "regex: 'FILL start'",
     "patterns[0].regex", "regex: 'FILL start'"),
    ("log_patterns.yaml", JSON_PATTERNS, "  field: ts ", "  fiel: ts ", "timestamp.fiel", "fiel: ts"),
    ("log_patterns.yaml", JSON_PATTERNS, "  field: ts ", "  field: data..ts ", "timestamp.field", "data..ts"),
    ("log_patterns.yaml", JSON_PATTERNS, "format: json", "format: jsonl", "format", "jsonl"),
    ("log_patterns.yaml", JSON_PATTERNS, "    fields: {station: str}\n  - name: fill_end",
     "    fields: {statoin: str}\n  - name: fill_end", "patterns[0].target", "target: '{station}'"),
    ("log_patterns.yaml", PATTERNS, "  format: iso", "  format: iso\n  field: ts", "timestamp.field", "field: ts"),
    ("process_logic.yaml", JSON_LOGIC, "field: data.vol,", "field: data.volume,",
     "machines.filler.states.FILLING.metrics[1].field", "data.volume"),
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


FORMAT_HINT = "iso, epoch, epoch_ms or a strptime format such as '%d.%m.%Y %H:%M:%S,%f'"
TIMESTAMP_CASES = [
    # (replacing `  format: iso`, key path, needle for the line, the problem with its hint)
    ("  format: iso\n  timezone: Mars/Olympus", "timestamp.timezone", "timezone:",
     "unknown timezone 'Mars/Olympus' (hint: an IANA time zone name such as Europe/Berlin; "
     "without one, naive readings count as UTC)"),
    ("  format: iso\n  timezone: europe/berln", "timestamp.timezone", "timezone:",
     "unknown timezone 'europe/berln' (hint: did you mean 'Europe/Berlin'?)"),
    ("  format: '%Q'", "timestamp.format", "format:", f"unsupported directive %Q in format '%Q' (hint: {FORMAT_HINT})"),
]


@pytest.mark.parametrize(("new", "path", "needle", "problem"), TIMESTAMP_CASES, ids=["unknown", "typo", "format"])
def test_a_timestamp_problem_has_the_hint_of_its_own_key(
    new: str, path: str, needle: str, problem: str, make_config: Callable[..., Path], run_cli,
) -> None:
    broken = PATTERNS.replace("  format: iso", new, 1)
    cfg = make_config(raw={"log_patterns.yaml": broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "Traceback" not in err
    assert f"log_patterns.yaml:{line_of(broken, needle)}: {path}: {problem}\n" in err, err


def test_a_bad_format_and_a_bad_timezone_are_two_problems(make_config: Callable[..., Path]) -> None:
    cfg = make_config(raw={"log_patterns.yaml": PATTERNS.replace("  format: iso", "  format: '%Q'\n  timezone: Mars", 1)})
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    hints = {p.path: p.hint for p in info.value.problems}
    assert hints.keys() == {"timestamp.format", "timestamp.timezone"}
    assert hints["timestamp.format"] == FORMAT_HINT
    assert "IANA" in str(hints["timestamp.timezone"]) and "strptime" not in str(hints["timestamp.timezone"])


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read the configs with libyaml (when PyYAML has it), then with the pure-Python parser."""
    if request.param == "pure-python":
        monkeypatch.setattr(yaml_io, "_FAST_LOADER", yaml_io._LOADER)
    return str(request.param)


BIG = "9" * 5000  # past Python's 4300-digit limit on int(str)

SCALAR_CASES = [
    # Scalars PyYAML's constructors turn into exceptions: an impossible date (read as a
    # string, never as a date), a tag the text cannot satisfy, an integer too long for int().
    # (file, base dir, original text, replace this, with this, key path, needle for the line, message)
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: 4\n  date: 2020-13-45",
     "settings.date", "date: 2020-13-45", "unknown key"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: 4\n  2020-13-45: 1",
     "settings.2020-13-45", "2020-13-45: 1", "unknown key"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: 2020-13-45",
     "settings.max_jump", "max_jump: 2020-13-45", "Input should be a valid integer"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: 4\n  at: 2020-01-01 10:00:00 +99:00",
     "settings.at", "at: 2020", "unknown key"),
    ("machine_graph.yaml", WALKTHROUGH_CONFIG, GRAPH, "    next: [l1_dispenser]", "    next: [2020-13-45]",
     "components[0].next[0]", "next: [2020-13-45]", "unknown component '2020-13-45'"),
    ("log_patterns.yaml", WALKTHROUGH_CONFIG, PATTERNS, "  format: iso", "  format: iso\n  timezone: 2020-13-45",
     "timestamp.timezone", "timezone: 2020-13-45", "unknown timezone '2020-13-45'"),
    ("viz_resources.yaml", EXAMPLE_CONFIG, VIZ, 'default_color: "#9e9e9e"', "default_color: 2020-13-45",
     "default_color", "default_color: 2020-13-45", "String should match pattern"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: !!timestamp 2020-13-45",
     "settings.max_jump", "max_jump: !!timestamp", "cannot read '2020-13-45' as !!timestamp: month must be in 1..12"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: !!timestamp soon",
     "settings.max_jump", "max_jump: !!timestamp", "cannot read 'soon' as !!timestamp (hint: remove the !!timestamp tag"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: !!int four",
     "settings.max_jump", "max_jump: !!int", "cannot read 'four' as !!int: invalid literal"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", "  max_jump: !!float four",
     "settings.max_jump", "max_jump: !!float", "cannot read 'four' as !!float"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  permissive: true", "  permissive: !!bool maybe",
     "settings.permissive", "permissive: !!bool", "cannot read 'maybe' as !!bool"),
    ("process_logic.yaml", WALKTHROUGH_CONFIG, LOGIC, "  max_jump: 4", f"  max_jump: {BIG}",
     "settings.max_jump", "max_jump: 999", "cannot read '9999"),
    ("machine_graph.yaml", WALKTHROUGH_CONFIG, GRAPH, "    sensors: {presence: false}", "    sensors: {!!int x: false}",
     "components[1].sensors", "{!!int x", "cannot read 'x' as !!int"),
    ("machine_graph.yaml", WALKTHROUGH_CONFIG, GRAPH, "    aliases: [L1]", "    aliases: &a [*a]",
     "components[0].aliases[0]", "aliases: &a", "Input should be a valid string"),
]


@pytest.mark.parametrize(("name", "base", "text", "old", "new", "path", "needle", "message"), SCALAR_CASES,
                         ids=[case[4].strip()[:40] for case in SCALAR_CASES])
def test_a_scalar_pyyaml_cannot_construct_is_a_config_error(
    name: str, base: Path, text: str, old: str, new: str, path: str, needle: str, message: str,
    parser: str, make_config: Callable[..., Path], run_cli,
) -> None:
    assert old in text, "the case no longer matches the config"
    broken = text.replace(old, new, 1)
    cfg = make_config(base, raw={name: broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2
    assert "Traceback" not in err and "internal error" not in err
    assert f"{cfg / name}:{line_of(broken, needle)}: {path}: {message}" in err, err


def test_a_number_too_long_for_int_is_text_once_quoted(make_config: Callable[..., Path], run_cli) -> None:
    cfg = make_config(raw={"process_logic.yaml": LOGIC.replace("  max_jump: 4", f"  max_jump: {BIG}", 1)})
    _, _, err = run_cli("validate", "--config", cfg)
    assert "(hint: quote it to keep it as text)" in err, err


def test_a_date_like_value_is_the_string_it_reads_as_everywhere(
    parser: str, make_config: Callable[..., Path], run_cli, tmp_path: Path,
) -> None:
    # a sensor's initial value may be any scalar: `2020-13-45` is the text it reads as
    # (as if quoted), and every reader of the configs takes it so, simulate included
    graph = (EXAMPLE_CONFIG / "machine_graph.yaml").read_text()
    old = "    sensors: {presence: false, clamped: false}"
    assert old in graph
    cfg = make_config(EXAMPLE_CONFIG, raw={
        "machine_graph.yaml": graph.replace(old, "    sensors: {presence: 2020-13-45, clamped: 2020-01-02}", 1),
    })
    code, out, err = run_cli("validate", "--config", cfg)
    assert (code, err) == (0, "") and out.startswith("OK")
    config = load_config(cfg)
    component = next(c for c in config.graph.components if "presence" in c.sensors and "clamped" in c.sensors)
    assert component.sensors == {"presence": "2020-13-45", "clamped": "2020-01-02"}
    code, _, err = run_cli("simulate", "--out", tmp_path / "sim.log", "--config", cfg, "--cycles", "2", "-q")
    assert code == 0 and "Traceback" not in err, err


def test_nesting_past_libyaml_limit_is_a_syntax_error_with_a_line(
    make_config: Callable[..., Path], run_cli,
) -> None:
    # libyaml refuses it; the pure-Python parser, asked to word the error, would recurse
    # past Python's limit: the error libyaml gave is reported
    deep = "[" * 1500 + "]" * 1500
    broken = LOGIC.replace("  max_jump: 4", f"  max_jump: {deep}", 1)
    cfg = make_config(raw={"process_logic.yaml": broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "Traceback" not in err
    assert f"process_logic.yaml:{line_of(broken, 'max_jump: [')}: YAML syntax: exceeded maximum nesting depth" in err, err


def _laughs(style: str) -> str:
    """`x-anchors:` with nine levels, each nine aliases of the one before: 9**9 values from 90."""
    lines = ["x-anchors:", "  l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):
        if style == "flow":
            lines.append(f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
        else:
            lines += [f"  l{n}: &l{n}", *[f"    - *l{n - 1}"] * 9]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("style", ["flow", "block"])
def test_aliases_that_expand_a_document_exponentially_are_refused(
    style: str, parser: str, make_config: Callable[..., Path], run_cli,
) -> None:
    # l0 is 10 values, l1 1 + 9 * 10 = 91, l2 820, l3 7381, l4 66430; the aliases of l1..l4
    # add 9 * (10 + 91 + 820 + 7381) = 74718 values, and the first alias in l5 66430 more
    broken = _laughs(style) + GRAPH.replace("    aliases: [L1]", "    aliases: *l8", 1)
    tip = line_of(broken, "l5: &l5") + (style == "block")
    cfg = make_config(raw={"machine_graph.yaml": broken})
    started = time.monotonic()
    code, _, err = run_cli("validate", "--config", cfg)
    assert time.monotonic() - started < 5  # not 387 million values validated
    assert code == 2 and "Traceback" not in err
    assert (f"machine_graph.yaml:{tip}: x-anchors.l5[0]: YAML: this alias expands the document too far "
            f"(hint: aliases expand this document to more than 100000 values; aliases of aliases multiply)") in err, err


def test_aliases_may_add_up_to_the_limit_and_not_one_value_more(parser: str, tmp_path: Path) -> None:
    assert yaml_io.MAX_VALUES == 100 * 1000
    text = "a: &a [" + ", ".join(["x"] * 999) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"  # 100 x 1000
    path = tmp_path / "aliases.yaml"
    path.write_text(text)
    f = yaml_io.ConfigFile("aliases.yaml")
    data = yaml_io.read_yaml(path, f)
    assert f.problems == [] and len(data["b"]) == 100 and data["b"][99] is data["a"]
    path.write_text(text + "c: &c x\nd: *c\n")
    f = yaml_io.ConfigFile("aliases.yaml")
    assert yaml_io.read_yaml(path, f) is None
    assert [(p.path, p.line) for p in f.problems] == [("d", 4)]


def test_the_readers_of_a_validated_config_refuse_it_too() -> None:
    # simulate, report and viz read the YAML without the schema
    with pytest.raises(yaml.YAMLError, match=r"more than 100000 values\n.*line 7,"):
        yaml_io.load_yaml(_laughs("flow"))


def test_a_config_with_a_few_aliases_loads(make_config: Callable[..., Path], run_cli) -> None:
    graph = GRAPH.replace("    aliases: [L1]", "    aliases: &l1 [L1]", 1).replace("    aliases: [L1]", "    aliases: *l1", 1)
    assert "&l1" in graph and "*l1" in graph
    cfg = make_config(raw={"machine_graph.yaml": graph})
    code, out, err = run_cli("validate", "--config", cfg)
    assert (code, err) == (0, "") and out.startswith("OK")
    assert [c.aliases for c in load_config(cfg).graph.components] == [["L1"], ["L1"]]


# scalars that PyYAML's resolvers and constructors turn into something other than text
_DATE = r"-?\d{1,5}-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d{0,9})?( ?(Z|[+-]\d{1,2}(:\d{1,2})?))?)?"
_TRICKY = st.one_of(
    st.from_regex(_DATE, fullmatch=True),
    st.from_regex(r"[-+]?(0[box]?)?[0-9a-fA-F_:.eE+]{0,12}", fullmatch=True),
    st.sampled_from(["yes", "No", "~", ".inf", "-.NaN", "<<", "=", "&a x", "*a", "*b", "'x", "9" * 4400]),
    st.text(max_size=12),
)
_TAG = st.sampled_from(["", "", "", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!str ", "!!binary ", "!!null ",
                        "!!set ", "!!omap ", "!!seq ", "!!map ", "!!merge ", "!foo ", "!!python/none "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_TAG, _TRICKY, _TAG, _TRICKY, st.booleans()), min_size=1, max_size=6))
def test_read_yaml_never_raises_on_any_scalar(
    parser: str, tmp_path: Path, entries: list[tuple[str, str, str, str, bool]],
) -> None:
    # each entry is `tag key: tag value`, as a block line or inside a flow mapping
    lines = [f"{kt}{key}: {vt}{value}" for kt, key, vt, value, _ in entries]
    text = "\n".join(line if block else "{" + line + "}" for line, (*_, block) in zip(lines, entries, strict=True))
    path = tmp_path / "any.yaml"
    path.write_text(text, encoding="utf-8")
    f = yaml_io.ConfigFile("any.yaml")
    data = yaml_io.read_yaml(path, f)  # never raises
    assert all(p.line is None or 1 <= p.line <= len(text.splitlines()) + 1 for p in f.problems), f.problems
    if data is None and not f.problems:  # only a document that is null (comments, `~`) reads as nothing
        assert yaml.load(text, Loader=yaml_io._LOADER) is None


def test_a_control_character_is_a_config_error_with_its_line(
    parser: str, make_config: Callable[..., Path], run_cli,
) -> None:
    broken = LOGIC.replace("  max_jump: 4", "  max_jump: 4\x1f", 1)
    cfg = make_config(raw={"process_logic.yaml": broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "Traceback" not in err
    line = line_of(broken, "max_jump: 4")
    assert f"process_logic.yaml:{line}: YAML: unacceptable character #x001f" in err, err


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


@pytest.mark.parametrize(("fmt", "hint"), [
    ("iso8601", "did you mean 'iso'?"),
    ("ISO", "did you mean 'iso'?"),
    ("epoch_s", "did you mean 'epoch_ms'?"),
    ("unix", FORMAT_HINT),
    ("YYYY-MM-DD hh:mm:ss", FORMAT_HINT),
])
def test_a_format_that_reads_no_part_of_a_time_is_an_error(
    fmt: str, hint: str, make_config: Callable[..., Path], run_cli,
) -> None:
    # such a format matches only its own literal text: every line of the log would be malformed
    broken = PATTERNS.replace("  format: iso", f"  format: '{fmt}'", 1)
    cfg = make_config(raw={"log_patterns.yaml": broken})
    code, _, err = run_cli("validate", "--config", cfg)
    assert code == 2 and "Traceback" not in err
    assert (f"log_patterns.yaml:{line_of(broken, 'format:')}: timestamp.format: format {fmt!r} has no directive "
            f"(%Y, %H, ...): it reads no part of a time (hint: {hint})\n") in err, err
