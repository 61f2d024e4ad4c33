"""JSON lines (``format: json``): one object a line, matched by the values of its keys.

A pattern's ``match`` maps key paths (``station``, ``data.unit``; a number indexes a
list) to a condition: a value the key must equal (a string, number, true/false or
null; 17 and "17" differ), a list of such values (any of them), or ``{regex: ...}``
searched in the value's text (a number or true/false as JSON writes it), whose named
groups are captured like a text pattern's. ``fields`` name what is captured: a named
group of a match regex, else a key path of the object, converted to its type. Key
order never matters. The timestamp is the value at ``timestamp.field`` (text, or a
number for ``epoch``/``epoch_ms``).

A line that is not a JSON object, has no timestamp, or whose field fails its type is
*malformed*, with the reason; a valid object no pattern matches is *unmatched*.
``JsonLineParser`` and ``JsonBlockParser`` have the interface of ``LineParser`` and
``BlockParser`` (log_parser.py): the rest of the pipeline cannot tell them apart.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from logloom.logtime.timestamps import SAFE_MAX, SAFE_MIN, TimestampParser
from logloom.logtime.years import timestamp_parser
from logloom.parse.log_parser import Block, ParsedBlock
from logloom.parse.patterns import CONVERTERS, Target
from logloom.parse.patterns import Parsed as _Parsed
from logloom.records import Event

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns, PatternSpec
    from logloom.parse.rules import ParseRules, PatternRule


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def stdlib_loads(text: str) -> Any:
    """The standard library's reading, refusing NaN and Infinity as orjson does."""
    return json.loads(text, parse_constant=_refuse)


STDLIB_ERRORS: tuple[type[Exception], ...] = (ValueError, RecursionError)

try:  # the parse stage of a JSON log 1.7x as fast as with the standard library (bench/bench_formats.py)
    import orjson

    _loads: Callable[[str], Any] = orjson.loads
    _DECODE_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # orjson is a dependency; this is for a platform without its wheel
    _loads, _DECODE_ERRORS = stdlib_loads, STDLIB_ERRORS

_MISSING = object()
_MAX_IDS = 1 << 16  # distinct results in one table before both sides start a new one
_SHOWN = 80  # characters of a value in a reason


def key_path(path: str) -> tuple[str, ...]:
    """``"data.volume"`` -> ``("data", "volume")``."""
    return tuple(path.split("."))


