"""Readings without a year (syslog's ``%b %d %H:%M:%S``, many PLCs) placed in years.

A reading without a year names a *calendar position*: microseconds from 1 January
00:00 in a leap year, so 29 February has a place. ``YearlessTimestamps`` reads
that position with an ordinary ``TimestampParser`` (year 2000, a leap year, and no
zone: every fast path still applies) and places it, line after line:

- the first reading is in ``year`` when one is configured; with ``auto`` it is in the
  latest year in which it is not after the time its block was written (the log
  file's modification time; for a stream, the time it was read), with a day of
  slack for a log written in a zone ahead of UTC;
- each next reading is in the previous one's year, the next year when it is more than
  a day earlier in the calendar (Dec -> Jan), and the year before when it is more than
  365 days later (a line written out of order across New Year);
- with ``auto``, never after the time it was written: such a reading is put in the
  latest year in which it is not (a clock set back to January in June moves no year
  on, and a log longer than a year is kept out of the future);
- 29 February is a date only in a leap year: in another it is a malformed reading.

The year of the previous reading is read back from ``last`` (the instant the
timestamp parser remembers anyway, which checkpoints keep), so a resumed run
places its readings as an uninterrupted one would.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import numpy as np

from logloom.logtime.strptime import compile_strptime
from logloom.logtime.timestamps import TimestampParser

DAY = 86_400_000_000
MINUTE = 60_000_000
SLACK = DAY  # how far a reading may be before the previous one, or after the time it was written
LATE = 365 * DAY  # a reading this much later (in a leap year) than the previous belongs to the year before
FEB_29 = 59 * DAY  # its calendar position ...
MARCH = 60 * DAY  # ... and the first one after it
NO_TIME = -(1 << 62)  # TimestampParser.last before any reading
REF_YEAR = 2000  # a leap year: every calendar position has a place in it
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_REF_START = (datetime(REF_YEAR, 1, 1) - _EPOCH) // _US
_YEARS = range(1, 10_000)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def places_years(fmt: str) -> bool:
    """Whether readings of ``fmt`` name a month and a day but no year."""
    if fmt in ("iso", "epoch", "epoch_ms"):
        return False
    try:
        names = compile_strptime(fmt).regex.groupindex.keys()
    except ValueError:
        return False
    return not {"Y", "y"} & names and "d" in names and bool({"m", "b", "B"} & names)


def timestamp_parser(fmt: str, timezone: str | None = None, year: int | str | None = None) -> TimestampParser:
    """The parser of ``fmt``: one that places readings in years when they have none.

    ``year``: the year of the first reading, or ``auto``/None (the time it was written
    decides). ValueError for a format it cannot take.
    """
    if not places_years(fmt):
        return TimestampParser(fmt, timezone)
    return YearlessTimestamps(fmt, timezone, year if isinstance(year, int) else None)


class _Years:
    """Microseconds of 1 January of each year (naive, counted as if UTC), computed once."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}

    def start(self, year: int) -> int:
        value = self.starts.get(year)
        if value is None:
            if year not in _YEARS:
                raise ValueError(f"year {year} is out of range")
            value = self.starts[year] = (datetime(year, 1, 1) - _EPOCH) // _US
        return value

    def naive(self, year: int, pos: int) -> int:
        """The reading at calendar position ``pos`` of ``year``."""
        if pos >= FEB_29 and not is_leap(year):
            if pos < MARCH:
                raise ValueError(f"29 February {year} is not a date ({year} is not a leap year)")
            pos -= DAY
        return self.start(year) + pos

    def position(self, naive: int) -> tuple[int, int]:
        """(year, calendar position) of a naive reading."""
        year = (_EPOCH + naive * _US).year
        pos = naive - self.start(year)
        if pos >= FEB_29 and not is_leap(year):
            pos += DAY
        return year, pos


