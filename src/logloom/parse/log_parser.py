"""Text line -> Event (SPEC 4, steps 1-2 up to the raw target name).

``LineParser.parse`` returns an ``Event``, ``None`` for an unmatched line (a
timestamp but no pattern: ordinary noise), or a ``str`` giving the reason a line
is malformed. It never raises on any text.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from logloom.logtime.years import timestamp_parser
from logloom.parse.classify import make_classifier
from logloom.parse.patterns import Parsed as _Parsed
from logloom.parse.patterns import Pattern
from logloom.parse.source import Block
from logloom.parse.split import TimestampSplit
from logloom.records import Event

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns
    from logloom.parse.rules import ParseRules

_new_event = tuple.__new__  # Event(...) through NamedTuple.__new__ costs twice as much
_CACHE_LIMIT = 8192


class LineParser:
    """Compiled log_patterns.yaml. Stateful only through the timestamp's DST memory.

    The text after the timestamp repeats a lot in machine logs ("Clamp closed at
    L1"): what it parses to (event, target, typed fields, pattern) is cached, with a
    bounded size. A cached fields dict is shared between events: never mutate it.
    """

    def __init__(self, spec: LogPatterns | ParseRules) -> None:
        assert spec.timestamp.regex is not None, "a text log's patterns (json_lines.py reads JSON logs)"
        self._ts_regex = re.compile(spec.timestamp.regex)
        self._ts_group = self._ts_regex.groupindex.get("ts", 0)
        self.timestamps = timestamp_parser(spec.timestamp.format, spec.timestamp.timezone, spec.timestamp.year)
        self._patterns = [Pattern(p) for p in spec.patterns]
        self._cache: dict[str, _Parsed | str | None] = {}
        self._fallback: list[int] = []  # patterns a classifier leaves to re (set by BlockParser)

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

    def _match(self, rest: str, first: int = 0) -> _Parsed | str | None:
        """(event, target, target_type, fields, pattern) of the first pattern that matches.

        ``first``: a classifier's answer (``classify``): no rewritten pattern before it
        matches, so only the patterns left to ``re`` are searched before it.
        """
        patterns = self._patterns
        if first > 0:
            for i in self._fallback:
                if i >= first:
                    break
                pm = patterns[i].regex.search(rest)
                if pm is not None:
                    return patterns[i].result(pm)
        for p in patterns[first:] if first > 0 else patterns:
            pm = p.regex.search(rest)
            if pm is not None:
                return p.result(pm)
        return None


# -- whole blocks ------------------------------------------------------------------------
UNMATCHED = -1
MALFORMED = -2
_NEW = -3  # a text not in the table yet
_MAX_IDS = 1 << 14  # texts in the table before both sides start a new one


@dataclass
class ParsedBlock:
    """The parse of the ``lines`` lines in bytes [start, end) of a log, compact enough to send.

    Only event lines are carried: per event its line's index in the block
    (``index``, ascending), a code (an id of a parse result in the reader's table)
    and a timestamp. Every other line is either a reject (``rejects``: line index ->
    (reason, text)) or unmatched noise, which is only counted. ``new`` holds the
    results for ids from ``first_new_id`` on; ``first_new_id == 0`` starts a new table.
    """

    start: int
    end: int
    lines: int
    index: array  # "i": line index of each event
    codes: array  # "i": its parse result's id
    times: array  # "q": its timestamp, µs
    new: list[_Parsed]
    first_new_id: int
    rejects: dict[int, tuple[str, str]] = field(default_factory=dict)  # line index -> (reason, text)
    last_ts: int = 0  # the timestamp parser's DST memory after the block

    @property
    def unmatched(self) -> int:
        return self.lines - len(self.index) - len(self.rejects)


class BlockParser:
    """Block of lines -> ParsedBlock, with the ids of repeated texts kept across blocks.

    Per block: the timestamps are split off (``TimestampSplit``: one ``findall`` for
    the block where the regex allows) and converted together
    (``TimestampParser.parse_many``); the texts after them are mapped to ids with one
    ``map`` (texts seen before, noise included, cost one lookup); the others are
    classified in one pass (``classify``: Hyperscan, or a pure-Python union of the
    patterns, ``pure`` forces it) and only those some pattern may match are searched
    with ``re`` for their fields. The result is what ``LineParser.parse`` gives, line
    by line, whatever the engine.
    """

    def __init__(self, spec: LogPatterns | ParseRules, last_ts: int | None = None, *,
                 pure: bool | None = None) -> None:
        self.parser = LineParser(spec)
        if last_ts is not None:
            self.parser.timestamps.last = last_ts
        regexes = [p.regex for p in spec.patterns]
        assert spec.timestamp.regex is not None and None not in regexes, "a text log (config/patterns.py checks)"
        self.splitter = TimestampSplit(spec.timestamp.regex)
        self.classifier = make_classifier(regexes, pure=pure)  # type: ignore[arg-type]
        self.parser._fallback = sorted(self.classifier.fallback)
        self._ids: dict[str | bytes, int] = {}  # text after the timestamp -> id, or UNMATCHED
        self._events = 0  # ids handed out in this table

    def parse(self, block: Block, texts: list[str] | None = None) -> ParsedBlock:
        """``texts``: the block's ``texts()``, when the caller has them already."""
        ids = self._ids
        if len(ids) > _MAX_IDS:
            ids.clear()
            self._events = 0
        out = ParsedBlock(block.start, block.end, len(block.lines), array("i"), array("i"), array("q"), [],
                          self._events)
        self.parser.timestamps.written_by(block.written)
        stamps = self.parser.timestamps
        fast = self.splitter.split_bytes(block.lines, block.raw) if texts is None and not block.long else None
        rests: list[str] | list[bytes]
        shown: Sequence[str]  # the lines' texts, for rejects
        if fast is not None:  # ASCII lines: not decoded, but those rejected or searched for fields
            chars, stamp_texts, rests = fast
            kept = None
            values = stamps.parse_chars(chars) if chars is not None else None
            times, bad = (values, {}) if values is not None else stamps.parse_many(stamp_texts())
            shown = _Decoded(block.lines)
        else:
            shown = texts = block.texts() if texts is None else texts
            kept, found, rests, missing = self.splitter.split(texts, skip=block.long)
            for i, reason in missing.items():
                out.rejects[i] = (reason, texts[i])
            times, bad = stamps.parse_many(found)
        codes = np.fromiter(map(ids.get, rests, repeat(_NEW)), np.int32, len(rests))
        todo = np.flatnonzero(codes == _NEW)
        if len(todo):
            self._classify(codes, todo, rests, shown, kept, out)
        for j, reason in bad.items():
            codes[j] = MALFORMED
            i = kept[j] if kept is not None else j
            out.rejects[i] = (f"bad timestamp: {reason}", shown[i])
        for i, size in block.long.items():  # split off as rejects above, with the reason to correct
            out.rejects[i] = (f"line too long ({size} bytes)", shown[i])
        events = np.flatnonzero(codes >= 0)
        index = events if kept is None else np.array(kept, np.int64)[events]
        out.index.frombytes(index.astype(np.int32).tobytes())
        out.codes.frombytes(codes[events].tobytes())
        out.times.frombytes(np.frombuffer(array("q", times), np.int64)[events].tobytes())
        out.last_ts = self.parser.timestamps.last
        return out

    def _classify(self, codes: np.ndarray, todo: np.ndarray, rests: list[str] | list[bytes],
                  texts: Sequence[str], kept: list[int] | None, out: ParsedBlock) -> None:
        """Fill the codes of the texts not in the table: classified together; where the
        classifier names each text's pattern, the texts of one pattern extracted together
        (``Pattern.extract``), the others searched one by one. A text's code is the same
        on all its lines."""
        todo_rests = [rests[j] for j in todo.tolist()]
        firsts = self.classifier.first(todo_rests)
        if not self.parser._fallback:  # nothing to search where no rewritten pattern matches
            none = firsts == self.classifier.count
            if none.any():
                codes[todo[none]] = UNMATCHED  # not kept in the table: such noise seldom repeats
                keep = np.flatnonzero(~none)
                todo, firsts = todo[keep], firsts[keep]
                todo_rests = [todo_rests[k] for k in keep.tolist()]
        if not todo_rests:
            return
        slow = self._extract(todo_rests, firsts, out) if self.classifier.exact else range(len(todo_rests))
        ids, match, flat = self._ids, self.parser._match, firsts.tolist()
        reasons: dict[str | bytes, str] = {}  # malformed texts (not in the table: each line is rejected)
        for k in slow:
            rest = todo_rests[k]
            if rest in ids or rest in reasons:
                continue  # earlier in this same block
            hit = match(rest.decode("ascii") if isinstance(rest, bytes) else rest, max(flat[k], 0))
            if hit is None:
                ids[rest] = UNMATCHED  # searched for nothing: never again
            elif isinstance(hit, str):
                reasons[rest] = hit
            else:
                ids[rest] = self._events
                self._events += 1
                out.new.append(hit)
        found = np.fromiter(map(ids.get, todo_rests, repeat(MALFORMED)), np.int32, len(todo_rests))
        codes[todo] = found
        for k in np.flatnonzero(found == MALFORMED).tolist():
            j = int(todo[k])
            i = kept[j] if kept is not None else j
            out.rejects[i] = (reasons[todo_rests[k]], texts[i])

    def _extract(self, todo_rests: list[str] | list[bytes], firsts: np.ndarray, out: ParsedBlock) -> list[int]:
        """The texts of each pattern that extracts them together (``Pattern.extract``) and
        has no pattern left to ``re`` before it get their ids; returns the indices of the
        others, to be searched one by one."""
        ids, patterns = self._ids, self.parser._patterns
        fallback = self.parser._fallback
        below = fallback[0] if fallback else len(patterns)  # patterns before the first left to re
        order = np.argsort(firsts, kind="stable")
        bounds = np.flatnonzero(np.diff(firsts[order])) + 1
        slow: list[int] = []
        for group in np.split(order, bounds.tolist()):
            first = int(firsts[group[0]])
            members = group.tolist()
            if not 0 <= first < below or not patterns[first].batched:
                slow += members
                continue
            fresh = list(dict.fromkeys([todo_rests[k] for k in members]))  # each text once
            joined = (b"\n".join(fresh).decode("ascii") if isinstance(fresh[0], bytes)
                      else "\n".join(fresh))
            results = patterns[first].extract(joined, len(fresh))
            if results is None:
                slow += members
                continue
            start = self._events
            ids.update(zip(fresh, range(start, start + len(fresh)), strict=True))
            self._events += len(fresh)
            out.new.extend(results)
        slow.sort()  # line order: the ids of the texts searched one by one follow it
        return slow


class _Decoded(Sequence[str]):
    """A block's ASCII lines (a trailing ``\\r`` dropped), decoded when one is asked for."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [line.decode("ascii").removesuffix("\r") for line in self.lines[i]]
        return self.lines[i].decode("ascii").removesuffix("\r")


class EventTable:
    """The reader's side of the ids: turns a line's code back into its Event."""

    def __init__(self) -> None:
        self.results: list[_Parsed] = []
        self._resolved: list[tuple[Any, ...]] = []

    def update(self, parsed: ParsedBlock) -> None:
        if parsed.first_new_id == 0:
            self.results.clear()
            self._resolved.clear()
        if len(self.results) != parsed.first_new_id:
            raise AssertionError("parse result ids out of step")
        self.results.extend(parsed.new)

    def resolved(self, resolve: Callable[[str, str | None, str], Any]) -> list[tuple[Any, ...]]:
        """Per result (comp, event, target, target_type, fields), ``comp`` =
        ``resolve(target, target_type, event)`` once where the line names a target (the
        engine's component, None if unknown), None where it names none (routed)."""
        resolved = self._resolved
        for event, target, target_type, fields, _ in self.results[len(resolved) :]:
            comp = resolve(target, target_type, event) if target is not None else None
            resolved.append((comp, event, target, target_type, fields))
        return resolved
