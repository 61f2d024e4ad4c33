"""JSON lines: conditions on keys (equality, lists, regexes, nested paths), typed fields,
timestamps from a key, malformed lines with their reasons, key order never mattering,
and the block parser agreeing with the line parser on any input."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logloom.config.load import load_config
from logloom.config.schema import LogPatterns
from logloom.parse import json_lines
from logloom.parse.json_lines import JsonBlockParser, JsonLineParser
from logloom.parse.log_parser import EventTable
from logloom.parse.source import LineReader
from logloom.records import Event
from tests.helpers import ROOT, read_rows

EXAMPLE = ROOT / "examples" / "filler_json"


def spec(patterns: list[dict[str, Any]], **timestamp: Any) -> LogPatterns:
    return LogPatterns.model_validate({"format": "json", "timestamp": {"field": "ts", **timestamp},
                                       "patterns": patterns})


def parse(patterns: list[dict[str, Any]], obj: Any, **timestamp: Any) -> Event | str | None:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return JsonLineParser(spec(patterns, **timestamp)).parse(text, 1)


TS = "2026-03-02T08:00:00Z"


def test_equality_is_json_equality() -> None:
    pats = [{"name": "p", "match": {"code": 17}, "event": "E"}]
    assert isinstance(parse(pats, {"ts": TS, "code": 17}), Event)
    assert isinstance(parse(pats, {"ts": TS, "code": 17.0}), Event)
    for other in ("17", True, None, [17]):
        assert parse(pats, {"ts": TS, "code": other}) is None
    assert parse(pats, {"ts": TS}) is None  # a missing key matches nothing, null included
    flag = [{"name": "p", "match": {"on": True}, "event": "E"}]
    assert isinstance(parse(flag, {"ts": TS, "on": True}), Event) and parse(flag, {"ts": TS, "on": 1}) is None
    null = [{"name": "p", "match": {"err": None}, "event": "E"}]
    assert isinstance(parse(null, {"ts": TS, "err": None}), Event) and parse(null, {"ts": TS}) is None
    text = [{"name": "p", "match": {"msg": "17"}, "event": "E"}]
    assert isinstance(parse(text, {"ts": TS, "msg": "17"}), Event) and parse(text, {"ts": TS, "msg": 17}) is None


def test_lists_regexes_and_nested_paths() -> None:
    pats = [{"name": "alarm", "match": {"level": ["error", "fatal"], "plc.unit": {"regex": r"^ST\d+$"},
                                       "tags.1": "hot"}, "event": "ALARM", "target": "{plc.unit}",
             "fields": {"plc.unit": "str", "plc.code": "int"}}]
    obj = {"tags": ["a", "hot"], "plc": {"code": 4, "unit": "ST10"}, "level": "fatal", "ts": TS}
    ev = parse(pats, obj)
    assert isinstance(ev, Event)
    assert (ev.event, ev.target, ev.fields) == ("ALARM", "ST10", {"plc.unit": "ST10", "plc.code": 4})
    assert parse(pats, {**obj, "level": "info"}) is None
    assert parse(pats, {**obj, "tags": ["hot"]}) is None
    assert parse(pats, {**obj, "plc": {"unit": "XX10"}}) is None
    numbers = [{"name": "p", "match": {"rc": {"regex": "^4\\d\\d$"}}, "event": "E"}]
    assert isinstance(parse(numbers, {"ts": TS, "rc": 404}), Event) and parse(numbers, {"ts": TS, "rc": 200}) is None


def test_typed_fields_from_json_values() -> None:
    pats = [{"name": "p", "match": {"m": "x"}, "event": "E",
             "fields": {"f": "float", "i": "int", "b": "bool", "s": "str"}}]
    ev = parse(pats, {"ts": TS, "m": "x", "f": 2, "i": "7", "b": "on", "s": 2.5})
    assert isinstance(ev, Event) and ev.fields == {"f": 2.0, "i": 7, "b": True, "s": "2.5"}
    assert type(ev.fields["f"]) is float
    ev = parse(pats, {"ts": TS, "m": "x", "f": None, "i": 3.0})  # null and missing keys are not captured
    assert isinstance(ev, Event) and ev.fields == {"i": 3}
    assert parse(pats, {"ts": TS, "m": "x", "i": 3.5}) == "field 'i' of pattern 'p': 3.5 is not int"
    assert parse(pats, {"ts": TS, "m": "x", "f": True}) == "field 'f' of pattern 'p': true is not float"
    assert parse(pats, {"ts": TS, "m": "x", "s": {"a": 1}}) == "field 's' of pattern 'p': {\"a\": 1} is not str"


@pytest.mark.parametrize(("fmt", "value", "expected"), [
    ("iso", "2026-03-02T08:00:00Z", 1772438400_000_000),
    ("iso", "2026-03-02T09:00:00.5+01:00", 1772438400_500_000),
    ("epoch", 1772438400, 1772438400_000_000),
    ("epoch", 1772438400.25, 1772438400_250_000),
    ("epoch", "1772438400.25", 1772438400_250_000),
    ("epoch_ms", 1772438400123, 1772438400_123_000),
    ("%d/%m/%Y %H:%M:%S", "02/03/2026 08:00:00", 1772438400_000_000),
])
def test_the_time_comes_from_a_key(fmt: str, value: Any, expected: int) -> None:
    ev = parse([{"name": "p", "match": {}, "event": "E"}], {"ts": value}, format=fmt)
    assert isinstance(ev, Event) and ev.ts == expected


@pytest.mark.parametrize(("line", "reason"), [
    ("not json", "not JSON: "),
    ('{"ts": "2026-03-02T08:00:00Z"', "not JSON: "),
    ("[1, 2]", "not a JSON object"),
    ('"2026-03-02T08:00:00Z"', "not a JSON object"),
    ('{"time": "2026-03-02T08:00:00Z"}', "no timestamp (no key 'ts')"),
    ('{"ts": 1772438400}', "no timestamp ('ts' is 1772438400, not a time)"),
    ('{"ts": "yesterday"}', "bad timestamp: "),
    ('{"ts": NaN}', "not JSON: "),
])
def test_malformed_lines_say_why(line: str, reason: str) -> None:
    got = parse([{"name": "p", "match": {}, "event": "E"}], line)
    assert isinstance(got, str) and got.startswith(reason), got


OBJECTS = [
    {"ts": "2026-03-02T08:00:0{d}Z", "src": "filler", "msg": "FILL start", "station": "F{d}"},
    {"ts": "2026-03-02T08:00:0{d}.5Z", "src": "filler", "msg": "FILL end", "station": "F1",
     "data": {"vol": "49{d}.5", "unit": "ml"}, "level": "info"},
    {"ts": "2026-03-02T08:00:0{d}Z", "src": "capper", "msg": "CAP end torque={d}.1Nm", "station": "C1"},
    {"ts": "2026-03-02T08:00:0{d}Z", "src": "filler", "msg": "FILL end", "data": {"vol": "x{d}", "unit": "ml"},
     "level": "info"},
    {"ts": "2026-13-02T08:00:0{d}Z", "msg": "heartbeat"},
    {"ts": "2026-03-02T08:00:0{d}Z", "msg": "heartbeat", "seq": "{d}"},
]
RAW = ["garbage {d}", "", "{{\"ts\": {d}", "[{d}]", "\x00\xff {d}", "{{\"ts\": \"2026-03-02T08:00:0{d}Z\"}}\r"]


def _render(piece: dict[str, Any] | str, d: int, rng: random.Random) -> str:
    if isinstance(piece, str):
        return piece.format(d=d)
    items = [(k, json.loads(json.dumps(v).replace("{d}", str(d)))) for k, v in piece.items()]
    rng.shuffle(items)
    return json.dumps(dict(items))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([*OBJECTS, *RAW]), st.integers(0, 9)), min_size=1, max_size=50),
       st.randoms())
def test_the_block_parser_agrees_with_the_line_parser_whatever_the_key_order(
        pieces: list[tuple[Any, int]], rng: random.Random) -> None:
    patterns = load_config(EXAMPLE / "config").patterns
    lines = [_render(p, d, rng) for p, d in pieces]
    text = "\n".join(lines) + "\n"
    serial = JsonLineParser(patterns)
    expected = [serial.parse(raw.decode("utf-8", "replace").removesuffix("\r"), i + 1)
                for i, raw in enumerate(text.encode("utf-8", "surrogateescape").split(b"\n")[:-1])]
    # the same objects with their keys in another order parse the same
    reordered = JsonLineParser(patterns)
    again = [_render(p, d, rng).removesuffix("\r") for p, d in pieces]
    assert [reordered.parse(t, i + 1) for i, t in enumerate(again)] == expected
    blocks, table, got = JsonBlockParser(patterns), EventTable(), []
    for block in LineReader(io.BytesIO(text.encode("utf-8", "surrogateescape"))).blocks(take_partial=True):
        parsed = blocks.parse(block)
        table.update(parsed)
        events = {i: (code, ts) for i, code, ts in zip(parsed.index, parsed.codes, parsed.times, strict=True)}
        for i in range(parsed.lines):
            n = len(got) + 1
            if i in events:
                got.append(Event(n, events[i][1], *table.results[events[i][0]]))
            else:
                got.append(parsed.rejects[i][0] if i in parsed.rejects else None)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_the_json_parser_never_raises_on_any_bytes(data: bytes) -> None:
    parser = JsonLineParser(load_config(EXAMPLE / "config").patterns)
    for line in data.decode("utf-8", "replace").split("\n"):
        parser.parse(line, 1)


def test_the_standard_library_decoder_reads_the_example_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without orjson (a platform without its wheel) the same events come out."""
    patterns = load_config(EXAMPLE / "config").patterns
    lines = (EXAMPLE / "input.log").read_text().splitlines()
    fast = [JsonLineParser(patterns).parse(t, i) for i, t in enumerate(lines)]
    monkeypatch.setattr(json_lines, "_loads", json_lines.stdlib_loads)
    monkeypatch.setattr(json_lines, "_DECODE_ERRORS", json_lines.STDLIB_ERRORS)
    slow = [JsonLineParser(patterns).parse(t, i) for i, t in enumerate(lines)]
    assert [e if isinstance(e, Event) or e is None else e.split(":")[0] for e in slow] == \
        [e if isinstance(e, Event) or e is None else e.split(":")[0] for e in fast]


