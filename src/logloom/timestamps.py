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
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

# "00".."59" -> microseconds: a dict lookup both converts and validates.
_SECONDS = {f"{i:02d}": i * 1_000_000 for i in range(60)}
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_CACHE_LIMIT = 4096

# (field -> (start, end), the other positions, their characters) of fixed-width readings
_Layout = tuple[dict[str, tuple[int, int]], list[int], np.ndarray]

# strptime directive -> (group name, regex)
_DIRECTIVES: dict[str, tuple[str | None, str]] = {
    "Y": ("Y", r"\d{4}"),
    "y": ("y", r"\d{2}"),
    "m": ("m", r"\d{1,2}"),
    "d": ("d", r"\d{1,2}"),
    "H": ("H", r"\d{1,2}"),
    "I": ("I", r"\d{1,2}"),
    "M": ("M", r"\d{1,2}"),
    "S": ("S", r"\d{1,2}"),
    "f": ("f", r"\d{1,9}"),
    "p": ("p", r"(?i:AM|PM)"),
    "b": ("b", r"[A-Za-z]{3}"),
    "B": ("B", r"[A-Za-z]+"),
    "a": (None, r"[A-Za-z]{3}"),
    "A": (None, r"[A-Za-z]+"),
    "j": ("j", r"\d{1,3}"),
    "z": ("z", r"Z|[+-]\d{2}:?\d{2}"),
    "%": (None, "%"),
}
_MONTHS = {
    name.lower(): i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may", "may"),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


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

    def __init__(self, fmt: str, timezone: str | None = None) -> None:
        self.format = fmt
        self.tz = load_timezone(timezone)
        self.last = -(1 << 62)
        self._minutes: dict[object, tuple[int, int]] = {}
        self._unambiguous: dict[str, int] = {}  # iso minute prefix -> µs, where no DST doubt
        self._seconds: dict[str, int] = {}  # ":SS[.fff]" after the minute -> µs
        self._parse: Callable[[str], int]
        self._seconds_last = self._columns_ok = False  # strptime formats: see _compile_strptime
        if fmt == "iso":
            self._parse = self._parse_iso
        elif fmt == "epoch":
            self._parse = self._parse_epoch
        elif fmt == "epoch_ms":
            self._parse = self._parse_epoch_ms
        else:
            self._compile_strptime(fmt)
            self._parse = self._parse_strptime_fast if self._seconds_last else self._parse_strptime
        self.has_instants = self.tz is not None or fmt in ("epoch", "epoch_ms") or "%z" in fmt
        self.parse: Callable[[str], int] = self._parse  # the hot loop calls this, one frame less
        # numpy reads naive ISO 8601 exactly like _parse_iso (no offsets, letters or commas)
        self._vectorizable = fmt == "iso" and self.tz is None

    def __call__(self, text: str) -> int:
        return self._parse(text)

    def parse_many(self, texts: list[str]) -> tuple[list[int], dict[int, str]]:
        """Microseconds of each text (0 where it fails) and {index: reason} of the failures.

        Naive ISO readings are converted by numpy in one call (the same values, in C);
        anything it cannot take for certain goes one by one, in order (the DST rule
        needs each reading's predecessor).
        """
        if self._vectorizable and texts:
            joined = "".join(texts)
            if "," not in joined and joined.count("-") == 2 * len(texts) and joined.isascii():
                with contextlib.suppress(ValueError, OverflowError):
                    values: list[int] = np.array(texts, dtype="datetime64[us]").astype(np.int64).tolist()
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
        """Readings of one length whose digits sit where the first one's do, rearranged
        as ISO 8601 text and read by numpy; None when they are not all like that.

        The first reading, matched by the regex, shows where each field is; every other
        character must be the same in all of them (so the regex would match them too).
        """
        width = len(texts[0])
        layout = self._layouts.get(width)
        if layout is None:
            layout = self._layout(texts[0])
            if layout is None:
                return None
            self._layouts[width] = layout
        if not layout:
            return None
        fields, literal_at, literal = layout
        codes = np.array(texts)
        if codes.dtype.itemsize != 4 * width:  # a longer one (a shorter one ends in NULs)
            return None
        chars = codes.view(np.uint32).reshape(len(texts), width)
        if not (chars[:, literal_at] == literal).all():
            return None
        digits = chars[:, [i for start, end in fields.values() for i in range(start, end)]]
        if not ((digits >= 48) & (digits <= 57)).all():  # ASCII digits only, as the regex path
            return None
        iso = np.full((len(texts), 26), ord("0"), dtype=np.uint32)
        for at, ch in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, ".")):
            iso[:, at] = ord(ch)
        for name, at in (("Y", 0), ("m", 5), ("d", 8), ("H", 11), ("M", 14), ("S", 17), ("f", 20)):
            if name in fields:
                start, end = fields[name]
                end = min(end, start + 6)  # a fraction is cut at the microsecond
                iso[:, at : at + end - start] = chars[:, start:end]
        stamps = iso.view("<U26").ravel().astype("datetime64[us]")
        values: list[int] = stamps.astype(np.int64).tolist()
        return values

    def _layout(self, sample: str) -> _Layout | tuple[()] | None:
        """Where ``sample``'s fields are, if they are Y, m, d, H, M[, S[, f]] of 4, 2 ... 2
        digits (and 1 to 9 of a fraction), with the positions and characters of the rest;
        ``()`` for a reading of other fields or widths; None if ``sample`` does not match."""
        m = self._regex.fullmatch(sample)
        if m is None:
            return None
        fields = {name: m.span(name) for name in m.groupdict()}
        widths = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
        if not {"Y", "m", "d", "H", "M"} <= fields.keys() <= {*widths, "f"}:
            return ()
        if any(end - start != widths.get(name, end - start) for name, (start, end) in fields.items()):
            return ()
        taken = {i for start, end in fields.values() for i in range(start, end)}
        literal_at = [i for i in range(len(sample)) if i not in taken]
        return fields, literal_at, np.array([ord(sample[i]) for i in literal_at], dtype=np.uint32)

    # -- local wall-clock minute -> instant (DST rule) --------------------------------
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
                    _micros(naive_minute.replace(tzinfo=self.tz, fold=0)),
                    _micros(naive_minute.replace(tzinfo=self.tz, fold=1)),
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
        """µs of ":SS" or ":SS.f…" (-1 for anything else), cached for the next lines."""
        sec = _SECONDS.get(tail[1:3])
        if tail[:1] != ":" or sec is None:
            return -1
        frac = tail[3:]
        if not frac:
            us = 0
        elif frac[0] in ".," and frac[1:].isdigit() and frac.isascii():
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
            t = _micros(dt)
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
        return whole * 1_000_000 + (-us if whole < 0 else us)

    def _parse_epoch_ms(self, s: str) -> int:
        whole, frac = self._split_number(s)
        us = int((frac + "000")[:3]) if frac else 0
        if frac and not frac.isdigit():
            raise ValueError(f"not a number: {s!r}")
        return whole * 1000 + (-us if whole < 0 else us)

    # -- strptime formats, compiled to a regex -------------------------------------
    def _compile_strptime(self, fmt: str) -> None:
        parts: list[str] = []
        names: list[str] = []
        i = 0
        while i < len(fmt):
            ch = fmt[i]
            if ch != "%":
                parts.append(r"\s+" if ch == " " else re.escape(ch))
                i += 1
                continue
            if i + 1 >= len(fmt):
                raise ValueError("format ends with a lone '%'")
            code = fmt[i + 1]
            if code not in _DIRECTIVES:
                raise ValueError(f"unsupported directive %{code} in format {fmt!r}")
            name, rx = _DIRECTIVES[code]
            if name is None:
                parts.append(f"(?:{rx})")
            else:
                if name in names:
                    raise ValueError(f"directive %{code} appears twice in format {fmt!r}")
                names.append(name)
                parts.append(f"(?P<{name}>{rx})")
            i += 2
        self._regex = re.compile("".join(parts))
        self._key_names = tuple(n for n in names if n not in ("S", "f"))
        self._has_seconds = "S" in names
        self._has_frac = "f" in names
        # a format that ends in its seconds ("%S", or "%S" + one character + "%f") and has
        # no "%z" gets the fast path of iso: the text before the seconds names the minute
        tail = re.fullmatch(r".*%S(?:([^%])%f)?", fmt, re.DOTALL)
        self._seconds_last = tail is not None and "%z" not in fmt
        self._frac_sep = (tail.group(1) or "") if tail is not None else ""
        # naive numeric readings of fixed width: numpy, like naive iso (see _columns)
        self._columns_ok = self._seconds_last and self.tz is None
        self._layouts: dict[int, _Layout | tuple[()]] = {}  # reading's length -> where its fields are

    def _parse_strptime_fast(self, s: str) -> int:
        """A minute seen before without DST doubt: its instant plus the seconds, both
        read from caches by text; anything else goes through the regex."""
        i = (s.rfind(self._frac_sep) if self._frac_sep else len(s)) - 2
        base = self._unambiguous.get(s[:i]) if i > 0 else None
        if base is not None:
            offset = self._seconds.get(s[i:])
            if offset is None:
                offset = self._strptime_seconds(s[i:])
            if offset >= 0:
                t = self.last = base + offset
                return t
        return self._parse_strptime(s, i)

    def _strptime_seconds(self, tail: str) -> int:
        """µs of "SS" or "SS" + separator + fraction (-1 for anything else), cached."""
        sec = _SECONDS.get(tail[:2])
        frac = tail[2:]
        if sec is None:
            return -1
        if not frac:
            us = 0
        elif frac[0] == self._frac_sep and 1 < len(frac) <= 10 and frac[1:].isdigit() and frac.isascii():
            us = _frac_micros(frac[1:])
        else:
            return -1
        if len(self._seconds) > 100_000:
            self._seconds.clear()
        self._seconds[tail] = offset = sec + us
        return offset

    def _parse_strptime(self, s: str, seconds_at: int = -1) -> int:
        """The regex path; ``seconds_at`` is where the fast path expects the seconds (a
        minute without DST doubt whose text ends like that is cached for it)."""
        m = self._regex.fullmatch(s.strip())
        if m is None:
            raise ValueError(f"{s!r} does not match format {self.format!r}")
        key = m.group(*self._key_names) if self._key_names else ""
        offset = 0
        if self._has_seconds:
            sec = int(m.group("S"))
            if sec > 61:
                raise ValueError(f"second out of range in {s!r}")
            offset = sec * 1_000_000
        if self._has_frac:
            offset += _frac_micros(m.group("f"))
        cached = self._minutes.get(key)
        if cached is None:
            minute, zone = self._minute_from_groups(m)
            if zone is not None:
                first = _micros(minute.replace(tzinfo=zone))
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

    def _minute_from_groups(self, m: re.Match[str]) -> tuple[datetime, tzinfo | None]:
        g = m.groupdict()
        if g.get("Y"):
            year = int(g["Y"])
        elif g.get("y"):
            y = int(g["y"])
            year = 2000 + y if y < 69 else 1900 + y
        else:
            year = 1900
        if g.get("b") or g.get("B"):
            name = (g.get("b") or g.get("B") or "").lower()
            if name not in _MONTHS:
                raise ValueError(f"unknown month name {name!r}")
            month = _MONTHS[name]
        else:
            month = int(g.get("m") or 1)
        day = int(g.get("d") or 1)
        hour = int(g.get("H") or 0)
        if g.get("I"):
            hour = int(g["I"]) % 12
            if (g.get("p") or "").upper() == "PM":
                hour += 12
        minute = int(g.get("M") or 0)
        if g.get("j"):
            base = datetime(year, 1, 1) + timedelta(days=int(g["j"]) - 1)
            month, day = base.month, base.day
        dt = datetime(year, month, day, hour, minute)
        zone: tzinfo | None = None
        z = g.get("z")
        if z:
            if z == "Z":
                zone = UTC
            else:
                sign = -1 if z[0] == "-" else 1
                digits = z[1:].replace(":", "")
                zone = _fixed_offset(sign * (int(digits[:2]) * 60 + int(digits[2:])))
        return dt, zone


def _fixed_offset(minutes: int) -> tzinfo:
    return timezone(timedelta(minutes=minutes))


_TWO_DIGITS = [f"{i:02d}" for i in range(60)]


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
        if us:
            return f"{self._head}{_TWO_DIGITS[second]}.{us:06d}{self._tail}"
        return self._head + _TWO_DIGITS[second] + self._tail

    def _isoformat(self, sec: int) -> str:
        if self.tz is None:
            return (_EPOCH + timedelta(seconds=sec)).isoformat()
        return datetime.fromtimestamp(sec, self.tz).isoformat()

    def _slow(self, sec: int, us: int) -> str:
        text = self._isoformat(sec)
        return f"{text[:19]}.{us:06d}{text[19:]}" if us else text
