"""log_parser and timestamps: formats, typed fields, malformed accounting, never raising."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st

from logloom.config.load import load_config
from logloom.logtime.timestamps import TimeFormatter, TimestampParser
from logloom.parse.log_parser import BlockParser, EventTable, LineParser, ParsedBlock
from logloom.records import Event
from tests.helpers import EXAMPLE_CONFIG, WALKTHROUGH_CONFIG

PARSER = LineParser(load_config(EXAMPLE_CONFIG).patterns)


def micros(h: int, m: int, s: int, us: int = 0) -> int:
    return ((h * 60 + m) * 60 + s) * 1_000_000 + us


def test_iso_variants_agree() -> None:
    p = TimestampParser("iso")
    base = p("2026-01-21 00:00:00")
    assert p("2026-01-21T10:05:15") - base == micros(10, 5, 15)
    assert p("2026-01-21 10:05:15.5") - base == micros(10, 5, 15, 500_000)
    assert p("2026-01-21 10:05:15,123456789") - base == micros(10, 5, 15, 123_456)


def test_iso_with_offset_is_an_instant() -> None:
    p = TimestampParser("iso")
    assert p("2026-01-21T10:05:15+01:00") == p("2026-01-21T09:05:15Z")


def test_epoch_formats() -> None:
    assert TimestampParser("epoch")("1769000000.25") == 1_769_000_000_250_000
    assert TimestampParser("epoch_ms")("1769000000123") == 1_769_000_000_123_000
    fmt = TimeFormatter("iso", tz=None, instants=True)
    assert fmt(1_769_000_000_250_000) == "2026-01-21T12:53:20.250000+00:00"


def test_strptime_formats_without_strptime() -> None:
    p = TimestampParser("%d/%b/%Y:%H:%M:%S")
    q = TimestampParser("iso")
    assert p("21/Jan/2026:10:05:15") == q("2026-01-21 10:05:15")
    r = TimestampParser("%m/%d/%y %I:%M:%S %p")
    assert r("01/21/26 01:05:15 PM") == q("2026-01-21 13:05:15")


def outcome(parse: Callable[[str], int], text: str) -> int | str:
    try:
        return parse(text)
    except (ValueError, OverflowError):
        return "error"


STRPTIME_FORMATS = ["%d.%m.%Y %H:%M:%S,%f", "%Y-%m-%d %H:%M:%S", "%H%M%S"]
stamps = st.tuples(
    st.sampled_from(["25.10.2026 02:10:", "25.10.2026 03:10:", "1.1.2026 0:5:", "2026-10-25 02:10:",
                     "2026-10-25 03:10:", "0259", " 25.10.2026 03:10:", "", "x"]),
    st.sampled_from(["30", "05", "5", "59", "60", "61", "7x", ""]),
    st.sampled_from(["", ",", ".", ",000", ",5", ".5", ",123456789", ",1234567891", ",١٢", " ", ",5 "]),
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(STRPTIME_FORMATS), st.sampled_from([None, "Europe/Berlin"]),
       st.lists(stamps, min_size=1, max_size=30))
@example("%d.%m.%Y %H:%M:%S,%f", None, ["25.10.2026 03:10:30,5", "25.10.2026 03:10:31,1234567891",
                                         "25.10.2026 03:10:7x,5", "25.10.2026 03:10:60,5", "25.10.2026 03:10:05,١٢"])
@example("%d.%m.%Y %H:%M:%S,%f", "Europe/Berlin", ["25.10.2026 02:10:30,5", "25.10.2026 02:10:20,5"])
def test_the_strptime_fast_path_reads_like_the_regex(fmt: str, zone: str | None, texts: list[str]) -> None:
    """Texts of a minute seen before come from a cache: the same instants (DST rule
    included) and the same errors as the regex path, line after line."""
    fast, slow = TimestampParser(fmt, zone), TimestampParser(fmt, zone)
    assert fast.parse == fast._parse_strptime_fast
    for text in texts * 2:  # the second time round, from the caches
        assert outcome(fast.parse, text) == outcome(slow._parse_strptime, text), text
        assert fast.last == slow.last


reading = st.builds(
    "{:02d}.{:02d}.{:04d} {:02d}:{:02d}:{:02d},{}".format,
    st.integers(1, 31), st.integers(1, 12), st.sampled_from([1, 1900, 1999, 2000, 2024, 2026, 2100, 9999]),
    st.integers(0, 23), st.integers(0, 59),
    st.integers(0, 59), st.sampled_from(["195", "5", "1234567", "000"]),
)
odd_reading = st.sampled_from([
    "21.01.2026 06:00:35,19x", "21.01.2026 06:00:35,1234567890", "21/01/2026 06:00:35,195", "31.02.2026 06:00:35,195",
    " 21.01.2026 06:00:35,195", "21.01.2026 06:00:35,١٩٥", "21.01.2026  06:00:35,195", "21.13.2026 06:00:35,195",
    "21.01.2026 06:00:60,195", "21.01.2026 24:00:35,195", "1.01.2026 06:00:35,195"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([None, "Europe/Berlin"]), st.lists(reading, min_size=1, max_size=40),
       st.lists(st.tuples(st.integers(0, 40), odd_reading), max_size=2))
def test_a_block_of_strptime_readings_reads_like_one_by_one(
        zone: str | None, texts: list[str], odd: list[tuple[int, str]]) -> None:
    """parse_many (numpy for fixed-width naive readings, else the cached loop) gives each
    reading's instant or failure as the regex path does, one after the other."""
    for at, text in odd:
        texts.insert(at, text)
    fmt = "%d.%m.%Y %H:%M:%S,%f"
    many, one = TimestampParser(fmt, zone), TimestampParser(fmt, zone)
    for _ in range(2):  # the second time, from the caches
        values, bad = many.parse_many(texts)
        expected = [outcome(one._parse_strptime, t) for t in texts]
        assert [v if i not in bad else "error" for i, v in enumerate(values)] == expected
        assert many.last == one.last


