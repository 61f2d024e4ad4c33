"""Microseconds -> the output's timestamp text (SPEC 5): ``TimeFormatter``.

(``timestamps`` reads times and re-exports this; a block of naive times is written
at once by ``strptime.iso_columns``.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

_EPOCH = datetime(1970, 1, 1)

_TWO_DIGITS = [f"{i:02d}" for i in range(60)]
_THREE_DIGITS = [f"{i:03d}" for i in range(1000)]


class TimeFormatter:
    """Microseconds -> the output's timestamp text (SPEC 5).

    ``iso``: ``datetime.isoformat()`` of the reading (fraction only when non-zero),
    with the UTC offset when the input carries instants; ``epoch``: float seconds.
    The text up to the minute is cached, so a row costs a few string joins.
    """

    def __init__(self, mode: str, *, tz: tzinfo | None, instants: bool) -> None:
        if mode not in ("iso", "epoch"):
            raise ValueError(f"unknown time format {mode!r}")
        self.mode = mode
        self.tz = tz if tz is not None else (UTC if instants else None)
        self._minute: int | None = None
        self._head = ""  # "YYYY-MM-DDTHH:MM:" of the cached minute
        self._tail = ""  # its UTC offset, "" for naive readings
        self._last_ts: int | None = None
        self._last_text = ""

    def __call__(self, ts: int) -> str:
        if ts == self._last_ts:  # the rows of one exit share their timestamp
            return self._last_text
        self._last_ts = ts
        self._last_text = text = self.format_new(ts)
        return text

    def format_new(self, ts: int) -> str:
        """The text of ``ts`` without the one-entry cache (for callers that keep their own)."""
        if self.mode == "epoch":
            return repr(round(ts / 1_000_000, 6))
        sec, us = divmod(ts, 1_000_000)
        minute, second = divmod(sec, 60)
        if minute != self._minute:
            text = self._isoformat(minute * 60)
            if text[17:19] != "00":  # an offset with seconds (old LMT zones): no shortcut
                self._minute = None
                return self._slow(sec, us)
            self._minute, self._head, self._tail = minute, text[:17], text[19:]
        if us:  # two table lookups instead of a format spec: a third of the time
            ms, rest = divmod(us, 1000)
            return f"{self._head}{_TWO_DIGITS[second]}.{_THREE_DIGITS[ms]}{_THREE_DIGITS[rest]}{self._tail}"
        return self._head + _TWO_DIGITS[second] + self._tail

    def _isoformat(self, sec: int) -> str:
        if self.tz is None:
            return (_EPOCH + timedelta(seconds=sec)).isoformat()
        return datetime.fromtimestamp(sec, self.tz).isoformat()

    def _slow(self, sec: int, us: int) -> str:
        text = self._isoformat(sec)
        return f"{text[:19]}.{us:06d}{text[19:]}" if us else text