def test_monitor_counts_and_rejects_malformed_json(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    code, _, err = run_cli("monitor", "--config", EXAMPLE / "config", "--data", tmp_path, "--logs",
                           EXAMPLE / "input.log", "-q")
    assert code == 0, err
    summary = json.loads((tmp_path / "run_summary.json").read_text())
    assert (summary["lines_read"], summary["events"], summary["unmatched"], summary["malformed"]) == (12, 8, 1, 3)
    rejected = (tmp_path / "rejected_lines.log").read_text().splitlines()
    assert [r.split(": ")[0] for r in rejected] == ["input.log:6", "input.log:9", "input.log:12"]
    assert "field 'data.vol' of pattern 'fill_end': \"n/a\" is not float" in rejected[1]
    assert len(read_rows(tmp_path / "process_metrics.csv")) == 9


def test_parse_line_with_a_json_config(run_cli: Callable[..., Any]) -> None:
    code, out, _ = run_cli("parse", "--config", EXAMPLE / "config",
                           "--line", '{"station":"F1","msg":"FILL start","src":"filler","ts":"2026-03-02T08:00:00Z"}',
                           "--line", '{"ts":"2026-03-02T08:00:01Z","msg":"heartbeat"}', "--line", "{")
    event, unmatched, malformed = (json.loads(line) for line in out.splitlines())
    assert code == 0
    assert (event["event"], event["target"], event["time"]) == ("FILL_START", "F1", "2026-03-02T08:00:00+00:00")
    assert unmatched["reason"] == "no pattern matches the object" and "searched" not in unmatched
    assert malformed["malformed"].startswith("not JSON")


utc_texts = st.tuples(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["T", " "]), st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
    st.sampled_from(["Z", "Z", "+00:00", "", "ZZ"]),
).map(lambda t: t[0].isoformat(sep=t[1], timespec=t[2]) + t[3])


