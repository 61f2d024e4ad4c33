"""`logloom test`: the runner itself. Every expected row here is worked out by hand
from the walkthrough config (SPEC 3 and 9), never taken from the runner's output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from logloom.authoring.rule_tests import run_lines
from logloom.config.load import load_config
from tests.helpers import ROOT, WALKTHROUGH_CONFIG, read_rows

ARRIVE = "2026-01-21 10:04:50 [INFO] Pallet P-1 arrived at L1"
START = "2026-01-21 10:05:00 [INFO] Dispensing Started at L1"
FINISH = "2026-01-21 10:05:15.500 [INFO] Process finished volume=12.25ml"
# DISPENSING from 10:05:00 to 10:05:15.5; the volume of the finish line
CYCLE = "2026-01-21T10:05:15.500000,l1_dispenser,process_cycle_time,15.5,s,DISPENSING"
VOLUME = "2026-01-21T10:05:15.500000,l1_dispenser,dispensed_volume,12.25,ml,DISPENSING"


def block(*lines: str, indent: int = 6) -> str:
    return "|\n" + "".join(" " * indent + line + "\n" for line in lines)


def case(name: str, lines: list[str], rows: list[str] | None, *, extra: str = "") -> str:
    text = f"  - name: {name}\n{extra}    lines: {block(*lines)}"
    if rows is not None:
        text += f"    rows: {block(*rows)}" if rows else '    rows: ""\n'
    return text


def write(tmp_path: Path, *cases: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text("cases:\n" + "".join(cases))
    return path


def test_a_passing_file_exits_0(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, case("cycle with volume", [ARRIVE, START, FINISH], [CYCLE, VOLUME],
                                extra="    events:\n      - {line: 3, event: PROCESS_END, target: l1_dispenser, "
                                      "pattern: process_finished, fields: {volume: 12.25}, outcome: transition, "
                                      "state: UNCLAMPING}\n"))
    code, out, err = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    assert (code, err) == (0, "")
    assert "PASS" in out and "cycle with volume" in out
    assert out.splitlines()[-1] == "1 case in 1 file: 1 passed"


def test_a_failing_case_prints_expected_and_got_with_the_line_of_each_row(tmp_path: Path, run_cli) -> None:
    wrong = CYCLE.replace(",15.5,", ",15.0,")
    path = write(tmp_path, case("good", [ARRIVE, START], []),
                 case("cycle", [ARRIVE, START, FINISH], [wrong, VOLUME],
                      extra="    events:\n      - {line: 2, state: READY_TO_DISPENSE, outcome: transition}\n"))
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("PASS") and line.endswith("good") for line in lines)
    fail = next(i for i, line in enumerate(lines) if line.startswith("FAIL"))
    assert lines[fail].endswith(":7 cycle")  # the case's line in the file
    body = [line.strip() for line in lines[fail + 1:]]
    assert f"- {wrong}" in body
    got = next(line for line in body if line.startswith(f"+ {CYCLE}"))
    assert got.endswith(f"<- line 3: {FINISH}")
    kept = next(line for line in body if line.startswith(VOLUME))  # equal rows are shown with their line too
    assert kept.endswith(f"<- line 3: {FINISH}")
    # only the key that differs is reported; outcome matched
    assert "events: line 2: state: expected READY_TO_DISPENSE, got DISPENSING" in body
    assert not any("outcome" in line for line in body if line.startswith("events:"))
    assert "3  PROCESS_END [process_finished] -> l1_dispenser: transition DISPENSING -> UNCLAMPING (2 rows)" in body
    assert lines[-1] == "2 cases in 1 file: 1 passed, 1 failed"


def test_a_missing_row_and_an_extra_row_are_both_shown(tmp_path: Path, run_cli) -> None:
    extra = "2026-01-21T10:05:15.500000,l1_dispenser,unclamp_time,1.0,s,UNCLAMPING"
    path = write(tmp_path, case("rows", [ARRIVE, START, FINISH], [CYCLE, extra]))
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    body = [line.strip() for line in out.splitlines()]
    assert code == 1
    assert f"- {extra}" in body
    assert any(line.startswith(f"+ {VOLUME}") for line in body)
    assert any(line.startswith(CYCLE) for line in body)


def test_a_strict_case_runs_without_jumps(tmp_path: Path, run_cli) -> None:
    # the arrival is lost: permissive, PROCESS_START jumps IDLE -> READY_TO_DISPENSE (synthesised,
    # no metrics) -> DISPENSING; strict, it is invalid, and the finish line (no station) finds no
    # dispenser in a state that takes PROCESS_END: unrouted
    lost = [START, FINISH]
    permissive_rows = [CYCLE, VOLUME]
    path = write(
        tmp_path,
        case("permissive", lost, permissive_rows, extra="    events:\n      - {line: 1, outcome: jump}\n"),
        case("strict", lost, [], extra="    strict: true\n    events:\n"
                                       "      - {line: 1, outcome: invalid_transition, state: IDLE}\n"
                                       "      - {line: 2, outcome: unrouted, target: null}\n"),
    )
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    assert code == 0, out
    # the same expectation without `strict: true` fails: the flag is what made the case pass
    unflagged = write(tmp_path, case("not strict", lost, []), name="unflagged.yaml")
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, unflagged)
    assert code == 1
    assert any(line.strip().startswith(f"+ {CYCLE}") for line in out.splitlines())


@pytest.mark.parametrize(("text", "where", "message"), [
    ("cases:\n  - name: a\n    lines: |\n      x\n    rowz: ''\n", ":5: cases[0].rowz: unknown key",
     "did you mean 'rows'?"),
    ("cases:\n  - name: a\n    lines: x\n   rows: ''\n", ":4: YAML syntax", ""),
    ("cases:\n  - name: a\n    lines: |\n      x\n", ":2: cases[0]: a case expects 'rows', 'events' or both", ""),
    ("cases:\n  - name: a\n    lines: |\n      x\n    events:\n      - {line: 2, event: X}\n",
     ":6: cases[0].events[0].line: line 2 is past the case's 1 lines", ""),
    ("cases:\n  - name: a\n    lines: x\n    rows: ''\n  - name: a\n    lines: x\n    rows: ''\n",
     ":5: cases[1].name: case name 'a' is used twice", ""),
    ("cases:\n  - name: a\n    lines: x\n    events: [{line: 1, outcome: moved}]\n",
     ":4: cases[0].events[0].outcome: Input should be", ""),
    ("cases:\n  - name: a\n    lines: x\n    events: [{line: 1, target: l9}]\n",
     ":4: cases[0].events[0].target: 'l9' is no component id of this config", ""),
    ("cases: []\n", ":1: cases: List should have at least 1 item", ""),
])
def test_a_broken_test_file_exits_2_with_file_line_and_key(tmp_path: Path, run_cli, text: str, where: str,
                                                          message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    code, out, err = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    assert code == 2 and out == ""
    assert f"{path}{where}" in err and message in err
    assert "Traceback" not in err


def test_every_broken_file_is_reported_at_once(tmp_path: Path, run_cli) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("cases:\n  - name: a\n    lines: x\n    rowz: ''\n")
    two = tmp_path / "two.yaml"
    two.write_text("case: []\n")
    code, _, err = run_cli("test", "--config", WALKTHROUGH_CONFIG, one, two)
    assert code == 2
    assert "3 config errors" in err and f"{one}:4: cases[0].rowz" in err
    assert f"{two}:1: case: unknown key" in err and f"{two}:1: cases: required key is missing" in err


def test_no_test_files_is_an_input_error(tmp_path: Path, run_cli, make_config) -> None:
    config = make_config()
    shutil.rmtree(config / "tests")
    code, out, err = run_cli("test", "--config", config)
    assert code == 2 and f"{config / 'tests'}: no rule tests" in err
    code, out, _ = run_cli("validate", "--config", config)
    assert code == 0 and out.splitlines()[1].startswith("no rule tests yet")


def test_events_alone_are_checked_when_rows_are_not_given(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, case("events", [ARRIVE, "2026-01-21 10:04:51 heartbeat", "no time"], None,
                                extra="    events:\n      - {line: 1, target: l1_dispenser}\n"
                                      "      - {line: 2, event: null, outcome: unmatched}\n"
                                      "      - {line: 3, outcome: malformed}\n"))
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, path)
    assert code == 0, out


def test_a_directory_argument_runs_its_files(tmp_path: Path, run_cli) -> None:
    write(tmp_path, case("a", [ARRIVE], []), name="a.yaml")
    write(tmp_path, case("b", [ARRIVE, START], []), name="b.yaml")
    code, out, _ = run_cli("test", "--config", WALKTHROUGH_CONFIG, tmp_path, "-q")
    assert code == 0
    assert out == "2 cases in 2 files: 2 passed\n"


SHIPPED = [ROOT / "config", *sorted(p / "config" for p in (ROOT / "examples").iterdir() if (p / "config").is_dir())]


@pytest.mark.parametrize("config_dir", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_config_has_passing_rule_tests(config_dir: Path, run_cli) -> None:
    code, out, _ = run_cli("validate", "--config", config_dir)
    assert code == 0 and "rule test file" in out.splitlines()[1], (
        f"every bundled config has rule tests: write {config_dir / 'tests'}/*.yaml, its rows worked out by hand "
        "(docs/configuration.md, 'Rule tests')")
    code, out, err = run_cli("test", "--config", config_dir)
    assert code == 0, out + err
    assert " 0 passed" not in out


def test_the_runner_gives_what_monitor_gives() -> None:
    # the bundled example's expected.csv is the simulator's ground truth, which monitor
    # reproduces (test_golden); the runner fed the same lines must give the same rows
    example = ROOT / "examples" / "dispense_line"
    lines = (example / "input.log").read_bytes().decode("utf-8", "replace").splitlines()
    results = run_lines(load_config(example / "config"), lines)
    got = [row.split(",") for r in results for row in r.rows]
    assert got == read_rows(example / "expected.csv")
