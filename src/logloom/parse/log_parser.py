"""Text line -> Event (SPEC 4, steps 1-2 up to the raw target name).

``LineParser.parse`` returns an ``Event``, ``None`` for an unmatched line (a
timestamp but no pattern: ordinary noise), or a ``str`` giving the reason a line
is malformed. It never raises on any text.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logloom.config.schema import LogPatterns
from logloom.logtime.years import timestamp_parser
from logloom.parse.source import Block
from logloom.records import Event

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def _to_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"not a bool: {text!r}")


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": _to_bool,
}


class _Target:
    """A compiled ``target`` template: a constant, one group, or a format string."""

    def __init__(self, template: str | None) -> None:
        self.constant: str | None = None
        self.group: str | None = None
        self.template: str | None = None
        if template is None:
            return
        groups = re.findall(r"\{(\w*)\}", template)
        if not groups:
            self.constant = template
        elif template == "{" + groups[0] + "}":
            self.group = groups[0]
        else:
            self.template = template

    def resolve(self, values: dict[str, Any]) -> str | None:
        if self.constant is not None:
            return self.constant
        if self.group is not None:
            value = values.get(self.group)
            return None if value is None else str(value)
        if self.template is not None:
            try:
                return self.template.format_map(values)
            except (KeyError, IndexError, ValueError):
                return None  # a group that took no part: route the event instead
        return None


class _Pattern:
    __slots__ = ("converters", "event", "name", "named", "regex", "target", "target_type")

    def __init__(self, spec: Any) -> None:
        self.name: str = spec.name
        self.regex = re.compile(spec.regex)
        # (name, position in match.groups()) of every named group; unnamed ones are skipped
        self.named = tuple((name, i - 1) for name, i in self.regex.groupindex.items())
        self.event: str = spec.event
        self.target = _Target(spec.target)
        self.target_type: str | None = spec.target_type
        self.converters = [(k, t, CONVERTERS[t]) for k, t in spec.fields.items() if t != "str"]


_new_event = tuple.__new__  # Event(...) through NamedTuple.__new__ costs twice as much
_CACHE_LIMIT = 8192
_Parsed = tuple[str, str | None, str | None, dict[str, Any], str]


class LineParser:
    """Compiled log_patterns.yaml. Stateful only through the timestamp's DST memory.

    The text after the timestamp repeats a lot in machine logs ("Clamp closed at
    L1"): what it parses to (event, target, typed fields, pattern) is cached, with a
    bounded size. A cached fields dict is shared between events: never mutate it.
    """

    def __init__(self, spec: LogPatterns) -> None:
        self._ts_regex = re.compile(spec.timestamp.regex)
        self._ts_group = self._ts_regex.groupindex.get("ts", 0)
        self.timestamps = timestamp_parser(spec.timestamp.format, spec.timestamp.timezone, spec.timestamp.year)
        self._patterns = [_Pattern(p) for p in spec.patterns]
        self._cache: dict[str, _Parsed | str | None] = {}

    def parse(self, text: str, line_no: int) -> Event | str | None:
        """An Event; None for an unmatched line; the reason (a str) for a malformed one."""
        split = self.split(text)
        if isinstance(split, str):
            return split
        ts, rest = split
        hit = self.lookup(rest)
        if hit is None or isinstance(hit, str):
            return hit
        return _new_event(Event, (line_no, ts, *hit))

    def split(self, text: str) -> tuple[int, str] | str:
        """(timestamp, the text after it), or why the line is malformed."""
        m = self._ts_regex.search(text)
        if m is None:
            return "no timestamp"
        ts_text = m.group(self._ts_group)
        if ts_text is None:
            return "no timestamp"
        try:
            ts = self.timestamps.parse(ts_text)
        except (ValueError, OverflowError) as exc:
            return f"bad timestamp: {exc}"
        return ts, text[m.end() :]

    def rest(self, text: str) -> str | None:
        """The text after the timestamp (what the patterns are searched in); None without one."""
        m = self._ts_regex.search(text)
        return None if m is None else text[m.end() :]

    def lookup(self, rest: str) -> _Parsed | str | None:
        """What the text after a timestamp parses to (cached): a result, a reason, or None."""
        cache = self._cache
        hit = cache.get(rest, cache)
        if hit is cache:
            hit = self._match(rest)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[rest] = hit
        return hit  # type: ignore[return-value]

    def _match(self, rest: str) -> _Parsed | str | None:
        """(event, target, target_type, fields, pattern) of the first pattern that matches."""
        for p in self._patterns:
            pm = p.regex.search(rest)
            if pm is None:
                continue
            groups = pm.groups()
            fields: dict[str, Any] = {k: groups[i] for k, i in p.named if groups[i] is not None}
            for name, type_name, conv in p.converters:
                raw = fields.get(name)
                if raw is not None:
                    try:
                        fields[name] = conv(raw)
                    except (ValueError, OverflowError):
                        return f"field {name!r} of pattern {p.name!r}: {raw[:80]!r} is not {type_name}"
            return (p.event, p.target.resolve(fields), p.target_type, fields, p.name)
        return None


# -- whole blocks ------------------------------------------------------------------------
UNMATCHED = -1
MALFORMED = -2
_MAX_IDS = 1 << 16  # parse results in one table before both sides start a new one


@dataclass
class ParsedBlock:
    """The parse of the lines in bytes [start, end) of a log, compact enough to send.

    Per line a code (an id of a parse result in the reader's table, ``UNMATCHED`` or
    ``MALFORMED``) and a timestamp. ``new`` holds the results for ids from
    ``first_new_id`` on; ``first_new_id == 0`` starts a new table.
    """

    start: int
    end: int
    codes: array
    times: array
    new: list[_Parsed]
    first_new_id: int
    rejects: dict[int, tuple[str, str]] = field(default_factory=dict)  # line index -> (reason, text)
    last_ts: int = 0  # the timestamp parser's DST memory after the block


class BlockParser:
    """Block of lines -> ParsedBlock, with the ids of repeated texts kept across blocks.

    Per line only the timestamp regex runs in Python; the timestamps of a block are
    converted together (``TimestampParser.parse_many``) and the texts after them
    are mapped to ids with one ``map``. What is not seen before goes through
    ``LineParser.lookup``. The result is what ``LineParser.parse`` gives, line by line.
    """

    def __init__(self, spec: LogPatterns, last_ts: int | None = None) -> None:
        self.parser = LineParser(spec)
        if last_ts is not None:
            self.parser.timestamps.last = last_ts
        self._ids: dict[str, int] = {}  # text after the timestamp -> id

    def parse(self, block: Block, texts: list[str] | None = None) -> ParsedBlock:
        """``texts``: the block's ``texts()``, when the caller has them already."""
        ids = self._ids
        if len(ids) > _MAX_IDS:
            ids.clear()
        out = ParsedBlock(block.start, block.end, array("i"), array("q"), [], len(ids))
        if texts is None:
            texts = block.texts()
        self.parser.timestamps.written_by(block.written)
        search, group = self.parser._ts_regex.search, self.parser._ts_group
        long = block.long
        kept: list[int] = []  # indices of lines with a timestamp
        stamps: list[str] = []
        rests: list[str] = []
        for i, line in enumerate(texts):
            m = search(line)
            ts_text = m.group(group) if m is not None else None
            if ts_text is None or (long and i in long):
                out.rejects[i] = ("no timestamp", line)
            else:
                kept.append(i)
                stamps.append(ts_text)
                rests.append(line[m.end() :])  # type: ignore[union-attr]
        times, bad = self.parser.timestamps.parse_many(stamps)
        found: list[int | None] = list(map(ids.get, rests))
        codes: list[int] = found  # type: ignore[assignment]  # every None is replaced below
        if None in found:
            for j, code in enumerate(found):
                if code is None:
                    codes[j] = self._new_code(rests[j], texts[kept[j]], kept[j], out)
        for j, reason in bad.items():
            codes[j] = MALFORMED
            out.rejects[kept[j]] = (f"bad timestamp: {reason}", texts[kept[j]])
        if len(kept) == len(texts):
            out.codes.extend(codes)
            out.times.extend(times)
        else:
            all_codes = [MALFORMED] * len(texts)
            all_times = [0] * len(texts)
            for j, i in enumerate(kept):
                all_codes[i] = codes[j]
                all_times[i] = times[j]
            out.codes.extend(all_codes)
            out.times.extend(all_times)
        for i, size in long.items():  # kept as rejects above, with the reason to correct
            out.rejects[i] = (f"line too long ({size} bytes)", out.rejects[i][1])
        out.last_ts = self.parser.timestamps.last
        return out

    def _new_code(self, rest: str, line: str, i: int, out: ParsedBlock) -> int:
        """The code of a text after a timestamp that was not in the table at the block's start."""
        known = self._ids.get(rest)  # earlier in this same block
        if known is not None:
            return known
        hit = self.parser.lookup(rest)
        if hit is None:
            return UNMATCHED
        if isinstance(hit, str):
            out.rejects[i] = (hit, line)
            return MALFORMED
        code = self._ids[rest] = len(self._ids)
        out.new.append(hit)
        return code


class EventTable:
    """The reader's side of the ids: turns a line's code back into its Event."""

    def __init__(self) -> None:
        self.results: list[_Parsed] = []

    def update(self, parsed: ParsedBlock) -> None:
        if parsed.first_new_id == 0:
            self.results.clear()
        if len(self.results) != parsed.first_new_id:
            raise AssertionError("parse result ids out of step")
        self.results.extend(parsed.new)
