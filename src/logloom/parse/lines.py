"""What lines become, told to a person: the event, or why there is none.

``explain`` runs one line through the same parser the pipeline uses and returns a
``LineOutcome``; ``LineOutcome.to_dict`` is the JSON object ``logloom parse``
prints for it. ``parse_log`` (a file or stdin) and ``parse_texts`` (``--line``)
are that command's two readings; rule tests and coverage reuse ``explain``, so a
line reads the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from logloom.config.load import Config
from logloom.logtime.timestamps import TimeFormatter
from logloom.parse.budget import OutOfTime, bounded, out_of_time
from logloom.parse.json_lines import JsonLineParser
from logloom.parse.log_parser import LineParser
from logloom.parse.parsers import line_parser
from logloom.parse.source import Block, LineReader, open_log, open_source
from logloom.parse.stream import Stream, is_stream
from logloom.records import Event

Kind = Literal["event", "unmatched", "malformed"]
SHOWN_CHARS = 200  # of an unmatched or malformed line's text
Resolve = Callable[[str, str | None, str], str | None]  # (target, target_type, event) -> component id


@dataclass(frozen=True)
class LineOutcome:
    """One line's fate: an ``event``; ``unmatched`` (a time, but no pattern: noise); or
    ``malformed`` (counted and put aside), with the ``reason``."""

    line_no: int
    text: str
    kind: Kind
    event: Event | None = None
    reason: str | None = None
    ts: int | None = None  # the line's time, when it has one
    searched: str | None = None  # what the patterns were tried on (text after the timestamp)

    def to_dict(self, format_ts: Callable[[int], str], resolve: Resolve | None = None) -> dict[str, Any]:
        """The JSON object of ``parse``; ``resolve``: the component id a named target means
        (None: no such component), to show it beside the name the line used."""
        if self.event is not None:
            e = self.event
            shown = {"line": self.line_no, "time": format_ts(e.ts), "event": e.event, "target": e.target}
            if resolve is not None:
                if e.target is None:
                    shown["component"], shown["routed"] = None, "at run time, first in first out (SPEC 4.2)"
                else:
                    shown["component"] = resolve(e.target, e.target_type, e.event)
                    if shown["component"] is None:
                        shown["unknown_target"] = f"no component id or alias {e.target!r}"
            return {**shown, "target_type": e.target_type, "pattern": e.pattern, "fields": e.fields}
        if self.kind == "malformed":
            return {"line": self.line_no, "malformed": self.reason, "text": self.text[:SHOWN_CHARS]}
        out: dict[str, Any] = {"line": self.line_no, "unmatched": self.text[:SHOWN_CHARS]}
        if self.ts is not None:
            out["time"] = format_ts(self.ts)
        out["reason"] = self.reason
        if self.searched is not None:
            out["searched"] = self.searched[:SHOWN_CHARS]
        return out


def explain(parser: LineParser | JsonLineParser, text: str, line_no: int) -> LineOutcome:
    """What ``text`` becomes (the parser's timestamp memory moves on as for any line)."""
    split = parser.split(text)
    if isinstance(split, str):
        return LineOutcome(line_no, text, "malformed", reason=split)
    ts, rest = split
    hit = parser.lookup(rest)  # type: ignore[arg-type]  # the text after the time, or the JSON object
    if isinstance(hit, str):
        return LineOutcome(line_no, text, "malformed", reason=hit, ts=ts)
    if hit is None:
        if isinstance(rest, dict):
            return LineOutcome(line_no, text, "unmatched", reason="no pattern matches the object", ts=ts)
        return LineOutcome(line_no, text, "unmatched", reason="no pattern matches the text after the timestamp",
                           ts=ts, searched=rest)
    return LineOutcome(line_no, text, "event", event=Event(line_no, ts, *hit), ts=ts)


class _Explainer:
    """``explain`` with the bound on matching time (``max_match_seconds``): a line that runs
    out of it is malformed with that reason, and the parser, maybe interrupted half-way,
    is replaced by a fresh one (its timestamp memory carried over)."""

    def __init__(self, config: Config) -> None:
        self.spec = config.patterns
        self.parser = line_parser(config.patterns)
        self._written: int | None = None

    def written_by(self, written: int | None) -> None:
        self._written = written
        self.parser.timestamps.written_by(written)

    def __call__(self, text: str, line_no: int) -> LineOutcome:
        try:
            return bounded(self.spec.max_match_seconds, explain, self.parser, text, line_no)
        except OutOfTime:
            last, self.parser = self.parser.timestamps.last, line_parser(self.spec)
            self.parser.timestamps.last = last
            self.parser.timestamps.written_by(self._written)
            return LineOutcome(line_no, text, "malformed", reason=out_of_time(self.spec.max_match_seconds))


def too_long(line_no: int, text: str, size: int) -> LineOutcome:
    """A line longer than ``max_line_bytes`` (only its first bytes were kept)."""
    return LineOutcome(line_no, text, "malformed", reason=f"line too long ({size} bytes)")


# -- the parse command ---------------------------------------------------------------------
def parse_log(config: Config, log: Path, out: TextIO, *, show_all: bool = False,
              resolve: Resolve | None = None) -> dict[str, int]:
    """Write the events of ``log`` (a file, or ``-`` for stdin) to ``out`` as JSON lines
    (``show_all``: the other lines too). Nothing else runs. Returns the line counts."""
    lines = _Explainer(config)
    write = _writer(lines.parser, out, resolve)
    counts = dict.fromkeys(("lines", "events", "unmatched", "malformed"), 0)
    for block in log_blocks(log, config.patterns.max_line_bytes):
        lines.written_by(block.written)
        for i, text in enumerate(block.texts()):
            counts["lines"] += 1
            n = counts["lines"]
            outcome = too_long(n, text, block.long[i]) if i in block.long else lines(text, n)
            counts["events" if outcome.kind == "event" else outcome.kind] += 1
            if show_all or outcome.kind == "event":
                write(outcome)
    return counts


def parse_texts(config: Config, texts: Iterable[str], out: TextIO,
                resolve: Resolve | None = None) -> list[LineOutcome]:
    """What each of ``texts`` becomes, in order, as if they were consecutive lines of a log
    (``parse --line``): every outcome is written, unmatched and malformed ones too."""
    lines = _Explainer(config)
    write = _writer(lines.parser, out, resolve)
    outcomes = [lines(as_log_line(text), n) for n, text in enumerate(texts, start=1)]
    for outcome in outcomes:
        write(outcome)
    return outcomes


def as_log_line(text: str) -> str:
    """``text`` as a log file's line would read: bytes that are not UTF-8 (kept by Python as
    lone surrogates in a command line's arguments) replaced by U+FFFD, a trailing CR dropped."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate no byte was escaped to
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:-1] if text.endswith("\r") else text


def _writer(parser: LineParser | JsonLineParser, out: TextIO, resolve: Resolve | None) -> Callable[[LineOutcome], None]:
    fmt = TimeFormatter("iso", tz=parser.timestamps.tz, instants=parser.timestamps.has_instants)

    def write(outcome: LineOutcome) -> None:
        out.write(json.dumps(outcome.to_dict(fmt, resolve)) + "\n")

    return write


def log_blocks(log: Path, max_line: int) -> Iterator[Block]:
    """The blocks of a log file from its start, or of a stream (``-``, a pipe) to its end."""
    if not is_stream(log):
        open_log(log).close()  # a file that is missing or cannot be read, named (exit 2)
        with open_source(log) as fh:  # a gzip file (a rotated log) as its content
            yield from LineReader(fh, 0, max_line).blocks()
        return
    stream = Stream(log, max_line)
    try:
        while stream.follow:
            block = stream.next_block()  # waits a moment for data itself
            if block is not None:
                yield block
    finally:
        stream.close()