def value_at(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``obj`` (a digit segment indexes a list), or ``_MISSING``."""
    for part in path:
        if type(obj) is dict:
            obj = obj.get(part, _MISSING)
        elif type(obj) is list and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return _MISSING
        if obj is _MISSING:
            return obj
    return obj


def _text(value: Any) -> str | None:
    """A scalar as JSON writes it (None for an object, a list or null)."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (int, float):
        return repr(value)
    return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 and "1" is not 1."""
    if type(a) is bool or type(b) is bool or a is None or b is None:
        return a is b
    if type(a) is str or type(b) is str:
        return type(a) is type(b) and a == b
    return bool(a == b)


def _condition(spec: Any) -> tuple[Callable[[Any], bool | re.Match[str] | None], re.Pattern[str] | None]:
    """(test, regex) of one ``match`` value; a test returns a match object for a regex."""
    if isinstance(spec, dict):  # {regex: ...}, checked by config/patterns.py
        rx = re.compile(spec["regex"])

        def search(value: Any) -> re.Match[str] | None:
            text = _text(value)
            return None if text is None else rx.search(text)

        return search, rx
    if isinstance(spec, list):
        options = tuple(spec)
        return (lambda value: any(_same(value, o) for o in options)), None
    if type(spec) is str:
        return (lambda value: value == spec and type(value) is str), None
    return (lambda value: _same(value, spec)), None


def _convert(value: Any, type_name: str) -> Any:
    """A JSON value as ``type_name``; ValueError when it is not one."""
    kind = type(value)
    if kind in (dict, list):
        raise ValueError("an object or a list")
    if type_name == "str":
        return _text(value)
    if kind is str:
        return CONVERTERS[type_name](value)
    if type_name == "bool":
        if kind is bool or value in (0, 1):
            return bool(value)
    elif kind is not bool:
        if type_name == "float":
            return float(value)
        if kind is int or value.is_integer():
            return int(value)
    raise ValueError("wrong type")


class _JsonPattern:
    """One pattern of a JSON log, compiled: its conditions in order, then its fields.

    A condition is (key, path, text, test, regex): ``path`` is None for a top-level
    key (read with one ``dict.get``), ``text`` is set for equality with a string (the
    most common test, done inline), else ``test`` decides.
    """

    def __init__(self, spec: PatternSpec | PatternRule) -> None:
        self.name = spec.name
        self.event = spec.event
        self.target = Target(spec.target)
        self.target_type = spec.target_type
        self.conditions: list[tuple[str, tuple[str, ...] | None, str | None, Any, re.Pattern[str] | None]] = []
        for path, cond in (spec.match or {}).items():
            test, rx = _condition(cond)
            parts = key_path(path)
            self.conditions.append((path, parts if len(parts) > 1 else None, cond if type(cond) is str else None,
                                    test, rx if rx is not None and rx.groupindex else None))
        groups = {g for *_, rx in self.conditions if rx is not None for g in rx.groupindex}
        self.keys = [(name, key_path(name), t) for name, t in spec.fields.items() if name not in groups]
        self.typed = {name: t for name, t in spec.fields.items() if name in groups and t != "str"}

    def equals(self, key: str) -> str | None:
        """The text a top-level ``key`` must equal, if this pattern says so."""
        return next((text for k, path, text, _, _ in self.conditions if k == key and path is None), None)

    def match(self, obj: dict[str, Any]) -> _Parsed | str | None:
        found: list[re.Match[str]] = []
        for key, path, text, test, rx in self.conditions:
            value = obj.get(key, _MISSING) if path is None else value_at(obj, path)
            if text is not None:
                if value != text or type(value) is not str:
                    return None
                continue
            if value is _MISSING:
                return None
            hit = test(value)
            if not hit:
                return None
            if rx is not None:
                found.append(hit)
        fields: dict[str, Any] = {}
        for m in found:
            fields.update((k, v) for k, v in m.groupdict().items() if v is not None)
        for name, type_name in self.typed.items():
            raw = fields.get(name)
            if raw is not None:
                try:
                    fields[name] = CONVERTERS[type_name](raw)
                except (ValueError, OverflowError):
                    return f"field {name!r} of pattern {self.name!r}: {raw[:_SHOWN]!r} is not {type_name}"
        for name, parts, kind in self.keys:
            value = value_at(obj, parts)
            if value is _MISSING or value is None:
                continue
            try:
                fields[name] = _convert(value, kind)
            except (ValueError, OverflowError):
                shown = json.dumps(value)[:_SHOWN]
                return f"field {name!r} of pattern {self.name!r}: {shown} is not {kind}"
        return (self.event, self.target.resolve(fields), self.target_type, fields, self.name)


class _Candidates:
    """Which patterns can match an object, by the value of one key most of them test
    for equality (``msg``, ``event``, ...), in config order: the others are tried on
    every object, these only on objects whose key has their value."""

    def __init__(self, patterns: list[_JsonPattern]) -> None:
        counts: dict[str, int] = {}
        for p in patterns:
            for key in {k for k, path, text, _, _ in p.conditions if path is None and text is not None}:
                counts[key] = counts.get(key, 0) + 1
        self.key = max(counts, key=lambda k: counts[k], default=None)
        values = {p.equals(self.key) for p in patterns} - {None} if self.key is not None else set()
        self.everywhere = [p for p in patterns if self.key is None or p.equals(self.key) is None]
        self.by_value = {v: [p for p in patterns if p.equals(self.key) in (v, None)]  # type: ignore[arg-type]
                         for v in values}

    def of(self, obj: dict[str, Any]) -> list[_JsonPattern]:
        if self.key is None:
            return self.everywhere
        value = obj.get(self.key)
        return self.by_value.get(value, self.everywhere) if type(value) is str else self.everywhere


_UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?Z")


def _utc_time(text: str) -> bool:
    """``YYYY-MM-DD[T ]HH:MM[:SS[.fff]]Z``: a wall time of UTC, read alike with or without its Z."""
    return _UTC_TIME.fullmatch(text) is not None


class JsonLineParser:
    """Compiled log_patterns.yaml of a JSON log; the interface of ``LineParser``."""

    def __init__(self, spec: LogPatterns | ParseRules) -> None:
        assert spec.timestamp.field is not None
        self._ts_path = key_path(spec.timestamp.field)
        self.timestamps = timestamp_parser(spec.timestamp.format, spec.timestamp.timezone, spec.timestamp.year)
        self._numbers = spec.timestamp.format in ("epoch", "epoch_ms")  # a number may be the time
        self._candidates = _Candidates([_JsonPattern(p) for p in spec.patterns])
        # a time that ends in Z is read as UTC wall time, whatever the zone: numpy's path, not datetime's
        self._utc = TimestampParser("iso") if spec.timestamp.format == "iso" else None

    def parse(self, text: str, line_no: int) -> Event | str | None:
        """An Event; None for an unmatched line; the reason (a str) for a malformed one."""
        split = self.split(text)
        if isinstance(split, str):
            return split
        hit = self.lookup(split[1])
        if hit is None or isinstance(hit, str):
            return hit
        return Event(line_no, split[0], *hit)

    def split(self, text: str) -> tuple[int, dict[str, Any]] | str:
        """(timestamp, the object), or why the line is malformed."""
        obj = self.read(text)
        if isinstance(obj, str):
            return obj
        stamp = self.stamp(obj)
        if stamp is None:
            return self.no_stamp(obj)
        try:
            return self.time(stamp), obj
        except (ValueError, OverflowError) as exc:
            return f"bad timestamp: {exc}"

    def read(self, text: str) -> dict[str, Any] | str:
        """The line's object, or why it is malformed."""
        try:
            obj = _loads(text)
        except _DECODE_ERRORS as exc:
            return f"not JSON: {exc}"
        return obj if type(obj) is dict else "not a JSON object"

    def stamp(self, obj: dict[str, Any]) -> str | None:
        """The text of the timestamp's value (None when there is none to read)."""
        value = value_at(obj, self._ts_path)
        if type(value) is str:
            return value
        if self._numbers and type(value) in (int, float):
            return repr(value)
        return None

    def no_stamp(self, obj: dict[str, Any]) -> str:
        value = value_at(obj, self._ts_path)
        where = ".".join(self._ts_path)
        if value is _MISSING:
            return f"no timestamp (no key {where!r})"
        return f"no timestamp ({where!r} is {json.dumps(value)[:_SHOWN]}, not a time)"

    def lookup(self, obj: dict[str, Any]) -> _Parsed | str | None:
        """What an object parses to: the first pattern that matches, a reason, or None."""
        for p in self._candidates.of(obj):
            hit = p.match(obj)
            if hit is not None:
                return hit
        return None

    def time(self, stamp: str) -> int:
        """The instant of a timestamp's text (``times`` of one)."""
        values, bad = self.times([stamp])
        if bad:
            raise ValueError(bad[0])
        return values[0]

    def times(self, stamps: list[str]) -> tuple[list[int], dict[int, str]]:
        """``parse_many`` of the timestamps' texts. A block of ISO times of UTC
        (``2026-03-02T08:00:00.000Z``, what most JSON loggers write) is read at once as
        the wall time of UTC: the same instants, without a datetime for each line."""
        if self._utc is not None and stamps and all(_utc_time(t) for t in stamps):
            values, bad = self._utc.parse_many([t[:-1] for t in stamps])
            if not bad and min(values) >= SAFE_MIN and max(values) <= SAFE_MAX:  # else the zone decides
                self.timestamps.last = values[-1]
                return values, bad
        return self.timestamps.parse_many(stamps)

    def rest(self, text: str) -> str | None:
        """What the patterns look at (the whole line); None for a line that is not an object."""
        return None if isinstance(self.read(text), str) else text


class JsonBlockParser:
    """Block of JSON lines -> ParsedBlock; the interface of ``BlockParser``.

    Results are kept in a table by their content (pattern, target and fields), so a
    result that repeats crosses to the reader as an id, as for text logs.
    """

    def __init__(self, spec: LogPatterns | ParseRules, last_ts: int | None = None) -> None:
        self.parser = JsonLineParser(spec)
        if last_ts is not None:
            self.parser.timestamps.last = last_ts
        self._ids: dict[tuple[Any, ...], int] = {}

    def parse(self, block: Block, texts: list[str] | None = None) -> ParsedBlock:
        ids = self._ids
        if len(ids) > _MAX_IDS:
            ids.clear()
        if texts is None:
            texts = block.texts()
        out = ParsedBlock(block.start, block.end, len(texts), array("i"), array("i"), array("q"), [], len(ids))
        parser = self.parser
        parser.timestamps.written_by(block.written)
        read, stamp = parser.read, parser.stamp
        objects: list[dict[str, Any]] = []
        kept: list[int] = []
        stamps: list[str] = []
        for i, text in enumerate(texts):
            obj = read(text) if i not in block.long else f"line too long ({block.long[i]} bytes)"
            if type(obj) is str:
                out.rejects[i] = (obj, text)
                continue
            ts_text = stamp(obj)  # type: ignore[arg-type]
            if ts_text is None:
                out.rejects[i] = (parser.no_stamp(obj), text)  # type: ignore[arg-type]
                continue
            kept.append(i)
            objects.append(obj)  # type: ignore[arg-type]
            stamps.append(ts_text)
        times, bad = parser.times(stamps)
        lookup = parser.lookup
        for j, i in enumerate(kept):
            if j in bad:
                out.rejects[i] = (f"bad timestamp: {bad[j]}", texts[i])
                continue
            hit = lookup(objects[j])
            if hit is None:
                continue  # unmatched: only counted
            if isinstance(hit, str):
                out.rejects[i] = (hit, texts[i])
                continue
            fields = hit[3]
            key = (hit[4], hit[1], *fields.items(), *map(type, fields.values()))  # true is not 1
            code = ids.get(key)
            if code is None:
                code = ids[key] = len(ids)
                out.new.append(hit)
            out.index.append(i)
            out.codes.append(code)
            out.times.append(times[j])
        out.last_ts = parser.timestamps.last
        return out
