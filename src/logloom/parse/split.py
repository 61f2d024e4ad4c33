"""A block of lines -> (timestamp text, text after it) per line, in one ``re`` call where it can.

The timestamp regex is searched in each line (SPEC 3). When it is anchored at the
line's start with the ``ts`` group at its top level, and it can be rewritten for
ASCII lines (``translate``: no class matches ``\\n``, so a match never leaves its
line), one ``findall`` over the block joined by ``\\n`` gives every line's groups and
the rest of the line in C, without a match object per line. That is used only when
the block is ASCII and every line has a timestamp (the results then line up with
the lines); any other block is split line by line, with the same results.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

import numpy as np

from logloom.parse.translate import Untranslatable, ascii_table, translate

Split = tuple[list[int] | None, list[str], list[str], dict[int, str]]


class TimestampSplit:
    """The timestamp regex of log_patterns.yaml, applied a block at a time."""

    def __init__(self, regex: str) -> None:
        self.regex = re.compile(regex)
        self.group = self.regex.groupindex.get("ts", 0)
        self._block: re.Pattern[str] | None = None
        self._at = 0  # the ts group's position in a findall tuple
        self._fixed: tuple[np.ndarray, int, int] | None = None  # per-position ASCII tables, ts span
        if _anchored_with_top_level_ts(regex, self.group):
            self._fixed = fixed_width(regex, self.group)
            try:
                body = translate(regex, keep_groups=True)
            except Untranslatable:
                return
            # a leading "\n" (one is put before the block) lets re jump from line to line
            # with a fast search for it instead of trying the pattern at every position
            self._block = re.compile(f"\n{body}(.*)", re.MULTILINE)
            self._at = self.group - 1 if self.group else -1

    @property
    def block_level(self) -> bool:
        return self._block is not None

    def split(self, texts: list[str], skip: Container[int] = ()) -> Split:
        """(indices of the lines with a timestamp, or None for all; their timestamp texts;
        the texts after them; {line index: "no timestamp"} for the others).

        Lines in ``skip`` (over-long ones: only their head is there) count as without one.
        """
        if skip:
            return self._line_by_line(texts, skip)
        if self._block is not None:
            joined = "\n".join(texts)
            if joined.isascii():
                if self._fixed is not None:
                    done = self._split_fixed(texts, joined)
                    if done is not None:
                        return done
                found = self._block.findall("\n" + joined)
                if len(found) == len(texts):
                    if self._at < 0:  # the whole match is the timestamp: rebuild it from the rest
                        return None, [t[: len(t) - len(f[-1])] for t, f in zip(texts, found, strict=True)], \
                            [f[-1] for f in found], {}
                    at = self._at
                    return None, [f[at] for f in found], [f[-1] for f in found], {}
        return self._line_by_line(texts)

    def _split_fixed(self, texts: list[str], joined: str) -> Split | None:
        """A regex of fixed width ``w``: every line's first ``w`` bytes checked against its
        per-position classes at once (numpy); None if a line is shorter or does not fit."""
        tables, a, b = self._fixed  # type: ignore[misc]
        width = tables.shape[0]
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        if not len(texts) or lengths.min() < width:
            return None
        starts = np.zeros(len(texts), np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        chars = np.frombuffer(joined.encode("ascii"), np.uint8)[starts[:, None] + np.arange(width)]
        if not tables[np.arange(width), chars].all():
            return None
        return None, [t[a:b] for t in texts], [t[width:] for t in texts], {}

    def _line_by_line(self, texts: list[str], skip: Container[int] = ()) -> Split:
        search, group = self.regex.search, self.group
        kept: list[int] = []
        stamps: list[str] = []
        rests: list[str] = []
        missing: dict[int, str] = {}
        for i, line in enumerate(texts):
            m = search(line)
            ts_text = m.group(group) if m is not None else None
            if ts_text is None or i in skip:
                missing[i] = "no timestamp"
            else:
                kept.append(i)
                stamps.append(ts_text)
                rests.append(line[m.end() :])  # type: ignore[union-attr]
        return (None if not missing else kept), stamps, rests, missing


def _anchored_with_top_level_ts(regex: str, group: int) -> bool:
    """Whether ``regex`` starts with ``^``/``\\A`` and its ``ts`` group (if any) is a
    direct part of its top level (so it takes part in every match)."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser as p  # type: ignore[attr-defined]

        tree: Any = p.parse(regex)
    except (ImportError, re.error):
        return False
    items = list(tree)
    if not items or items[0] not in ((c.AT, c.AT_BEGINNING), (c.AT, c.AT_BEGINNING_STRING)):
        return False
    return group == 0 or any(op is c.SUBPATTERN and av[0] == group for op, av in items)


def fixed_width(regex: str, group: int) -> tuple[np.ndarray, int, int] | None:
    """For an anchored regex that is a fixed sequence of single characters (classes,
    literals, repeats of them ``{n}``, groups): its (width x 128) table of the ASCII
    characters each position takes (never ``\\n``), and the ``ts`` group's [start, end);
    None for anything else (alternatives, variable repeats, anchors after the first)."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser as p  # type: ignore[attr-defined]

    tree: Any = p.parse(regex)
    rows: list[np.ndarray] = []
    span = [0, 0]

    def walk(items: Any, flags: int) -> bool:
        for op, av in items:
            if op in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN):
                try:
                    rows.append(ascii_table(op, av, flags))
                except Untranslatable:
                    return False
            elif op is c.SUBPATTERN:
                at = len(rows)
                if not walk(av[3], (flags | av[1]) & ~av[2]):
                    return False
                if av[0] == group:
                    span[:] = [at, len(rows)]
            elif op is c.MAX_REPEAT and av[0] == av[1]:
                for _ in range(av[0]):
                    if not walk(av[2], flags):
                        return False
            else:
                return False
        return True

    if not walk(list(tree)[1:], tree.state.flags) or not rows:
        return None
    if group == 0:
        span = [0, len(rows)]
    return np.array(rows), span[0], span[1]
