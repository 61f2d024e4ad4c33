"""One pattern of log_patterns.yaml, compiled: what a matching text parses to, line by line or many at once.

A text's result is (event, target, target_type, fields, pattern name): the named
groups that took part, typed by ``fields``, and the target resolved from them.

``Pattern.result`` makes it from a match object. ``Pattern.extract`` makes it for
many texts at once, each known to match this pattern and no pattern before it (a
Hyperscan classifier's answer): one ``findall`` of the pattern rewritten for ASCII
lines (``translate``, groups kept) over the texts joined by ``\\n``, then the
fields a column at a time. The rewritten pattern is followed by ``.*``, so a match
takes the rest of its line: a line gives at most one match, the first ``search``
finds, and a count equal to the texts' is one match per text. A group that may
take no part, with ``findall`` reporting ``''`` for it, is told apart only when it
cannot match an empty text; a pattern with one that can, or one ``translate``
refuses, is left to ``result``, as is a batch where a typed field does not convert
(the line's reason is then found there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

from logloom.parse.translate import Untranslatable, translate

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}

Parsed = tuple[str, str | None, str | None, dict[str, Any], str]


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


_FIELD_NAME = re.compile(r"\{([\w.]*)\}")  # a JSON log's fields may be key paths (data.station)


class Target:
    """A compiled ``target`` template: a constant, one group, or text with ``{field}``s."""

    def __init__(self, template: str | None) -> None:
        self.constant: str | None = None
        self.group: str | None = None
        self.template: str | None = None
        if template is None:
            return
        groups = _FIELD_NAME.findall(template)
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
                return _FIELD_NAME.sub(lambda m: _value(values, m.group(1)), self.template)
            except KeyError:
                return None  # a group that took no part: route the event instead
        return None


def _value(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None:
        raise KeyError(name)
    return str(value)


class Pattern:
    """A regex pattern of a text log, compiled."""

    __slots__ = ("_block", "_maybe_absent", "_numbers", "converters", "event", "name", "names", "regex", "target",
                 "target_type")

    def __init__(self, spec: Any) -> None:
        self.name: str = spec.name
        self.regex = re.compile(spec.regex)
        self.event: str = spec.event
        self.target = Target(spec.target)
        self.target_type: str | None = spec.target_type
        self.converters = [(k, t, CONVERTERS[t]) for k, t in spec.fields.items() if t != "str"]
        self.names = tuple(self.regex.groupindex)  # groupdict's order
        self._numbers = [self.regex.groupindex[n] for n in self.names]
        self._block: re.Pattern[str] | None = None
        self._maybe_absent: frozenset[str] = frozenset()
        absent = _maybe_absent(spec.regex)
        if absent is None:
            return
        try:
            self._block = re.compile(f"(?:{translate(spec.regex, keep_groups=True)}).*", re.MULTILINE)
        except (Untranslatable, re.error):
            return
        self._maybe_absent = frozenset(absent)

    def result(self, pm: re.Match[str]) -> Parsed | str:
        """The result of a match of this pattern; the reason when a typed field does not convert."""
        fields: dict[str, Any] = pm.groupdict()  # the named groups, in their order
        if None in fields.values():  # a group that took no part is not captured
            fields = {k: v for k, v in fields.items() if v is not None}
        for name, type_name, conv in self.converters:
            raw = fields.get(name)
            if raw is not None:
                try:
                    fields[name] = conv(raw)
                except (ValueError, OverflowError):
                    return f"field {name!r} of pattern {self.name!r}: {raw[:80]!r} is not {type_name}"
        return (self.event, self.target.resolve(fields), self.target_type, fields, self.name)

    @property
    def batched(self) -> bool:
        """Whether ``extract`` can take this pattern's texts."""
        return self._block is not None

    def extract(self, joined: str, count: int) -> list[Parsed] | None:
        """The results of ``count`` ASCII texts joined by ``\\n``, each of which this pattern
        matches; None where ``result`` must do it line by line (not ``batched``, or a
        typed field that does not convert)."""
        if self._block is None:
            return None
        found = self._block.findall(joined)
        if len(found) != count:
            return None  # cannot happen for texts that match: one match a line
        groups = self._block.groups
        if not self.names:
            columns: list[Any] = []
        elif groups == 1:
            columns = [found]
        else:
            every = list(zip(*found, strict=True)) if found else [()] * groups
            columns = [every[i - 1] for i in self._numbers]
        absent = self._maybe_absent
        for name, _, conv in self.converters:
            if name not in self.names:
                continue
            k = self.names.index(name)
            try:
                columns[k] = [conv(v) if v or name not in absent else "" for v in columns[k]]
            except (ValueError, OverflowError):
                return None
        names = self.names
        if not names:
            fields: list[dict[str, Any]] = [{} for _ in range(count)]
        elif not absent:
            fields = _dicts(names, columns)
        else:
            fields = [{k: v for k, v in zip(names, row, strict=True) if not (k in absent and v == "")}
                      for row in zip(*columns, strict=True)]
        target = self.target
        targets: Iterable[str | None]
        if target.group is not None and not absent and target.group in names:
            values = columns[names.index(target.group)]
            typed = any(target.group == n for n, _, _ in self.converters)
            targets = map(str, values) if typed else values
        elif target.group is None and target.template is None:
            targets = repeat(target.constant)
        else:
            targets = map(target.resolve, fields)
        # the tuples made by zip, in C
        return list(zip(repeat(self.event), targets, repeat(self.target_type), fields, repeat(self.name)))


def _dicts(names: tuple[str, ...], columns: list[Any]) -> list[dict[str, Any]]:
    """A dict of ``names`` per row of ``columns`` (a display for up to three: thrice as fast as ``dict(zip)``)."""
    if len(names) == 1:
        (a,) = names
        return [{a: x} for x in columns[0]]
    if len(names) == 2:
        a, b = names
        return [{a: x, b: y} for x, y in zip(*columns, strict=True)]
    if len(names) == 3:
        a, b, c = names
        return [{a: x, b: y, c: z} for x, y, z in zip(*columns, strict=True)]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _maybe_absent(regex: str) -> set[str] | None:
    """The named groups of ``regex`` that may take no part in a match, or None when one of them
    can match an empty text (``findall``'s ``''`` would not tell it from one that took none)."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser as p  # type: ignore[attr-defined]

        tree: Any = p.parse(regex)
    except (ImportError, re.error):
        return None
    names = {i: n for n, i in tree.state.groupdict.items()}
    absent: set[str] = set()

    def walk(items: Any, optional: bool) -> bool:
        for op, av in items:
            if op is c.SUBPATTERN:
                name = names.get(av[0])
                if name is not None and optional:
                    if av[3].getwidth()[0] == 0:
                        return False
                    absent.add(name)
                if not walk(av[3], optional):
                    return False
            elif op is c.BRANCH:
                if not all(walk(b, optional or len(av[1]) > 1) for b in av[1]):
                    return False
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                if not walk(av[2], optional or av[0] == 0):
                    return False
            elif op in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN, c.AT):
                continue
            else:
                return False  # anything else is not rewritten (translate) anyway
        return True

    return absent if walk(tree, False) else None
