"""A Python regex rewritten for ASCII lines, in a dialect both ``re`` and Hyperscan read alike.

The pattern is parsed by Python's own regex parser, so both engines get the pattern
Python means (``x{,3}`` is a repeat, not a literal; ``\\Z`` is the end). Every
character-consuming node becomes an explicit class of ASCII codes, computed by
asking ``re`` itself which of the 127 ASCII characters (all but ``\\n``) that node
matches under the flags in force: ``\\d``, ``\\s``, ``\\w``, case-insensitivity and
their quirks come out exactly as Python has them. No class holds ``\\n``, so on a
block of lines joined by ``\\n`` a match never crosses a line, and ``^``/``$`` (with
multi-line mode) mean a line's start and end.

On a line of ASCII text, the rewritten pattern matches where the original does.
What cannot be rewritten (back-references, lookarounds, atomic groups, possessive
repeats, conditionals, a pattern that can match the empty string) raises
``Untranslatable`` with the reason: such a pattern is then searched with ``re`` on
its own. Text that is not ASCII is never given to a rewritten pattern.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

try:  # Python's regex parser: re._parser since 3.11 (its tree has not changed in years)
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another interpreter: every pattern stays with re
    _p = _c = None

_LINE_CHARS = [chr(i) for i in range(128) if i != 10]  # ASCII, never "\n" (it joins lines)
_FLAG_MASK = re.IGNORECASE | re.ASCII | re.DOTALL


class Untranslatable(ValueError):
    """The pattern needs Python's ``re``: the message says why."""


def translate(pattern: str, *, keep_groups: bool = False) -> str:
    """``pattern`` for ASCII lines joined by ``\\n`` (compile it with multi-line mode).

    ``keep_groups``: named groups stay named and lazy repeats lazy, for ``re`` to report
    the same spans; otherwise groups are plain and only whether a line matches counts.
    """
    if _p is None:
        raise Untranslatable("this Python has no regex parser to translate with")
    try:
        tree = _p.parse(pattern)
    except re.error as exc:
        raise Untranslatable(f"not a valid regex: {exc}") from None
    if tree.getwidth()[0] == 0:
        raise Untranslatable("it can match an empty text")
    return _Emitter(keep_groups).seq(tree, tree.state.flags)


class _Emitter:
    def __init__(self, keep_groups: bool) -> None:
        self.keep_groups = keep_groups
        self.names: dict[int, str] = {}

    def seq(self, items: Any, flags: int) -> str:
        if hasattr(items, "state"):
            self.names = {i: n for n, i in items.state.groupdict.items()}
        return "".join(self.node(op, av, flags) for op, av in items)

    def node(self, op: Any, av: Any, flags: int) -> str:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            return _char_class(_source_of(op, av), flags & _FLAG_MASK)
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.seq(b, flags) for b in av[1]) + ")"
        if op is _c.SUBPATTERN:
            group, add, drop, sub = av
            body = self.seq(sub, (flags | add) & ~drop)
            if self.keep_groups and group is not None:
                name = self.names.get(group)
                return f"(?P<{name}>{body})" if name else f"({body})"
            return f"(?:{body})"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = av
            bound = f"{{{low},}}" if high is _c.MAXREPEAT else f"{{{low},{high}}}"
            lazy = "?" if op is _c.MIN_REPEAT and self.keep_groups else ""
            return f"(?:{self.seq(sub, flags)}){bound}{lazy}"
        if op is _c.AT:
            at = _ANCHORS.get(av)
            if at is None:
                raise Untranslatable(f"anchor {av} is not supported")
            return at
        raise Untranslatable(_UNSUPPORTED.get(str(op), f"{str(op).lower()} is not supported"))


_UNSUPPORTED = {
    "GROUPREF": "back-references need re", "GROUPREF_EXISTS": "conditionals need re",
    "ASSERT": "lookarounds need re", "ASSERT_NOT": "lookarounds need re",
    "ATOMIC_GROUP": "atomic groups need re", "POSSESSIVE_REPEAT": "possessive repeats need re",
}
_ANCHORS: dict[Any, str] = {} if _c is None else {
    _c.AT_BEGINNING: "^", _c.AT_BEGINNING_STRING: "^", _c.AT_END: "$", _c.AT_END_STRING: "$",
    _c.AT_BOUNDARY: r"\b", _c.AT_NON_BOUNDARY: r"\B",
}
_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
               "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _source_of(op: Any, av: Any) -> str:
    """One character-consuming node as Python regex text (to let ``re`` say what it matches)."""
    if op is _c.LITERAL:
        return _escape(av)
    if op is _c.NOT_LITERAL:
        return f"[^{_escape(av)}]"
    if op is _c.ANY:
        return "."
    parts = []
    for item, value in av:
        if item is _c.LITERAL:
            parts.append(_escape(value))
        elif item is _c.RANGE:
            parts.append(f"{_escape(value[0])}-{_escape(value[1])}")
        elif item is _c.CATEGORY and str(value) in _CATEGORIES:
            parts.append(_CATEGORIES[str(value)])
        elif item is _c.NEGATE:
            parts.insert(0, "^")
        else:
            raise Untranslatable(f"class item {item} is not supported")
    return "[" + "".join(parts) + "]"


def ascii_table(op: Any, av: Any, flags: int) -> Any:
    """A 128-entry numpy bool table of the ASCII characters (but ``\\n``) one
    character-consuming node matches under ``flags``."""
    import numpy as np

    table = np.zeros(128, bool)
    table[list(_codes(_source_of(op, av), flags & _FLAG_MASK))] = True
    return table


@lru_cache(maxsize=4096)
def _codes(source: str, flags: int) -> tuple[int, ...]:
    """The ASCII codes (but ``\\n``) that ``source`` matches under ``flags``."""
    rx = re.compile(source, flags)
    codes = tuple(ord(ch) for ch in _LINE_CHARS if rx.fullmatch(ch))
    if not codes:
        raise Untranslatable("a part of it matches no ASCII character")
    return codes


def _char_class(source: str, flags: int) -> str:
    """The ASCII characters (but ``\\n``) that ``source`` matches under ``flags``, as a class."""
    codes = _codes(source, flags)
    if not codes:
        raise Untranslatable("a part of it matches no ASCII character")
    ranges: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code != prev + 1:
            ranges.append(_escape(start) if start == prev else f"{_escape(start)}-{_escape(prev)}")
            start = code
        prev = code
    return "[" + "".join(ranges) + "]"
