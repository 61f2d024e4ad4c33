"""Timestamp text -> integer microseconds, and back to the output's text.

A format is compiled once: ``iso`` has a sliced fast path, ``epoch``/``epoch_ms``
are integer arithmetic, and any strptime format is translated to a regex whose
minute-level part is cached, so no line ever calls ``strptime``.

Without a timezone, a naive reading is counted as if it were UTC (wall-clock
arithmetic); with one, every reading is turned into its UTC instant. In a repeated
hour (clocks going back) a reading means its first occurrence unless that would
run time backwards relative to the previous line; then it means the second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from logloom.logtime.formatter import TimeFormatter
from logloom.logtime.strptime import (
    Layout,
    StrptimeFormat,
    compile_strptime,
    iso_layout,
    layout_of,
    minute_of,
    read_chars,
    read_columns,
)

__all__ = ["TimeFormatter", "TimestampParser", "load_timezone"]

# "00".."59" -> microseconds: a dict lookup both converts and validates.
_SECONDS = {f"{i:02d}": i * 1_000_000 for i in range(60)}
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_CACHE_LIMIT = 4096
# instants every zone writes within the years 1 to 9999 (a zone is less than 2 days off UTC);
# only a reading outside them is converted to find out whether its output zone can hold it
SAFE_MIN = (datetime(1, 1, 3) - _EPOCH) // _US
SAFE_MAX = (datetime(9999, 12, 29) - _EPOCH) // _US
_US_PER_YEAR = 31_556_952_000_000  # 365.2425 days

def load_timezone(name: str | None) -> tzinfo | None:
    """The IANA zone ``name``; ValueError names it when unknown."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def _micros(dt: datetime) -> int:
    if dt.tzinfo is None:
        return (dt - _EPOCH) // _US
    return (dt - _EPOCH_UTC) // _US


