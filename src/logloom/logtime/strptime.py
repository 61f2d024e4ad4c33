"""strptime formats without strptime: a format compiled to a regex, the minute of a
match, and fixed-width numeric readings converted a block at a time by numpy.

Pure functions of a format and texts; ``timestamps.TimestampParser`` owns the caches
and the DST rule and decides which of these a reading goes through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache

import numpy as np

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
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may", "may"),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "september"), ("oct", "october"),
         ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}
# fields a fixed-width reading may have, with their widths ("f": 1 to 9 digits)
_FIXED = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
# where each field goes in "YYYY-MM-DDTHH:MM:SS.ffffff"
_ISO_AT = (("Y", 0), ("m", 5), ("d", 8), ("H", 11), ("M", 14), ("S", 17), ("f", 20))
_ISO_SEPARATORS = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."))

# (field -> (start, end), the other positions, their characters) of fixed-width readings
Layout = tuple[dict[str, tuple[int, int]], list[int], np.ndarray]


@dataclass(frozen=True)
class StrptimeFormat:
    """A strptime format compiled: its regex and what the fast paths may assume."""

    format: str
    regex: re.Pattern[str]
    key_names: tuple[str, ...]  # the groups that name the minute (all but S and f)
    has_seconds: bool
    has_frac: bool
    seconds_last: bool  # ends in "%S" or "%S" + one character + "%f", and has no "%z"
    frac_sep: str  # that one character ("" without a fraction)


def compile_strptime(fmt: str) -> StrptimeFormat:
    """Translate ``fmt``; ValueError names what it cannot take. A space matches one or
    more spaces."""
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
    if not names:  # it would match only its own literal text, never a time
        raise ValueError(f"format {fmt!r} has no directive (%Y, %H, ...): it reads no part of a time")
    tail = re.fullmatch(r".*%S(?:([^%])%f)?", fmt, re.DOTALL)
    return StrptimeFormat(
        fmt, re.compile("".join(parts)), tuple(n for n in names if n not in ("S", "f")),
        "S" in names, "f" in names, tail is not None and "%z" not in fmt,
        (tail.group(1) or "") if tail is not None else "",
    )


def minute_of(m: re.Match[str], default_year: int = 1900) -> tuple[datetime, tzinfo | None]:
    """The naive minute a match names (in ``default_year`` when the format has no year),
    and its fixed UTC offset if the format has ``%z``."""
    g = m.groupdict()
    if g.get("Y"):
        year = int(g["Y"])
    elif g.get("y"):
        y = int(g["y"])
        year = 2000 + y if y < 69 else 1900 + y
    else:
        year = default_year
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
            zone = timezone(timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:]))))
    return dt, zone


def layout_of(fmt: StrptimeFormat, sample: str) -> Layout | tuple[()] | None:
    """Where ``sample``'s fields are, if they are Y, m, d, H, M[, S[, f]] of 4, 2 ... 2
    digits (and 1 to 9 of a fraction), with the positions and characters of the rest;
    ``()`` for a reading of other fields or widths; None if ``sample`` does not match."""
    m = fmt.regex.fullmatch(sample)
    if m is None:
        return None
    fields = {name: m.span(name) for name in m.groupdict()}
    if not {"Y", "m", "d", "H", "M"} <= fields.keys() <= {*_FIXED, "f"}:
        return ()
    if any(end - start != _FIXED.get(name, end - start) for name, (start, end) in fields.items()):
        return ()
    taken = {i for start, end in fields.values() for i in range(start, end)}
    literal_at = [i for i in range(len(sample)) if i not in taken]
    return fields, literal_at, np.array([ord(sample[i]) for i in literal_at], dtype=np.uint32)


_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,]([0-9]{1,9}))?")


def iso_layout(sample: str) -> Layout | None:
    """The layout of a naive ISO reading like ``sample`` (``YYYY-MM-DD[T ]HH:MM:SS[.,f]``)."""
    if _ISO.fullmatch(sample) is None:
        return None
    fields = {"Y": (0, 4), "m": (5, 7), "d": (8, 10), "H": (11, 13), "M": (14, 16), "S": (17, 19)}
    literal_at = [4, 7, 10, 13, 16]
    if len(sample) > 19:
        fields["f"] = (20, len(sample))
        literal_at.append(19)
    return fields, literal_at, np.array([ord(sample[i]) for i in literal_at], dtype=np.uint32)


def read_columns(texts: list[str], layout: Layout) -> list[int] | None:
    """Naive microseconds of readings laid out like ``layout``'s sample (same length,
    ASCII digits where its digits are, the same other characters), computed from their
    bytes a block at a time; None when they are not all like that, or when a field is
    out of its range (month 13, 30 February, second 60: the caller's reading one by
    one says what such a reading is, as it always did).
    """
    fields, literal_at, _ = layout
    width = len(literal_at) + sum(end - start for start, end in fields.values())
    joined = "".join(texts)
    if len(joined) != width * len(texts) or not joined.isascii() or min(map(len, texts)) != width:
        return None
    return read_chars(np.frombuffer(joined.encode("ascii"), np.uint8).reshape(len(texts), width), layout)


def read_chars(chars: np.ndarray, layout: Layout) -> list[int] | None:
    """``read_columns`` of readings given as an (n x width) array of their ASCII codes."""
    fields, literal_at, literal = layout
    if not (chars[:, literal_at] == literal).all():
        return None
    digits = chars - 48
    if max(end for _, end in fields.values()) and (digits[:, _digit_columns(fields)] > 9).any():
        return None  # (uint8: a character below "0" wraps round above 9)
    value = {name: _number(digits, start, end) for name, (start, end) in fields.items() if name != "f"}
    year, month, day = value["Y"], value["m"], value["d"]
    hour, minute, second = value["H"], value["M"], value.get("S", 0)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 1, 12)] + (leap & (month == 2))
    if not ((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & (hour <= 23)
            & (minute <= 59) & (second <= 59)).all():
        return None
    seconds = ((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    micros = seconds * 1_000_000
    if "f" in fields:
        start, end = fields["f"]
        end = min(end, start + 6)  # a fraction is cut at the microsecond
        micros += _number(digits, start, end) * 10 ** (6 - (end - start))
    values: list[int] = micros.tolist()
    return values


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _digit_columns(fields: dict[str, tuple[int, int]]) -> list[int]:
    return [i for start, end in fields.values() for i in range(start, end)]


def _number(digits: np.ndarray, start: int, end: int) -> np.ndarray:
    """The decimal number in columns [start, end) of each row."""
    out = np.zeros(digits.shape[0], np.int64)
    for i in range(start, end):
        out = out * 10 + digits[:, i]
    return out


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (Howard Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso_columns(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Naive readings (µs) as ``datetime.isoformat()`` writes them, a block at a time:
    one 26-byte ASCII text each (``YYYY-MM-DDTHH:MM:SS.ffffff``, dtype ``S26``) and
    whether it has a fraction (only where the microseconds are not 0; without one the
    text is its first 19 bytes). None outside years 1-9999.

    The date is worked out once per day the block spans, the time of day read from a
    table of the day's 86,400 seconds."""
    sec = np.floor_divide(ts, 1_000_000)
    micro = ts - sec * 1_000_000
    days = np.floor_divide(sec, 86_400)
    out = np.empty(len(ts), _ISO_TEXT)
    if len(ts):
        first, last = int(days.min()), int(days.max())
        if last - first < len(ts):
            spanned, which = np.arange(first, last + 1), days - first
        else:  # days far apart: only those present
            spanned, which = np.unique(days, return_inverse=True)
        year, month, day = _civil_from_days(spanned)
        if year.min() < 1 or year.max() > 9999:
            return None
        dates = np.empty(len(spanned), _DATE_TEXT)
        dates["Y"], dates["m"], dates["d"] = DIGITS[4][year], DIGITS[2][month], DIGITS[2][day]
        dates["sep"], dates["sep2"], dates["T"] = b"-", b"-", b"T"
        out["date"] = dates.view("S11")[which]
        out["time"] = _day_seconds()[sec - days * 86_400]
        out["dot"] = b"."
        out["ms"] = DIGITS[3][micro // 1000]
        out["us"] = DIGITS[3][micro % 1000]
    return out.view("S26"), micro != 0


@cache
def _day_seconds() -> np.ndarray:
    """``HH:MM:SS`` of each second of a day (dtype ``S8``)."""
    of_day = np.arange(86_400)
    texts = np.empty(86_400, np.dtype({"names": ["H", "c", "M", "c2", "S"], "formats": ["S2", "S1", "S2", "S1", "S2"],
                                       "offsets": [0, 2, 3, 5, 6], "itemsize": 8}))
    texts["H"], texts["M"], texts["S"] = DIGITS[2][of_day // 3600], DIGITS[2][of_day // 60 % 60], DIGITS[2][of_day % 60]
    texts["c"], texts["c2"] = b":", b":"
    return texts.view("S8")


# the ASCII digits of 0..10^n - 1, zero-padded to n: DIGITS[n][x] is x's n bytes (dtype S<n>)
DIGITS = {n: (np.arange(10**n)[:, None] // 10 ** np.arange(n - 1, -1, -1) % 10 + 48).astype(np.uint8)
          .view(f"S{n}").ravel() for n in (2, 3, 4)}
_DATE_TEXT = np.dtype({"names": ["Y", "sep", "m", "sep2", "d", "T"], "formats": ["S4", "S1", "S2", "S1", "S2", "S1"],
                       "offsets": [0, 4, 5, 7, 8, 10], "itemsize": 11})
_ISO_TEXT = np.dtype({"names": ["date", "time", "dot", "ms", "us"], "formats": ["S11", "S8", "S1", "S3", "S3"],
                      "offsets": [0, 11, 19, 20, 23], "itemsize": 26})


def _civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 (Howard Hinnant's algorithm)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + np.where(mp < 10, 3, -9)
    return yoe + era * 400 + (month <= 2), month, day
