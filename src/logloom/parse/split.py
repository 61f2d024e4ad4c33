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
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from logloom.parse.translate import Untranslatable, ascii_table, translate

Split = tuple[list[int] | None, list[str], list[str], dict[int, str]]
ByteSplit = tuple[np.ndarray | None, Callable[[], list[str]], list[bytes]]
Matched = tuple[np.ndarray, np.ndarray, int, int]  # Layout.match: characters, widths, the stamp's [start, end)


class TimestampSplit:
    """The timestamp regex of log_patterns.yaml, applied a block at a time."""

    def __init__(self, regex: str) -> None:
        self.regex = re.compile(regex)
        self.group = self.regex.groupindex.get("ts", 0)
        self._block: re.Pattern[str] | None = None
        self._at = 0  # the ts group's position in a findall tuple
        self._fixed: Layout | None = None  # per-position ASCII tables, ts span, a variable tail
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
                        # (with the rest's group the only one, findall gives the rests themselves)
                        rests = found if self._block.groups == 1 else [f[-1] for f in found]
                        return None, [t[: len(t) - len(r)] for t, r in zip(texts, rests, strict=True)], rests, {}
                    at = self._at
                    return None, [f[at] for f in found], [f[-1] for f in found], {}
        return self._line_by_line(texts)

    def split_bytes(self, lines: list[bytes], raw: bytes | None = None) -> ByteSplit | None:
        """``split`` of a block's lines as bytes, without decoding them, where the regex has
        a fixed layout and every line is ASCII and fits it (each ending in ``\\r``, or none):
        the timestamps' codes as an (n x width) array when all are as wide (else None), a
        function giving their texts, and the texts after them (bytes). None otherwise:
        ``split`` of the decoded texts does it then, with the same results."""
        layout = self._fixed
        if layout is None or self._block is None or not lines:
            return None
        raw = b"\n".join(lines) if raw is None else raw  # ``raw``: the lines joined already
        if not raw.isascii():
            return None
        lengths = np.fromiter(map(len, lines), np.int64, len(lines))
        data = np.frombuffer(raw + b"\n" * (layout.window + 1), np.uint8)
        cr = 0
        if b"\r" in raw:  # a CRLF log: a line's text ends before its \r (``Block.texts``)
            ends = np.cumsum(lengths + 1) - 2
            if raw.count(b"\r") != len(lines) or lengths.min() == 0 or not (data[ends] == 13).all():
                return None
            data = data.copy()
            data[ends] = 10
            cr = 1
        found = layout.match(data, lengths, cr)
        if found is None:
            return None
        chars, widths, a, b = found
        if widths.min() == widths.max():
            rests = list(map(itemgetter(slice(int(widths[0]), -1 if cr else None)), lines))
            return chars[:, a:b], lambda: [line[a:b].decode("ascii") for line in lines], rests
        at = widths.tolist()
        rests = [line[e : len(line) - cr] for line, e in zip(lines, at, strict=True)]
        if b < 0:
            return None, lambda: [line[a:e].decode("ascii") for line, e in zip(lines, at, strict=True)], rests
        return None, lambda: [line[a:b].decode("ascii") for line in lines], rests

    def _split_fixed(self, texts: list[str], joined: str) -> Split | None:
        """A regex of fixed width ``w`` (and maybe a variable tail): every line's first ``w``
        bytes checked against its per-position classes at once (numpy), the tail's width
        measured alike; None if a line is shorter or does not fit."""
        layout = self._fixed
        assert layout is not None
        if not texts:
            return None
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        # "\n" after the last line too: a tail's window stops at a line's end
        data = np.frombuffer((joined + "\n" * (layout.window + 1)).encode("ascii"), np.uint8)
        found = layout.match(data, lengths)
        if found is None:
            return None
        _, widths, a, b = found
        if widths.min() == widths.max():
            w = int(widths[0])
            return None, [t[a:b] for t in texts], [t[w:] for t in texts], {}
        ends = widths.tolist()
        stamps = [t[a:e] for t, e in zip(texts, ends, strict=True)] if b < 0 else [t[a:b] for t in texts]
        return None, stamps, [t[e:] for t, e in zip(texts, ends, strict=True)], {}

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