def _frac_micros(digits: str) -> int:
    """'5' -> 500000, '123456789' -> 123456 (truncated below a microsecond)."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"bad fraction {digits!r}")
    return int((digits + "00000")[:6])


class TimestampParser:
    """Compiled timestamp format. Call it with the ``ts`` group's text.

    Promises: returns microseconds or raises ValueError; never calls strptime;
    memory is bounded (the minute cache is cleared past a few thousand entries).
    ``last`` is the previous instant (the DST rule's memory; checkpoints keep it).
    """

    def __init__(self, fmt: str, timezone: str | None = None, *, default_year: int = 1900) -> None:
        self.format = fmt
        self._default_year = default_year  # of a strptime format without a year (years.py places them)
        self.tz = load_timezone(timezone)
        self.last = -(1 << 62)
        self._minutes: dict[object, tuple[int, int]] = {}
        self._unambiguous: dict[str, int] = {}  # iso minute prefix -> µs, where no DST doubt
        self._seconds: dict[str, int] = {}  # ":SS[.fff]" after the minute -> µs
        self._parse: Callable[[str], int]
        self._strp: StrptimeFormat | None = None
        self._seconds_last = self._columns_ok = False
        self._frac_sep = ""
        self._layouts: dict[int, Layout | tuple[()]] = {}  # a reading's length -> where its fields are
        if fmt == "iso":
            self._parse = self._parse_iso
        elif fmt == "epoch":
            self._parse = self._parse_epoch
        elif fmt == "epoch_ms":
            self._parse = self._parse_epoch_ms
        else:
            self._strp = compile_strptime(fmt)
            # ending in its seconds, a reading is cut into its minute and its seconds (the fast
            # path of iso); naive and of fixed width, a block of them goes through numpy
            self._seconds_last, self._frac_sep = self._strp.seconds_last, self._strp.frac_sep
            self._columns_ok = self._seconds_last and self.tz is None
            self._parse = self._parse_strptime_fast if self._seconds_last else self._parse_strptime
        self.has_instants = self.tz is not None or fmt in ("epoch", "epoch_ms") or "%z" in fmt
        self.parse: Callable[[str], int] = self._parse  # the hot loop calls this, one frame less
        # naive ISO 8601 of one width reads from its digits exactly like _parse_iso
        self._vectorizable = fmt == "iso" and self.tz is None

    def __call__(self, text: str) -> int:
        return self._parse(text)

    def written_by(self, instant: int | None) -> None:
        """The readings that follow were written by ``instant`` (UTC µs; None: unknown).
        A reading that carries its year needs no such anchor; see ``years.YearlessTimestamps``."""

    def parse_many(self, texts: list[str]) -> tuple[list[int], dict[int, str]]:
        """Microseconds of each text (0 where it fails) and {index: reason} of the failures.

        Naive readings of one fixed width (ISO, or a strptime format ending in its
        seconds) are computed from their bytes by numpy in one go (the same values);
        anything it cannot take for certain goes one by one, in order (the DST rule
        needs each reading's predecessor).
        """
        if self._vectorizable and texts:
            layout = iso_layout(texts[0])
            values = read_columns(texts, layout) if layout is not None else None
            if values is not None:
                self.last = values[-1]
                return values, {}
        if self._seconds_last:
            return self._strptime_many(texts)
        out: list[int] = []
        bad: dict[int, str] = {}
        parse = self._parse
        for i, text in enumerate(texts):
            try:
                out.append(parse(text))
            except (ValueError, OverflowError) as exc:
                out.append(0)
                bad[i] = str(exc)
        return out, bad

    def parse_chars(self, chars: np.ndarray) -> list[int] | None:
        """``parse_many`` of readings of one width given as an (n x width) array of their
        ASCII codes, where numpy reads them all (naive ISO, or a strptime format ending in
        its seconds); None where it cannot (the caller gives ``parse_many`` the texts)."""
        if not len(chars) or not (self._vectorizable or self._columns_ok):
            return None
        sample = chars[0].tobytes().decode("ascii")
        layout: Layout | tuple[()] | None
        if self._vectorizable:
            layout = iso_layout(sample)
        else:
            layout = self._layouts.get(len(sample)) or self._learn_layout(sample)
        values = read_chars(chars, layout) if layout else None
        if values is not None:
            self.last = values[-1]
        return values

    def _strptime_many(self, texts: list[str]) -> tuple[list[int], dict[int, str]]:
        """``parse_many`` for a strptime format that ends in its seconds: numeric fixed-width
        readings without a timezone through numpy (``_columns``), else the fast path of
        ``_parse_strptime_fast`` in one loop and the rest one by one through it."""
        if self._columns_ok and texts:
            with contextlib.suppress(ValueError, OverflowError):
                values = self._columns(texts)
                if values is not None:
                    self.last = values[-1]
                    return values, {}
        out: list[int] = []
        bad: dict[int, str] = {}
        sep, minutes, seconds = self._frac_sep, self._unambiguous, self._seconds
        last = self.last
        for i, text in enumerate(texts):
            j = (text.rfind(sep) if sep else len(text)) - 2
            base = minutes.get(text[:j]) if j > 0 else None
            offset = seconds.get(text[j:]) if base is not None else None
            if offset is not None:
                last = base + offset  # type: ignore[operator]
                out.append(last)
                continue
            self.last = last  # the DST rule compares with the reading before
            try:
                out.append(self._parse_strptime_fast(text))
            except (ValueError, OverflowError) as exc:
                out.append(0)
                bad[i] = str(exc)
            last = self.last
        self.last = last
        return out, bad

    def _columns(self, texts: list[str]) -> list[int] | None:
        """``strptime.read_columns`` with the layout of readings of this length, learned
        from the first one the regex matches."""
        layout = self._layouts.get(len(texts[0]))
        if layout is None:
            layout = self._learn_layout(texts[0])
        return read_columns(texts, layout) if layout else None

    def _learn_layout(self, sample: str) -> Layout | tuple[()] | None:
        """Where the fields of readings as long as ``sample`` are (kept when found)."""
        assert self._strp is not None
        layout = layout_of(self._strp, sample)
        if layout is not None:
            self._layouts[len(sample)] = layout
        return layout

    # -- local wall-clock minute -> instant (DST rule) --------------------------------
    def held(self, t: int) -> int:
        """``t`` if the outputs can write it (in the years 1 to 9999 of the zone they are
        written in); else ValueError, so that the line, not the run, is what fails."""
        if SAFE_MIN <= t <= SAFE_MAX:
            return t
        try:
            (_EPOCH_UTC + t * _US).astimezone(self.tz or UTC)
        except (OverflowError, ValueError):
            raise ValueError(f"out of range: about the year {1970 + t // _US_PER_YEAR}; readings must fall in "
                             "the years 1 to 9999") from None
        return t

    def _local(self, naive_minute: datetime, key: object) -> tuple[int, int]:
        """(first, second) occurrence of a local minute, in microseconds."""
        pair = self._minutes.get(key)
        if pair is None:
            if len(self._minutes) > _CACHE_LIMIT:
                self._minutes.clear()
            if self.tz is None:
                first = _micros(naive_minute)
                pair = (first, first)
            else:
                pair = (
                    self.held(_micros(naive_minute.replace(tzinfo=self.tz, fold=0))),
                    self.held(_micros(naive_minute.replace(tzinfo=self.tz, fold=1))),
                )
            self._minutes[key] = pair
        return pair

    def _choose(self, pair: tuple[int, int], offset_us: int) -> int:
        first, second = pair
        t = first + offset_us
        if second > first and t < self.last:
            t = second + offset_us
        self.last = t
        return t

    # -- iso ---------------------------------------------------------------------
    def _parse_iso(self, s: str) -> int:
        # fast path: a known minute without DST doubt, then ":SS[.fff]" from a cache
        base = self._unambiguous.get(s[:16])
        if base is not None:
            offset = self._seconds.get(s[16:])
            if offset is None:
                offset = self._second_offset(s[16:])
            if offset >= 0:
                t = self.last = base + offset
                return t
        if len(s) >= 19 and s[16] == ":" and s[13] == ":":
            head = s[:16]
            sec_text = s[17:19]
            rest = s[19:]
            if sec_text.isdigit() and sec_text.isascii() and int(sec_text) < 60:
                if not rest:
                    us = 0
                elif rest[0] in ".," and rest[1:].isdigit():
                    us = _frac_micros(rest[1:])
                else:
                    return self._parse_iso_slow(s)
                pair = self._minutes.get(head)
                if pair is None:
                    pair = self._local(datetime.fromisoformat(head), head)
                    if pair[0] == pair[1] and head[10] in "T " and head.isascii():
                        if len(self._unambiguous) > _CACHE_LIMIT:
                            self._unambiguous.clear()
                        self._unambiguous[head] = pair[0]
                return self._choose(pair, int(sec_text) * 1_000_000 + us)
        return self._parse_iso_slow(s)

    def _second_offset(self, tail: str) -> int:
        """µs of ":SS" or ":SS.f…" after an ISO minute (-1 for anything else)."""
        return self._seconds_at(tail, 1, ".,") if tail[:1] == ":" else -1

    def _seconds_at(self, tail: str, start: int, separators: str) -> int:
        """µs of the "SS" at ``start`` of ``tail`` and of a fraction after one of
        ``separators`` (-1 for anything else), cached by ``tail`` for the next readings."""
        sec = _SECONDS.get(tail[start : start + 2])
        frac = tail[start + 2 :]
        if sec is None:
            return -1
        if not frac:
            us = 0
        elif frac[0] in separators and 1 < len(frac) <= 10 and frac[1:].isdigit() and frac.isascii():
            us = _frac_micros(frac[1:])
        else:
            return -1
        if len(self._seconds) > 100_000:
            self._seconds.clear()
        self._seconds[tail] = offset = sec + us
        return offset

    def _parse_iso_slow(self, s: str) -> int:
        dt = datetime.fromisoformat(s.replace(",", "."))
        if dt.tzinfo is not None:
            t = self.held(_micros(dt))
            self.last = t
            return t
        minute = dt.replace(second=0, microsecond=0)
        return self._choose(self._local(minute, minute), dt.second * 1_000_000 + dt.microsecond)

    # -- epoch -------------------------------------------------------------------
    @staticmethod
    def _split_number(s: str) -> tuple[int, str]:
        whole, _, frac = s.strip().partition(".")
        if not whole.lstrip("-").isdigit() or not whole.isascii():
            raise ValueError(f"not a number: {s!r}")
        return int(whole), frac

    def _parse_epoch(self, s: str) -> int:
        whole, frac = self._split_number(s)
        us = _frac_micros(frac) if frac else 0
        t = whole * 1_000_000 + (-us if whole < 0 else us)
        return t if SAFE_MIN <= t <= SAFE_MAX else self.held(t)

    def _parse_epoch_ms(self, s: str) -> int:
        whole, frac = self._split_number(s)
        us = int((frac + "000")[:3]) if frac else 0
        if frac and not frac.isdigit():
            raise ValueError(f"not a number: {s!r}")
        t = whole * 1000 + (-us if whole < 0 else us)
        return t if SAFE_MIN <= t <= SAFE_MAX else self.held(t)

    # -- strptime formats, compiled to a regex (strptime.py) ---------------------------
    def _parse_strptime_fast(self, s: str) -> int:
        """A minute seen before without DST doubt: its instant plus the seconds, both
        read from caches by text; anything else goes through the regex."""
        i = (s.rfind(self._frac_sep) if self._frac_sep else len(s)) - 2
        base = self._unambiguous.get(s[:i]) if i > 0 else None
        if base is not None:
            offset = self._seconds.get(s[i:])
            if offset is None:
                offset = self._seconds_at(s[i:], 0, self._frac_sep)
            if offset >= 0:
                t = self.last = base + offset
                return t
        return self._parse_strptime(s, i)

    def _parse_strptime(self, s: str, seconds_at: int = -1) -> int:
        """The regex path; ``seconds_at`` is where the fast path expects the seconds (a
        minute without DST doubt whose text ends like that is cached for it)."""
        fmt = self._strp
        assert fmt is not None
        m = fmt.regex.fullmatch(s.strip())
        if m is None:
            raise ValueError(f"{s!r} does not match format {self.format!r}")
        key = m.group(*fmt.key_names) if fmt.key_names else ""
        offset = 0
        if fmt.has_seconds:
            sec = int(m.group("S"))
            if sec > 61:
                raise ValueError(f"second out of range in {s!r}")
            offset = sec * 1_000_000
        if fmt.has_frac:
            offset += _frac_micros(m.group("f"))
        cached = self._minutes.get(key)
        if cached is None:
            minute, zone = minute_of(m, self._default_year)
            if zone is not None:
                first = self.held(_micros(minute.replace(tzinfo=zone)))
                cached = (first, first)
                self._minutes[key] = cached
                t = first + offset
                self.last = t
                return t
            cached = self._local(minute, key)
            if (seconds_at > 0 and cached[0] == cached[1] and len(s) == len(m.string)  # nothing stripped
                    and m.start("S") == seconds_at and m.end("S") == seconds_at + 2):
                if len(self._unambiguous) > _CACHE_LIMIT:
                    self._unambiguous.clear()
                self._unambiguous[s[:seconds_at]] = cached[0]
        return self._choose(cached, offset)