iso_reading = st.builds(
    "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}".format,
    st.sampled_from([1, 1899, 1900, 1970, 2000, 2024, 2026, 2100, 9999]), st.integers(1, 13), st.integers(1, 31),
    st.sampled_from(["T", " "]), st.integers(0, 24), st.integers(0, 59), st.integers(0, 60),
    st.sampled_from(["", ".195", ",5", ".123456789", ".000"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(iso_reading, min_size=1, max_size=40))
def test_a_block_of_iso_readings_reads_like_one_by_one(texts: list[str]) -> None:
    """Naive ISO of one width is computed from its digits a block at a time: the instants
    and failures of ``_parse_iso`` one by one (leap days, month 13, 31 April, second 60 …)."""
    width = len(texts[0])
    texts = [t for t in texts if len(t) == width] * 2
    many, one = TimestampParser("iso"), TimestampParser("iso")
    values, bad = many.parse_many(texts)
    expected = [outcome(one.parse, t) for t in texts]
    assert [v if i not in bad else "error" for i, v in enumerate(values)] == expected
    assert many.last == one.last


def test_output_format_matches_isoformat() -> None:
    fmt = TimeFormatter("iso", tz=None, instants=False)
    p = TimestampParser("iso")
    assert fmt(p("2026-01-21 10:05:15")) == "2026-01-21T10:05:15"
    assert fmt(p("2026-01-21 10:05:15.120")) == "2026-01-21T10:05:15.120000"
    assert TimeFormatter("epoch", tz=None, instants=False)(p("1970-01-01 00:00:01.5")) == "1.5"


def test_unmatched_and_malformed() -> None:
    assert PARSER.parse("2026-01-21 10:00:00 [DEBUG] heartbeat seq=4", 1) is None
    assert PARSER.parse("no timestamp here", 2) == "no timestamp"
    assert "bad timestamp" in str(PARSER.parse("2026-13-45 10:00:00 Clamp closed at L1", 3))


def test_typed_field_that_fails_is_malformed() -> None:
    parser = LineParser(load_config(WALKTHROUGH_CONFIG).patterns)
    res = parser.parse("2026-01-21 10:05:15 Process finished volume=1.2.3ml", 1)
    assert isinstance(res, str) and "volume" in res and "float" in res


def test_first_match_wins_and_searches_after_the_timestamp() -> None:
    ev = PARSER.parse("2026-01-21 10:05:15 Process finished at L2 volume=12.5ml", 1)
    assert isinstance(ev, Event)
    assert (ev.event, ev.target, ev.pattern, ev.fields["volume"]) == ("PROCESS_END", "L2", "process_finished_at", 12.5)
    sparse = PARSER.parse("2026-01-21 10:05:15 Process finished volume=12.5ml", 1)
    assert isinstance(sparse, Event) and sparse.target is None and sparse.target_type == "dispenser"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parser_never_raises_on_any_bytes(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    res = PARSER.parse(text, 1)
    assert res is None or isinstance(res, str | Event)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-:T ., +Z", max_size=40))
def test_parser_never_raises_on_timestamp_like_text(tail: str) -> None:
    res = PARSER.parse("2026-01-2" + tail + " Clamp closed at L1", 1)
    assert res is None or isinstance(res, str | Event)


def test_unnamed_groups_do_not_shift_named_fields(make_config) -> None:  # type: ignore[no-untyped-def]
    def unnamed(docs: dict) -> None:
        docs["log_patterns.yaml"]["patterns"][0]["regex"] = r"(Pallet|Tray) (?P<pallet>P-\d+) (arrived) at (?P<station>\w+)"

    parser = LineParser(load_config(make_config(WALKTHROUGH_CONFIG, edit=unnamed)).patterns)
    ev = parser.parse("2026-01-21 10:00:00 Tray P-7 arrived at L1", 1)
    assert isinstance(ev, Event) and ev.fields == {"pallet": "P-7", "station": "L1"} and ev.target == "L1"


def test_cached_lines_give_equal_events_with_their_own_times() -> None:
    first = PARSER.parse("2026-01-21 10:00:00 Clamp closed at L1", 1)
    second = PARSER.parse("2026-01-21 10:00:07 Clamp closed at L1", 2)
    assert isinstance(first, Event) and isinstance(second, Event)
    assert second.ts - first.ts == 7_000_000 and (first.line_no, second.line_no) == (1, 2)
    assert first[2:] == second[2:]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-2_000_000_000_000_000, max_value=4_000_000_000_000_000),
       st.sampled_from([None, "UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "Europe/Amsterdam"]))
def test_time_formatter_equals_isoformat(ts: int, zone: str | None) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    fmt = TimeFormatter("iso", tz=ZoneInfo(zone) if zone else None, instants=False)
    fmt(ts - 61_000_000)  # warm the minute cache with a neighbour
    if zone is None:
        expected = (datetime(1970, 1, 1) + timedelta(microseconds=ts)).isoformat()
    else:
        expected = (datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(microseconds=ts)).astimezone(
            ZoneInfo(zone)).isoformat()
    assert fmt(ts) == expected


LINE_PIECES = [
    "2026-01-21 10:00:0{d} Clamp closed at L1", "2026-01-21 10:00:0{d}.5 Process finished volume=1{d}.5ml",
    "2026-01-21 10:00:0{d}.123 Process finished volume=1.2.{d}ml", "2026-01-21 10:00:0{d} [DEBUG] heartbeat {d}",
    "garbage {d}", "2026-13-21 10:00:0{d} Clamp closed at L1", "", "2026-01-21T10:00:0{d},25 Clamp opened at L{d}",
    "2026-01-21 10:00:0{d}\r", "\x00\xff {d}", "2026-01-21 10:00:0{d}+01:00 Reset at L2",
]


def lines_of(blocks: BlockParser, table: EventTable, parsed: ParsedBlock, first_line: int) -> list[Event | str | None]:
    """What ``LineParser.parse`` gives for each line of ``parsed``: an Event, None or the reason."""
    table.update(parsed)
    out: list[Event | str | None] = [None] * parsed.lines
    for i, (reason, _) in parsed.rejects.items():
        out[i] = reason
    for i, code, ts in zip(parsed.index, parsed.codes, parsed.times, strict=True):
        out[i] = Event(first_line + i, ts, *table.results[code])
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LINE_PIECES), st.integers(0, 9)), max_size=60),
       st.sampled_from([None, "Europe/Berlin"]), st.booleans())