@dataclass(frozen=True)
class Tail:
    """A timestamp regex's last part, of variable width: ``prefix`` (fixed characters,
    a table each) then a greedy run of ``run``'s characters, ``low`` to ``high`` of them
    (``high`` -1: unbounded); ``optional``: the whole may be absent (``(?:\\.\\d+)?``)."""

    prefix: list[np.ndarray]
    run: np.ndarray | None
    low: int
    high: int
    optional: bool
    in_ts: bool  # part of the ts group (which then ends with it)


@dataclass(frozen=True)
class Layout:
    """An anchored timestamp regex as per-position tables: a fixed part (``tables``, width
    x 128, never ``\\n``), the ts group's [start, end) in it, and a ``tail`` or None."""

    tables: np.ndarray
    ts: tuple[int, int]
    tail: Tail | None

    def widths(self, chars: np.ndarray) -> np.ndarray | None:
        """Per line, the width of the match (fixed part checked already) from ``chars``, the
        columns after the fixed part; None when a line does not match or a run may be longer."""
        n = chars.shape[0]
        tail = self.tail
        width = self.tables.shape[0]
        if tail is None:
            return np.full(n, width, np.int64)
        k = len(tail.prefix)
        ok = np.ones(n, bool)
        for j, table in enumerate(tail.prefix):
            ok &= table[chars[:, j]]
        run = np.zeros(n, np.int64)
        if tail.run is not None:
            after = chars[:, k:]
            gapless = _gapless(tail.run)
            inside = tail.run[after] if gapless is None else (after - gapless[0]) <= gapless[1]
            window = inside.shape[1]
            run = inside.argmin(axis=1)  # the first character out of the run, or 0 when none is
            run[inside[np.arange(n), run]] = window
            if (run == window).any() and (tail.high < 0 or tail.high > window):
                return None  # a run as long as the window: it may go on
            if tail.high >= 0:
                run = np.minimum(run, tail.high)
            ok &= run >= tail.low
        if not tail.optional and not ok.all():
            return None
        return width + np.where(ok, k + run, 0)

    def match(self, data: np.ndarray, lengths: np.ndarray, cr: int = 0) -> Matched | None:
        """Lines of ``lengths`` joined by newlines in ``data`` (followed by ``window`` + 1
        more), each ending in ``cr`` characters that are not its text: the first
        characters of each (n x width + window) checked against the per-position tables,
        the match's width per line, and the ts group's [start, end), end -1 when it ends
        with a tail of varying width. None when a line is too short or does not fit."""
        width = self.tables.shape[0]
        if lengths.min() - cr < width:
            return None
        starts = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        chars = sliding_window_view(data, width + self.window)[starts]
        fixed = chars[:, :width]
        low, span, gaps = self._runs
        if not ((fixed - low) <= span).all() or not all(self.tables[j][fixed[:, j]].all() for j in gaps):
            return None
        widths = self.widths(chars[:, width:])
        if widths is None:
            return None
        a, b = self.ts
        if self.tail is not None and self.tail.in_ts:  # the stamp ends where the match does
            b = int(widths[0]) if widths.min() == widths.max() else -1
        return chars, widths, a, b

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Per fixed position, where its characters run without a gap (most: a digit, a
        literal): the lowest code and the span above it, which two uint8 operations check
        for the whole block (a code below the lowest wraps round above the span); the
        other positions (0 and 255 there) are looked up in their tables."""
        low = np.zeros(len(self.tables), np.uint8)
        span = np.full(len(self.tables), 255, np.uint8)
        gaps = []
        for j, table in enumerate(self.tables):
            run = _gapless(table)
            if run is None:
                gaps.append(j)
            else:
                low[j], span[j] = run
        return low, span, gaps

    @property
    def window(self) -> int:
        """Columns after the fixed part that ``widths`` needs."""
        if self.tail is None:
            return 0
        high = self.tail.high if 0 <= self.tail.high <= _RUN_WINDOW else _RUN_WINDOW
        return len(self.tail.prefix) + (high if self.tail.run is not None else 0)


def _gapless(table: np.ndarray) -> tuple[np.uint8, np.uint8] | None:
    """(lowest code, span above it) of a table's characters if they run without a gap: a
    code ``c`` is then in it exactly when ``c - lowest <= span`` in uint8 (below wraps round)."""
    codes = np.flatnonzero(table)
    if codes[-1] - codes[0] + 1 != len(codes):
        return None
    return np.uint8(codes[0]), np.uint8(codes[-1] - codes[0])


_RUN_WINDOW = 16  # characters of a variable run looked at (a longer run: line by line)


def fixed_width(regex: str, group: int) -> Layout | None:
    """For an anchored regex that is a fixed sequence of single characters (classes,
    literals, repeats of them ``{n}``, groups), possibly ending in a ``Tail`` (a variable
    run, or an optional group of fixed characters and a run, such as ``(?:\\.\\d+)?``): its
    ``Layout``; None for anything else (alternatives, other variable repeats, lazy ones,
    anchors after the first)."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser as p  # type: ignore[attr-defined]

    tree: Any = p.parse(regex)
    rows: list[np.ndarray] = []
    span = [0, 0]
    tails: list[Tail] = []

    def char(op: Any, av: Any, flags: int) -> np.ndarray | None:
        if op not in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN):
            return None
        try:
            return ascii_table(op, av, flags)
        except Untranslatable:
            return None

    def tail(lo: int, hi: int, sub: Any, flags: int, in_ts: bool) -> Tail | None:
        high = -1 if hi is c.MAXREPEAT else hi
        one = char(sub[0][0], sub[0][1], flags) if len(sub) == 1 else None
        if one is not None:  # x{lo,hi}
            return Tail([], one, lo, high, False, in_ts)
        if (lo, hi) != (0, 1):
            return None
        parts = list(sub)  # (?:fixed chars, then a run or not)?
        run: Tail | None = None
        if parts and parts[-1][0] is c.MAX_REPEAT and len(parts[-1][1][2]) == 1:
            r_lo, r_hi, r_sub = parts.pop()[1]
            run = tail(r_lo, r_hi, r_sub, flags, in_ts)
        found = [char(op, av, flags) for op, av in parts]
        prefix = [t for t in found if t is not None]
        if len(prefix) < len(found) or (run is None and not prefix):
            return None
        if run is None:
            return Tail(prefix, None, 0, 0, True, in_ts)
        return Tail(prefix, run.run, run.low, run.high, True, in_ts)

    def walk(items: Any, flags: int, at_end: bool, in_ts: bool) -> bool:
        items = list(items)
        for i, (op, av) in enumerate(items):
            last = at_end and i == len(items) - 1
            table = char(op, av, flags)
            if table is not None:
                rows.append(table)
            elif op is c.SUBPATTERN:
                at = len(rows)
                if not walk(av[3], (flags | av[1]) & ~av[2], last, in_ts or av[0] == group):
                    return False
                if av[0] == group:
                    span[:] = [at, len(rows)]
            elif op is c.MAX_REPEAT and av[0] == av[1]:
                for _ in range(av[0]):
                    if not walk(av[2], flags, False, in_ts):
                        return False
            elif op is c.MAX_REPEAT and last:
                found = tail(av[0], av[1], av[2], flags, in_ts)
                if found is None:
                    return False
                tails.append(found)
            else:
                return False
        return True

    if not walk(list(tree)[1:], tree.state.flags, True, group == 0) or not rows:
        return None
    if group == 0:
        span = [0, len(rows)]
    return Layout(np.array(rows), (span[0], span[1]), tails[0] if tails else None)
