"""Pattern.extract (the texts of one pattern at once) gives what Pattern.result gives line by line."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from logloom.parse.patterns import Pattern
from logloom.parse.rules import PatternRule
from tests.parse.test_classify import lines_for, regexes

TYPES = st.sampled_from(["str", "int", "float", "bool"])
NAMED = ["(?P<a>[a-z]+)", r"(?P<n>\d+)", r"(?P<v>[\d.]+)?", "(?P<e>x*)", "(?P<o>[A-Z]{2})|(?P<p>[0-9]{2})",
         r"(?:(?P<r>\d)k)+", "(?P<w>1|t|yes|no)"]


@st.composite
def rules(draw: st.DrawFn) -> PatternRule:
    """A pattern with named groups, typed fields and a target of each kind."""
    regex = draw(st.one_of(regexes(), st.lists(st.sampled_from([*NAMED, ";", " ", r"\w", "s="]), min_size=1,
                                               max_size=4, unique=True).map("".join)))
    names = list(re.compile(regex).groupindex)
    fields = {n: draw(TYPES) for n in names if draw(st.booleans())}
    targets = [None, "c1", *(f"{{{n}}}" for n in names), *(f"st-{{{n}}}" for n in names)]
    return PatternRule("p", regex, None, "E", draw(st.sampled_from(targets)), draw(st.sampled_from([None, "clamp"])),
                       fields)


@settings(max_examples=300, deadline=None)
@given(rules(), st.data())
def test_extract_gives_what_result_gives(rule: PatternRule, data: st.DataObject) -> None:
    pattern = Pattern(rule)
    ascii_only = st.characters(max_codepoint=127) if rule.regex.isascii() else None  # type: ignore[union-attr]
    made = st.from_regex(pattern.regex, alphabet=ascii_only).map(lambda t: t.replace("\n", ""))
    drawn = data.draw(st.lists(st.one_of(made, lines_for([rule.regex])), max_size=12))  # type: ignore[list-item]
    lines = [t for t in drawn if t.isascii() and pattern.regex.search(t)]
    if not lines:
        return
    expected = [pattern.result(m) for m in map(pattern.regex.search, lines) if m is not None]
    got = pattern.extract("\n".join(lines), len(lines))
    if got is None:  # only a pattern it cannot take, or a field that does not convert (result says why)
        assert not pattern.batched or any(isinstance(r, str) for r in expected), (rule, lines)
    else:
        assert repr(got) == repr(expected), (rule, lines)  # repr: a float field may be nan


def test_the_patterns_a_process_engineer_writes_are_extracted_together() -> None:
    """Groups that may take no part are told apart from empty ones where they cannot be empty."""
    def rule(regex: str, **fields: str) -> PatternRule:
        return PatternRule("p", regex, None, "E", None, None, fields)

    assert Pattern(rule(r"Clamp (?P<s>\w+) pressure=(?P<p>[\d.]+)", p="float")).batched
    assert Pattern(rule(r"Fault (?P<code>E\d+)(?:: (?P<reason>.+))?")).batched
    optional = Pattern(rule(r"Fault (?P<code>E\d+)(?:: (?P<reason>.+))?"))
    assert optional.extract("Fault E1: jam\nFault E2", 2) == [("E", None, None, {"code": "E1", "reason": "jam"}, "p"),
                                                              ("E", None, None, {"code": "E2"}, "p")]
    assert not Pattern(rule(r"Fault E(?P<code>\d*)?")).batched  # '' would not tell
    assert not Pattern(rule(r"(?<=ST)(?P<n>\d+)")).batched  # left to re: line by line
    assert Pattern(rule(r"n=(?P<n>\d+)", n="int")).extract("n=1\nn=99999999999999999999x", 2) is not None
    assert Pattern(rule(r"b=(?P<b>\w+)", b="bool")).extract("b=yes\nb=maybe", 2) is None  # result names the line