def test_block_parser_agrees_with_the_line_parser(pieces: list[tuple[str, int]], zone: str | None, pure: bool) -> None:
    import io

    from logloom.config.schema import LogPatterns
    from logloom.parse.source import LineReader

    spec = load_config(EXAMPLE_CONFIG).patterns
    if zone:
        spec = LogPatterns.model_validate({**spec.model_dump(), "timestamp": {**spec.timestamp.model_dump(), "timezone": zone}})
    text = "\n".join(p.format(d=d) for p, d in pieces) + "\n"
    lines = text.encode("utf-8", "surrogateescape").split(b"\n")[:-1]
    serial = LineParser(spec)
    expected = [serial.parse(raw.decode("utf-8", "replace").removesuffix("\r"), i + 1) for i, raw in enumerate(lines)]
    blocks, table, got = BlockParser(spec, pure=pure), EventTable(), []
    reader = LineReader(io.BytesIO(text.encode("utf-8", "surrogateescape")))
    for block in reader.blocks(take_partial=True):
        got += lines_of(blocks, table, blocks.parse(block), len(got) + 1)
    assert got == expected


def test_the_parse_command_prints_events_as_json_lines(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    import json

    log = tmp_path / "l.log"
    log.write_text("2026-01-21 10:00:00 Clamp closed at L1\nnoise\n2026-01-21 10:00:01 heartbeat\n"
                   "2026-01-21 10:00:02 Process finished volume=12.5ml\n")
    code, out, err = run_cli("parse", "--config", EXAMPLE_CONFIG, "--logs", log)
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "4 lines: 2 events, 1 unmatched, 1 malformed" in err
    # the alias L1 of a clamp line resolves to the component a run would give it to
    assert events[0] == {"line": 1, "time": "2026-01-21T10:00:00", "event": "CLAMP_CLOSE", "target": "L1",
                         "component": "l1_clamp", "target_type": "clamp", "pattern": "clamp_closed",
                         "fields": {"station": "L1"}}
    assert (events[1]["line"], events[1]["target"], events[1]["fields"]) == (4, None, {"volume": 12.5})
    assert events[1]["component"] is None and "first in first out" in events[1]["routed"]
    code, out, _ = run_cli("parse", "--config", EXAMPLE_CONFIG, "--logs", log, "--all")
    shown = [json.loads(line) for line in out.splitlines()]
    assert [sorted(s)[-1] for s in shown] == ["time", "text", "unmatched", "time"]
    assert shown[1] == {"line": 2, "malformed": "no timestamp", "text": "noise"}  # what the line said
