"""Text line -> Event (SPEC 4, steps 1-2 up to the raw target name).

``LineParser.parse`` returns an ``Event``, ``None`` for an unmatched line (a
timestamp but no pattern: ordinary noise), or a ``str`` giving the reason a line
is malformed. It never raises on any text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .config_schema import LogPatterns
from .records import Event
from .timestamps import TimestampParser

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
        self.timestamps = TimestampParser(spec.timestamp.format, spec.timestamp.timezone)
        self._patterns = [_Pattern(p) for p in spec.patterns]
        self._cache: dict[str, _Parsed | str | None] = {}

    def parse(self, text: str, line_no: int) -> Event | str | None:
        m = self._ts_regex.search(text)
        if m is None:
            return "no timestamp"
        ts_text = m.group(self._ts_group)
        if ts_text is None:
            return "no timestamp"
        try:
            ts = self.timestamps(ts_text)
        except (ValueError, OverflowError) as exc:
            return f"bad timestamp: {exc}"
        rest = text[m.end() :]
        cache = self._cache
        hit = cache.get(rest, cache)
        if hit is cache:
            hit = self._match(rest)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[rest] = hit
        if hit is None or isinstance(hit, str):
            return hit
        return _new_event(Event, (line_no, ts, *hit))

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