class YearlessTimestamps(TimestampParser):
    """A ``TimestampParser`` of a format without a year: readings placed in years.

    ``written_by`` tells it when the coming readings were written (once a block);
    ``last`` may be set from a checkpoint, and the next reading's year follows it.
    """

    def __init__(self, fmt: str, timezone: str | None, year: int | None) -> None:
        super().__init__(fmt, timezone)
        if "z" in compile_strptime(fmt).regex.groupindex:
            raise ValueError("a format with an offset (%z) needs its year (%Y) too")
        self._calendar = TimestampParser(fmt, None, default_year=REF_YEAR)  # reads calendar positions
        self._fixed = year
        self._years = _Years()
        self._year: int | None = None  # of the previous reading
        self._pos = 0  # its calendar position
        self._limit: tuple[int, int] | None = None  # (year, position) a reading must not be after
        self._limit_of: int | None = None
        self.parse = self._parse = self._parse_yearless

    @property
    def last(self) -> int:
        return self._last

    @last.setter
    def last(self, value: int) -> None:
        self._last = value
        self._stale = True  # the previous reading's year is read back from it when needed

    def written_by(self, instant: int | None) -> None:
        if instant != self._limit_of or instant is None:
            self._limit_of = instant
            self._limit = None

    # -- placing ---------------------------------------------------------------------
    def _parse_yearless(self, text: str) -> int:
        return self._place(self._calendar.parse(text) - _REF_START)

    def parse_chars(self, chars: np.ndarray) -> list[int] | None:
        return None  # readings are placed in years from their texts (parse_many)

    def parse_many(self, texts: list[str]) -> tuple[list[int], dict[int, str]]:
        """``parse`` of each text: a block within one year at once (numpy), else line by line."""
        readings, bad = self._calendar.parse_many(texts)
        if self._stale:
            self._recall()
        good = [r for i, r in enumerate(readings) if i not in bad] if bad else readings
        if good:
            placed = self._one_year(np.array(good, dtype=np.int64) - _REF_START)
            if placed is not None:
                if bad:
                    it = iter(placed)
                    placed = [0 if i in bad else next(it) for i in range(len(readings))]
                return placed, bad
        out: list[int] = []
        place = self._place
        for i, naive in enumerate(readings):
            if i in bad:
                out.append(0)
                continue
            try:
                out.append(place(naive - _REF_START))
            except (ValueError, OverflowError) as exc:
                out.append(0)
                bad[i] = str(exc)
        return out, bad

    def _one_year(self, pos: np.ndarray) -> list[int] | None:
        """The instants of calendar positions ``pos`` if ``_place`` would put them all in one
        year, without a 29 February it lacks or a time the clocks skipped; else None (and
        nothing changed)."""
        year = self._year
        if year is None:
            year = self._fixed if self._fixed is not None else self._latest(int(pos[0]))
            before = int(pos[0])
        else:
            before = self._pos
        leap = is_leap(year)
        shift = 0 if leap else DAY
        real = pos - shift * (pos >= MARCH)  # positions in that year's own calendar
        steps = np.diff(real, prepend=before - shift if before >= MARCH else before)
        if steps.min() < -SLACK or steps.max() > LATE - shift:
            return None  # a year changes inside the block
        if not leap and ((pos >= FEB_29) & (pos < MARCH)).any():
            return None
        if self._fixed is None and year > self._latest(int(pos.max()), leap=False):
            return None  # some reading would be after the time it was written
        naive: list[int] = (real + self._years.start(year)).tolist()
        if self.tz is not None:
            instants = self._instants(naive)
            if instants is None:
                return None
            naive = instants
        else:
            self._last = naive[-1]
        self._year, self._pos, self._stale = year, int(pos[-1]), False
        return naive

    def _instants(self, naive: list[int]) -> list[int] | None:
        """``_choose``'s instants of local readings, line after line (None at a skipped time)."""
        minutes, local = self._minutes, self._local
        last = self._last
        out: list[int] = []
        for reading in naive:
            minute, offset = divmod(reading, MINUTE)
            pair = minutes.get(minute)
            if pair is None:
                pair = local(_EPOCH + minute * MINUTE * _US, minute)
            first, second = pair
            if second < first:
                return None
            last = second + offset if second > first and first + offset < last else first + offset
            out.append(last)
        self._last = last
        return out

    def _place(self, pos: int) -> int:
        if self._stale:
            self._recall()
        year = self._year
        if year is None:
            year = self._fixed if self._fixed is not None else self._latest(pos)
        else:  # compared in the previous reading's year: no phantom 29 February in between
            shift = 0 if is_leap(year) else DAY
            step = (pos - shift if pos >= MARCH else pos) - (self._pos - shift if self._pos >= MARCH else self._pos)
            if step < -SLACK:
                year += 1
            elif step > LATE - shift:
                year -= 1
            if self._fixed is None:
                year = min(year, self._latest(pos, leap=False))
        naive = self._years.naive(year, pos)
        if self.tz is None:
            self._last = naive
        else:
            minute, offset = divmod(naive, MINUTE)
            pair = self._minutes.get(minute)
            if pair is None:
                pair = self._local(_EPOCH + minute * MINUTE * _US, minute)
            self._choose(pair, offset)  # sets last (and _stale)
            if pair[1] < pair[0]:  # a time the clocks skipped: its instant reads back an hour on
                self._recall()
                return self._last
        self._year, self._pos, self._stale = year, pos, False
        return self._last

    def _recall(self) -> None:
        """The previous reading's year and position, read back from ``last``."""
        self._stale = False
        if self._last <= NO_TIME // 2:
            self._year = None
            return
        self._year, self._pos = self._years.position(self._local_reading(self._last))

    def _local_reading(self, t: int) -> int:
        """The naive wall-clock reading of ``t`` (itself without a zone)."""
        if self.tz is None:
            return t
        local = datetime.fromtimestamp(t // 1_000_000, self.tz).replace(tzinfo=None)
        return (local - _EPOCH) // _US + t % 1_000_000

    def _latest(self, pos: int, *, leap: bool = True) -> int:
        """The latest year in which calendar position ``pos`` is not after the time written
        (``leap``: a leap year for 29 February, else any year)."""
        if self._limit is None:
            written = self._limit_of if self._limit_of is not None else time.time_ns() // 1000
            self._limit = self._years.position(self._local_reading(written) + SLACK)
        year, limit_pos = self._limit
        if pos > limit_pos:
            year -= 1
        if leap and FEB_29 <= pos < MARCH:
            while not is_leap(year):
                year -= 1
        return year
