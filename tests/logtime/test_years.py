"""Timestamps without a year (syslog): placed in years, Dec -> Jan moving on, 29 February
only in leap years, never after the time they were written, the same after a resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logloom.logtime.years import DAY, YearlessTimestamps, places_years, timestamp_parser

EPOCH = datetime(1970, 1, 1)
FORMATS = ["%b %d %H:%M:%S", "%d.%m. %H:%M:%S.%f", "%m/%d %I:%M:%S %p"]


def naive_us(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(microseconds=1)


def text(dt: datetime, fmt: str) -> str:
    return dt.strftime(fmt)


def test_which_formats_are_placed() -> None:
    assert places_years("%b %d %H:%M:%S") and places_years("%d.%m. %H:%M") and places_years("%B %d %H:%M")
    assert not places_years("iso") and not places_years("epoch") and not places_years("%Y-%m-%d %H:%M:%S")
    assert not places_years("%d.%m.%y %H:%M") and not places_years("%H:%M:%S") and not places_years("%j %H:%M")
    assert type(timestamp_parser("%Y %b %d %H:%M")) is not YearlessTimestamps
    with pytest.raises(ValueError, match="%z"):
        timestamp_parser("%b %d %H:%M:%S %z")


def test_syslog_across_new_year_anchored_on_the_time_written() -> None:
    p = timestamp_parser("%b %d %H:%M:%S")
    p.written_by(naive_us(datetime(2026, 1, 2, 9, 0)))  # the file's mtime, UTC
    got = [p(t) for t in ("Dec 30 10:00:00", "Dec 31 23:59:50", "Jan  1 00:00:02", "Jan  2 08:00:00")]
    assert got == [naive_us(datetime(2025, 12, 30, 10)), naive_us(datetime(2025, 12, 31, 23, 59, 50)),
                   naive_us(datetime(2026, 1, 1, 0, 0, 2)), naive_us(datetime(2026, 1, 2, 8))]
    assert got[2] - got[1] == 12_000_000  # 12 s across midnight, not -365 days


def test_february_29_only_in_leap_years() -> None:
    auto = timestamp_parser("%b %d %H:%M:%S")
    auto.written_by(naive_us(datetime(2027, 3, 5)))
    assert auto("Feb 29 10:00:00") == naive_us(datetime(2024, 2, 29, 10))  # the latest 29 February written by then
    fixed = timestamp_parser("%b %d %H:%M:%S", year=2025)
    assert fixed("Feb 28 10:00:00") == naive_us(datetime(2025, 2, 28, 10))
    with pytest.raises(ValueError, match="29 February 2025 is not a date"):
        fixed("Feb 29 10:00:00")
    values, bad = fixed.parse_many(["Feb 28 11:00:00", "Feb 29 11:00:00", "Mar  1 11:00:00"])
    assert list(bad) == [1] and values[2] == naive_us(datetime(2025, 3, 1, 11))
    leap = timestamp_parser("%b %d %H:%M:%S", year=2028)
    assert leap("Feb 29 10:00:00") == naive_us(datetime(2028, 2, 29, 10))


def test_a_line_out_of_order_or_a_clock_set_back_moves_no_year() -> None:
    p = timestamp_parser("%b %d %H:%M:%S", year=2025)
    seq = ["Mar  1 00:00:01", "Feb 28 23:59:59", "Dec 31 23:59:59", "Jan  1 00:00:01", "Dec 31 23:59:58",
           "Jan  1 00:00:03"]
    years = [EPOCH + timedelta(microseconds=p(t)) for t in seq]
    assert [d.year for d in years] == [2025, 2025, 2025, 2026, 2025, 2026]
    # a PLC whose clock falls back to 1 January in June: with auto, that is not next year (the future)
    auto = timestamp_parser("%b %d %H:%M:%S")
    auto.written_by(naive_us(datetime(2026, 6, 20)))
    assert [(EPOCH + timedelta(microseconds=auto(t))).year
            for t in ("Jun 15 10:00:00", "Jan  1 00:00:05", "Jun 15 10:01:00")] == [2026, 2026, 2026]


def test_a_year_applies_to_the_first_line_only_and_resumes_follow_last() -> None:
    p = timestamp_parser("%b %d %H:%M:%S", year=2019)
    assert p("Nov  3 10:00:00") == naive_us(datetime(2019, 11, 3, 10))
    resumed = timestamp_parser("%b %d %H:%M:%S", year=2019)
    resumed.last = naive_us(datetime(2023, 12, 31, 22))  # a checkpoint's memory wins over the configured year
    assert resumed("Jan  1 01:00:00") == naive_us(datetime(2024, 1, 1, 1))


@st.composite
def chronological(draw: st.DrawFn, *, max_span_days: int) -> list[datetime]:
    start = draw(st.datetimes(min_value=datetime(1972, 1, 1), max_value=datetime(2090, 12, 31)))
    steps = draw(st.lists(st.one_of(st.integers(-DAY // 1_000_000 + 1, 0),  # out of order, back less than a day
                                    st.integers(0, 40 * 86_400), st.integers(0, 600)),
                          min_size=1, max_size=40))
    out, t = [start], start
    for s in steps:
        t += timedelta(seconds=s)
        if t - start > timedelta(days=max_span_days) or t < start:
            break
        out.append(t)
    return out


@settings(max_examples=200, deadline=None)
@given(chronological(max_span_days=3000), st.sampled_from(FORMATS))
@example([datetime(2023, 12, 31, 23, 59, 59), datetime(2024, 1, 1, 0, 0, 1), datetime(2024, 2, 29, 12),
          datetime(2024, 3, 1, 0, 0, 1), datetime(2024, 2, 29, 23, 59, 59), datetime(2025, 2, 28, 1)], FORMATS[0])
def test_a_given_first_year_places_any_chronological_log(times: list[datetime], fmt: str) -> None:
    """Consecutive lines less than a year apart and never more than a day back: every
    reading gets its true year, for logs of any length (leap days included)."""
    p = timestamp_parser(fmt, year=times[0].year)
    exact = [t.replace(microsecond=0) if "%f" not in fmt else t for t in times]
    assert [p(text(t, fmt)) for t in exact] == [naive_us(t) for t in exact]


@settings(max_examples=200, deadline=None)
@given(chronological(max_span_days=363), st.integers(0, 23 * 3600), st.sampled_from(FORMATS))
def test_auto_places_a_log_by_its_modification_time(times: list[datetime], after_s: int, fmt: str) -> None:
    """A log written within the year before its modification time reads as written, when
    the modification time is that of its last line (or up to a day later)."""
    times = [t.replace(microsecond=0) for t in times]
    p = timestamp_parser(fmt)
    p.written_by(naive_us(max(times)) + after_s * 1_000_000)
    values, bad = p.parse_many([text(t, fmt) for t in times])
    assert not bad and values == [naive_us(t) for t in times]


calendar = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2000, 12, 31, 23, 59, 59))


@settings(max_examples=200, deadline=None)
@given(st.lists(calendar, min_size=1, max_size=30), st.datetimes(min_value=datetime(1980, 1, 1),
                                                                   max_value=datetime(2080, 1, 1)))
def test_auto_never_reads_a_line_as_written_after_its_file(readings: list[datetime], written: datetime) -> None:
    """Whatever the readings (any order, any month), none lands more than a day after
    the time it was written; a 29 February that cannot be placed is malformed, not moved."""
    p = timestamp_parser("%b %d %H:%M:%S")
    p.written_by(naive_us(written))
    values, bad = p.parse_many([text(r.replace(microsecond=0), "%b %d %H:%M:%S") for r in readings])
    limit = naive_us(written) + DAY
    assert all(v <= limit for i, v in enumerate(values) if i not in bad)
    assert all("29 February" in reason for reason in bad.values())


@settings(max_examples=150, deadline=None)
@given(chronological(max_span_days=360), st.integers(0, 40), st.sampled_from([None, "Europe/Berlin", "America/Sao_Paulo"]),
       st.sampled_from([None, 1999, 2026]))
@example([datetime(2026, 3, 29, 1, 59), datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 30, 2, 0)], 2,
         "Europe/Berlin", None)
@example([datetime(2026, 3, 29, 1, 59), datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 28, 2, 45)], 2,
         "Europe/Berlin", 2026)  # 02:30 does not exist that night: it reads back as 03:30, a day and 45 min after
def test_a_resumed_parser_places_as_an_uninterrupted_one(times: list[datetime], cut: int, zone: str | None,
                                                         year: int | None) -> None:
    """A checkpoint keeps only ``last``: a parser started from it after any line gives
    the same instants as one that read every line (DST gaps and folds included)."""
    texts = [text(t, "%b %d %H:%M:%S") for t in times]
    written = naive_us(max(times) + timedelta(hours=2))
    whole = timestamp_parser("%b %d %H:%M:%S", zone, year)
    whole.written_by(written)
    expected = [whole(t) for t in texts]
    cut = min(cut, len(texts))
    first = timestamp_parser("%b %d %H:%M:%S", zone, year)
    first.written_by(written)
    got = [first(t) for t in texts[:cut]]
    second = timestamp_parser("%b %d %H:%M:%S", zone, year)
    second.last = first.last
    second.written_by(written)
    got += second.parse_many(texts[cut:])[0]
    assert got == expected


def test_with_a_zone_readings_become_instants_and_the_anchor_is_local() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    p = timestamp_parser("%b %d %H:%M:%S", "Europe/Berlin")
    # written at 23:30 UTC on 31 December = 00:30 local on 1 January
    p.written_by(naive_us(datetime(2025, 12, 31, 23, 30)))
    first = p("Jan  1 00:20:00")
    assert first == naive_us(datetime(2026, 1, 1, 0, 20, tzinfo=berlin).astimezone(UTC).replace(tzinfo=None))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(chronological(max_span_days=700), st.lists(calendar, max_size=5)), min_size=1, max_size=4),
       st.sampled_from([None, "Europe/Berlin"]), st.sampled_from([None, 2023]), st.integers(1, 12))
@example([[datetime(2024, 12, 31, 23, 59, 58), datetime(2025, 1, 1, 0, 0, 1), datetime(2024, 12, 31, 23, 59, 59),
           datetime(2025, 1, 1, 0, 0, 3)]], None, 2024, 1)  # back and forth across New Year
@example([[datetime(2025, 5, 30, 10), datetime(2025, 6, 10, 10)]], None, None, 12)  # 10 June is after 1 June 2025
@example([[datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 28, 2, 45)]], "Europe/Berlin", 2026, 12)  # 02:30 skipped
def test_a_block_at_once_places_like_line_by_line(pieces: list[list[datetime]], zone: str | None, year: int | None,
                                                  chunk: int) -> None:
    """``parse_many`` (a block within one year through numpy) gives what ``parse`` gives
    line after line: values, malformed 29 Februaries and the memory left for the next."""
    texts = [text(t, "%b %d %H:%M:%S") for piece in pieces for t in piece] + ["not a time"]
    written = naive_us(datetime(2025, 6, 1))
    one, many = timestamp_parser("%b %d %H:%M:%S", zone, year), timestamp_parser("%b %d %H:%M:%S", zone, year)
    one.written_by(written)
    many.written_by(written)
    expected: list[int | str] = []
    for t in texts:
        try:
            expected.append(one(t))
        except ValueError as exc:
            expected.append(str(exc))
    got: list[int | str] = []
    for k in range(0, len(texts), chunk):
        values, bad = many.parse_many(texts[k : k + chunk])
        got += [bad.get(i, v) for i, v in enumerate(values)]
    assert got == expected
    assert many.last == one.last
