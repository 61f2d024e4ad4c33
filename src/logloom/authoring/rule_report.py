"""What ``logloom test`` prints: a line per case, and for a failing case the diff of
its rows (expected vs got, each got row with the log line that produced it), the
events that differ, and what every line of the case became."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from logloom.authoring.rule_tests import CaseResult, LineResult
from logloom.authoring.trace import GUARD_BLOCKED, INVALID, JUMP, MALFORMED, TRANSITION, UNMATCHED


def where(path: Path, line: int | None) -> str:
    """``path:line``, the path relative to the working directory when it is inside it."""
    shown = str(path)
    try:
        shown = os.path.relpath(path)
        if shown.startswith(".."):
            shown = str(path)
    except ValueError:  # another drive
        pass
    return f"{shown}:{line}" if line else shown


def render(results: Iterable[CaseResult], out: TextIO, *, quiet: bool = False) -> tuple[int, int]:
    """Print every case (only the failing ones when ``quiet``); return (passed, failed)."""
    passed = failed = 0
    for r in results:
        if r.passed:
            passed += 1
            if not quiet:
                out.write(f"PASS {where(r.file, r.line)} {r.case.name}\n")
            continue
        failed += 1
        out.write(f"FAIL {where(r.file, r.line)} {r.case.name}" + (" (strict)" if r.case.strict else "") + "\n")
        if not r.rows_ok:
            out.write(rows_diff(r))
        for problem in r.event_problems:
            out.write(f"  events: {problem}\n")
        out.write("  what each line became:\n")
        for line in r.lines:
            out.write(f"    {line.number:>3}  {describe(line)}\n")
    return passed, failed


def rows_diff(r: CaseResult) -> str:
    """The rows as a diff: ``-`` expected and not got, ``+`` got and not expected."""
    expected = r.expected_rows or []
    got = r.got_rows
    texts = [row for row, _ in got]
    width = max((len(t) for t in [*expected, *texts]), default=0)
    out = ["  rows (- expected, + got; each got row with the line that produced it):\n"]
    matcher = difflib.SequenceMatcher(None, expected, texts, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [_got_row(" ", row, line, width) for row, line in got[j1:j2]]
            continue
        out += [f"    - {row}\n" for row in expected[i1:i2]]
        out += [_got_row("+", row, line, width) for row, line in got[j1:j2]]
    if not expected and not got:
        out.append("    (no rows)\n")
    return "".join(out)


def _got_row(mark: str, row: str, line: LineResult, width: int) -> str:
    return f"    {mark} {row.ljust(width)}   <- line {line.number}: {line.text}\n"


def describe(line: LineResult) -> str:
    """One line of the trace: ``START -> sd1: transition WAITING -> FASTENING (2 rows)``."""
    if line.outcome == UNMATCHED:
        return f"unmatched ({line.reason}): {line.text}"
    if line.outcome == MALFORMED:
        return f"malformed ({line.reason}): {line.text}"
    reached = line.target or (f"? ({line.raw_target})" if line.raw_target else "?")
    head = f"{line.event} [{line.pattern}] -> {reached}: {line.outcome}"
    if line.outcome in (TRANSITION, JUMP):
        head += f" {line.before} -> {line.state}"
    elif line.outcome in (GUARD_BLOCKED, INVALID) or line.state is not None:
        head += f" in {line.state}"
    if line.rows:
        head += f" ({len(line.rows)} row{'s' if len(line.rows) > 1 else ''})"
    return head
