"""Rule tests (SPEC 11): YAML files of cases, each a few log lines fed to a fresh
engine and the rows (and, optionally, the events) they must give.

``load_tests`` reads and checks every file with the config stage's machinery, so a
broken test file is reported like a broken config: file, key path, line, hint, every
problem at once (``ConfigError``, exit 2). ``run_case`` parses and steps the lines
exactly as monitor would and compares: rows as text, events on the keys given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from logloom.authoring.trace import MALFORMED, UNMATCHED, trace
from logloom.config.load import Config
from logloom.config.validation import validate
from logloom.config.yaml_io import ConfigFile, read_yaml
from logloom.engine.engine import Engine
from logloom.errors import ConfigError, InputError
from logloom.logtime.timestamps import TimeFormatter
from logloom.outputs.sinks import metric_lines
from logloom.parse.lines import explain
from logloom.parse.parsers import line_parser

TESTS_DIR = "tests"
Scalar = bool | int | float | str
Outcome = Literal["transition", "jump", "guard_blocked", "invalid_transition", "data_only", "unknown_target",
                  "unrouted", "unmatched", "malformed"]  # trace.OUTCOMES


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedEvent(_Model):
    """What line ``line`` (1-based) of a case must become; only the keys given are compared."""

    line: int = Field(ge=1)
    event: str | None = None  # null: the line makes no event (unmatched or malformed)
    pattern: str | None = None
    target: str | None = None  # the component reached (its id), null: none
    fields: dict[str, Scalar] = {}  # compared on the fields given
    outcome: Outcome | None = None
    state: str | None = None  # the target's state after the line


class Case(_Model):
    name: str = Field(min_length=1)
    strict: bool = False
    lines: str | list[str]
    rows: str | list[str] | None = None
    events: list[ExpectedEvent] = []

    @model_validator(mode="after")
    def _expects_something(self) -> Case:
        if "rows" not in self.model_fields_set and not self.events:
            raise ValueError("a case expects 'rows', 'events' or both")
        return self

    @property
    def log_lines(self) -> list[str]:
        return split_lines(self.lines)

    @property
    def expected_rows(self) -> list[str] | None:
        """The rows to compare, blank lines and surrounding spaces dropped; None: not compared."""
        if "rows" not in self.model_fields_set:
            return None
        rows = self.rows if isinstance(self.rows, list) else (self.rows or "").split("\n")
        return [r.strip() for r in rows if r.strip()]


class RuleFileSpec(_Model):
    cases: list[Case] = Field(min_length=1)


def split_lines(lines: str | list[str]) -> list[str]:
    """A block of log lines as the lines a log file would hold (a final newline ends the last)."""
    if isinstance(lines, list):
        return list(lines)
    out = lines.split("\n")
    return out[:-1] if out and out[-1] == "" else out


@dataclass(frozen=True)
class RuleFile:
    path: Path
    cases: list[Case]
    case_lines: list[int | None]  # the line of each case in the file


# -- reading ----------------------------------------------------------------------------
def rule_test_files(config_dir: Path) -> list[Path]:
    """The rule test files of a config directory: ``tests/*.yaml`` (and ``*.yml``), sorted."""
    folder = config_dir / TESTS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def resolve_paths(config_dir: Path, given: list[Path]) -> list[Path]:
    """The files to run: those given (a directory means its *.yaml), else the config's."""
    if not given:
        found = rule_test_files(config_dir)
        if not found:
            raise InputError(f"{config_dir / TESTS_DIR}: no rule tests (*.yaml) to run; "
                             "see docs/configuration.md, 'Rule tests'")
        return found
    paths: list[Path] = []
    for path in given:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                raise InputError(f"{path}: no rule tests (*.yaml) in this directory")
            paths += inside
        else:
            paths.append(path)
    return paths


def load_tests(paths: list[Path], config: Config) -> list[RuleFile]:
    """Read and check every file; ConfigError listing the problems of all of them."""
    loaded: list[RuleFile] = []
    problems = []
    for path in paths:
        f = ConfigFile(str(path))
        spec = validate(RuleFileSpec, read_yaml(path, f), f)
        if spec is not None:
            _check(spec, config, f)
        problems += f.problems
        if spec is not None and not f.problems:
            loaded.append(RuleFile(path, spec.cases, [f.line_of(("cases", i)) for i in range(len(spec.cases))]))
    errors = [p for p in problems if not p.warning]
    if errors:
        raise ConfigError(errors)
    return loaded


def _check(spec: RuleFileSpec, config: Config, f: ConfigFile) -> None:
    """What the schema cannot see: names used twice, lines past the case's end, unknown names."""
    names: set[str] = set()
    components = {c.id for c in config.graph.components}
    events = {p.event for p in config.patterns.patterns}
    patterns = {p.name for p in config.patterns.patterns}
    for i, case in enumerate(spec.cases):
        if case.name in names:
            f.add(("cases", i, "name"), f"case name '{case.name}' is used twice", "give each case its own name")
        names.add(case.name)
        count = len(case.log_lines)
        for j, ev in enumerate(case.events):
            path = ("cases", i, "events", j)
            if ev.line > count:
                f.add((*path, "line"), f"line {ev.line} is past the case's {count} lines")
            for key, known, what in (("target", components, "component id"), ("event", events, "event of a pattern"),
                                     ("pattern", patterns, "pattern name")):
                value = getattr(ev, key)
                if key in ev.model_fields_set and value is not None and value not in known:
                    f.add((*path, key), f"'{value}' is no {what} of this config",
                          "known: " + ", ".join(sorted(known)) if len(known) <= 12 else None)


# -- running ----------------------------------------------------------------------------
@dataclass
class LineResult:
    """What one log line of a case became."""

    number: int
    text: str
    outcome: str
    event: str | None = None
    pattern: str | None = None
    target: str | None = None  # the id of the component reached; None: none
    raw_target: str | None = None  # the name the line gave, if any
    fields: dict[str, Any] = field(default_factory=dict)
    before: str | None = None
    state: str | None = None
    reason: str | None = None  # why the line made no event
    rows: list[str] = field(default_factory=list)

    def value(self, key: str) -> Any:
        return {"event": self.event, "pattern": self.pattern, "target": self.target,
                "outcome": self.outcome, "state": self.state}[key]


@dataclass
class CaseResult:
    file: Path
    line: int | None
    case: Case
    lines: list[LineResult]
    expected_rows: list[str] | None
    event_problems: list[str]

    @property
    def got_rows(self) -> list[tuple[str, LineResult]]:
        return [(row, r) for r in self.lines for row in r.rows]

    @property
    def rows_ok(self) -> bool:
        return self.expected_rows is None or self.expected_rows == [row for row, _ in self.got_rows]

    @property
    def passed(self) -> bool:
        return self.rows_ok and not self.event_problems


def run_lines(config: Config, lines: list[str], *, strict: bool = False) -> list[LineResult]:
    """Each line parsed and stepped through a fresh engine, in order, as monitor would."""
    parser = line_parser(config.patterns)
    engine = Engine(config, strict=strict)
    fmt = TimeFormatter("iso", tz=parser.timestamps.tz, instants=parser.timestamps.has_instants)
    results = []
    for number, text in enumerate(lines, 1):
        outcome = explain(parser, text, number)  # what `parse --line` says of it
        parsed = outcome.event
        if parsed is None:
            kind = UNMATCHED if outcome.kind == "unmatched" else MALFORMED
            results.append(LineResult(number, text, kind, reason=outcome.reason))
        else:
            t = trace(engine, parsed.ts, parsed.event, parsed.target, parsed.target_type, parsed.fields)
            results.append(LineResult(
                number, text, t.outcome, parsed.event, parsed.pattern,
                t.comp.id if t.comp is not None else None, parsed.target, dict(parsed.fields), t.before,
                t.comp.state if t.comp is not None else None,
                rows=[row.rstrip("\n") for row in metric_lines(t.rows, fmt.format_new)],
            ))
    return results


def run_case(config: Config, test_file: RuleFile, index: int) -> CaseResult:
    case = test_file.cases[index]
    lines = run_lines(config, case.log_lines, strict=case.strict)
    return CaseResult(test_file.path, test_file.case_lines[index], case, lines, case.expected_rows,
                      _event_problems(case, lines))


def _event_problems(case: Case, lines: list[LineResult]) -> list[str]:
    problems = []
    for ev in case.events:
        got = lines[ev.line - 1]
        for key in ("event", "pattern", "target", "outcome", "state"):
            if key in ev.model_fields_set and getattr(ev, key) != got.value(key):
                problems.append(f"line {ev.line}: {key}: expected {_show(getattr(ev, key))}, "
                                f"got {_show(got.value(key))}")
        for name, value in ev.fields.items():
            if name not in got.fields:
                problems.append(f"line {ev.line}: fields.{name}: expected {value!r}, got nothing captured")
            elif not _same(got.fields[name], value):
                problems.append(f"line {ev.line}: fields.{name}: expected {value!r}, got {got.fields[name]!r}")
    return problems


def _same(got: Any, expected: Any) -> bool:
    if isinstance(got, bool) or isinstance(expected, bool):
        return got is expected
    return bool(got == expected)


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def run_tests(config: Config, paths: list[Path]) -> list[CaseResult]:
    """Every case of every file, in order (ConfigError first if any file is broken)."""
    return [run_case(config, f, i) for f in load_tests(paths, config) for i in range(len(f.cases))]


def tests_notice(config_dir: Path) -> str:
    """What ``validate`` says about the directory's rule tests."""
    count = len(rule_test_files(config_dir))
    if count == 0:
        return (f"no rule tests yet: write {config_dir / TESTS_DIR}/*.yaml and run `logloom test` "
                "(docs/configuration.md, 'Rule tests')")
    return f"{count} rule test file{'s' if count > 1 else ''} in {config_dir / TESTS_DIR}; run `logloom test`"
