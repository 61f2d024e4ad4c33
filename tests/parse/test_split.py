"""The timestamp split a block at a time gives what the regex gives line by line."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from logloom.parse.split import TimestampSplit, fixed_width

FIXED = [r"\d{2}", r"\d", "-", ":", r"\.", ",", " ", "[ T]", "[^;]", ".", "x", r"\w"]
TAILS = ["", r"(?:\.\d+)?", r"\d*", r"\d{1,3}", r"(?:,\d{3})?", "(?:Z)?", "[a-z]+", r"(?:\.\d{1,6})?",
         r"(?:[.,]\d*)?", r"\d{0,20}", r"(?:\.\d+?)?", r"(?:\.\d+|Z)?", r"\d+x"]
CHARS = st.sampled_from([*"0123456789-:.,; TZxab", "\u00e4"])


@st.composite
def timestamp_regexes(draw: st.DrawFn) -> str:
    fixed = "".join(draw(st.lists(st.sampled_from(FIXED), min_size=1, max_size=6)))
    tail = draw(st.sampled_from(TAILS))
    where = draw(st.sampled_from(["whole", "group", "group before the tail", "no group"]))
    if where == "whole":
        return f"^(?P<ts>{fixed}{tail})"
    if where == "group":
        return f"^x?(?P<ts>{fixed}{tail})" if draw(st.booleans()) else f"^(?P<ts>{fixed}{tail})"
    if where == "group before the tail":
        return f"^(?P<ts>{fixed}){tail}"
    return f"^{fixed}{tail}"


@settings(max_examples=300, deadline=None)
@given(timestamp_regexes(), st.data())
def test_a_block_splits_as_its_lines_do(regex: str, data: st.DataObject) -> None:
    made = st.from_regex(re.compile(regex), fullmatch=False).filter(lambda t: "\n" not in t and "\r" not in t)
    line = st.one_of(made, st.tuples(made, st.text(CHARS, max_size=4)).map("".join), st.text(CHARS, max_size=12))
    texts = data.draw(st.lists(line, min_size=1, max_size=12))
    split = TimestampSplit(regex)
    assert split.split(texts) == split._line_by_line(texts), regex


def test_the_layouts_of_common_timestamps() -> None:
    iso = fixed_width(r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)", 1)
    assert iso is not None and iso.tables.shape[0] == 19 and iso.tail is not None and iso.tail.optional
    assert fixed_width(r"^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d{3})", 1).tail is None  # type: ignore[union-attr]
    assert fixed_width(r"^(?P<ts>\d+) ", 1) is None  # a variable part before the end
    assert fixed_width(r"^(?P<ts>ab|c)", 1) is None


def test_a_timestamp_regex_without_groups_splits_where_its_match_ends() -> None:
    """(A variable-width regex with no group at all: findall gives the rests as strings.)"""
    split = TimestampSplit(r"^\d+\.\d+")
    assert split.split(["1769000000.25 hello", "1769000001.5 x"]) == (
        None, ["1769000000.25", "1769000001.5"], [" hello", " x"], {})


ISO_LINES = ["2026-01-21 10:00:0{d} Clamp closed at L1", "2026-01-21 10:00:0{d}.5 Process finished volume=1{d}.5ml",
             "2026-01-21 10:00:0{d}.123 Process finished volume=1.2.{d}ml", "2026-01-21 10:00:0{d} heartbeat {d}",
             "2026-01-21T10:00:0{d},25 Clamp opened at L{d}", "2026-02-30 10:00:0{d} Clamp closed at L2",
             "2026-01-21 10:00:0{d}.1234567 Reset at L2", "2026-01-21 10:00:0{d}"]
PLC_LINES = ["21.01.2026 06:00:0{d},152;ST10;INFO;Screwing done torque=2.4{d}Nm angle=71{d}deg",
             "21.01.2026 06:00:0{d},000;PLC;INFO;PLC cycle 4821{d} ok scan=6ms", "31.02.2026 06:00:0{d},000;PLC;X",
             "21.01.2026 06:00:0{d},999;CV1;INFO;Conveyor start part=SN0000000{d}"]
ODD = ["noise {d}", "2026-01-21 10:00:0{d} caf\u00e9 {d}", "21.01.2026 06:00:0{d},15;short"]


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["dispense_line", "screw_line_noisy"]), st.lists(st.integers(0, 9), min_size=1, max_size=40),
       st.data(), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_a_block_read_as_bytes_parses_as_its_decoded_texts(example: str, digits: list[int], data: st.DataObject,
                                                            newline: str, odd: bool) -> None:
    """ASCII lines that all fit the timestamp's layout are split without decoding them
    (``split_bytes``); the ParsedBlock is the one of their texts, CRLF or not."""
    from logloom.config.load import load_config
    from logloom.parse.log_parser import BlockParser
    from logloom.parse.source import Block
    from tests.helpers import ROOT

    spec = load_config(ROOT / "examples" / example / "config").patterns
    pieces = (ISO_LINES if example == "dispense_line" else PLC_LINES) + (ODD if odd else [])
    lines = [(data.draw(st.sampled_from(pieces)).format(d=d) + newline[:-1]).encode() for d in digits]
    block = Block(0, lines, {}, sum(len(line) + 1 for line in lines))
    fast, slow = BlockParser(spec, 0), BlockParser(spec, 0)
    assert vars(fast.parse(block)) == vars(slow.parse(block, block.texts()))
    assert fast.splitter.split_bytes(lines) is not None or odd