@settings(max_examples=200, deadline=None)
@example(["2000-01-01T00:00:00ZZ"])
@example(["2026-03-02T08:00:00.5 Z", "2026-03-02T08:00:00Z"])
@given(st.lists(st.one_of(utc_texts, st.sampled_from(["2026-03-02Z", "2026-13-02T08:00:00Z", "+2026-03-02T08:00Z",
                                                        "2026-03-02T08:00:00+00:00Z", "x"])), min_size=1, max_size=20))
def test_utc_times_read_at_once_read_as_one_by_one(stamps: list[str]) -> None:
    """A block of ``...Z`` times is read as UTC wall time (numpy) only where that gives
    what the ISO reader gives each of them: the same instants and the same failures."""
    parser = JsonLineParser(spec([{"name": "p", "match": {}, "event": "E"}]))
    values, bad = parser.times(stamps)
    one = JsonLineParser(spec([{"name": "p", "match": {}, "event": "E"}])).timestamps
    for i, text in enumerate(stamps):
        try:
            expected: int | None = one.parse(text)
        except ValueError:
            expected = None
        assert (None if i in bad else values[i]) == expected, text


def test_a_byte_order_mark_before_the_first_object_is_not_json_text(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """A writer that starts its file with a UTF-8 BOM (.NET, PowerShell) loses no line."""
    log = tmp_path / "bom.log"
    log.write_bytes(b"\xef\xbb\xbf" + b'{"ts":"2026-03-02T08:00:00Z","src":"filler","msg":"FILL start","station":"F1"}\n'
                    b'{"ts":"2026-03-02T08:00:08.25Z","src":"filler","msg":"FILL end","level":"info","station":"F1",'
                    b'"data":{"vol":499.3,"unit":"ml"}}\n')
    code, _, err = run_cli("monitor", "--config", EXAMPLE / "config", "--data", tmp_path / "d", "--logs", log, "-q")
    assert code == 0, err
    assert (tmp_path / "d" / "rejected_lines.log").read_text() == ""
    assert read_rows(tmp_path / "d" / "process_metrics.csv") == [
        ["2026-03-02T08:00:08.250000+00:00", "filler_1", "fill_time", "8.25", "s", "FILLING"],
        ["2026-03-02T08:00:08.250000+00:00", "filler_1", "fill_volume", "499.3", "ml", "FILLING"],
    ]
