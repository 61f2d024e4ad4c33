"""Multi-pattern classification: the rewritten patterns match where Python's do, and both
engines (Hyperscan, the pure-Python union) find the first pattern ``re`` finds."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logloom.config.schema import LogPatterns
from logloom.parse.classify import UNKNOWN, HyperscanClassifier, UnionClassifier, hyperscan_available, make_classifier
from logloom.parse.log_parser import BlockParser, EventTable, LineParser
from logloom.parse.source import LineReader
from logloom.parse.translate import Untranslatable, translate
from tests.parse.test_log_parser import lines_of

CLASSIFIERS = [UnionClassifier, *([HyperscanClassifier] if hyperscan_available() else [])]

# pieces of regexes a process engineer writes, and some that only re can take
ATOMS = ["a", "b", "B", ";", " ", "=", "1", "k", "K", "s", "\u017f", "\u00e4", r"\d", r"\w", r"\s", r"\D", r"\W",
         r"\S", ".", "[a-c]", "[^;]", r"[\d.]", "[A-Z_]", r"\x1c", "[^a-z]", r"\.", r"\(", "-"]
WRAPS = ["{}", "{}+", "{}*", "{}?", "{}{{1,3}}", "{}{{,2}}", "{}+?", "(?:{})", "(?P<g{n}>{})", "({})"]
EXTRAS = [r"(a)\1", "(?=a)b", "(?<!a)b", "(?>ab)", "a++", "^", "$", r"\b", r"\B", r"\A", r"\Z", "x|"]


@st.composite
def regexes(draw: st.DrawFn) -> str:
    parts = []
    for n in range(draw(st.integers(1, 5))):
        atom = draw(st.sampled_from(ATOMS + EXTRAS))
        parts.append(draw(st.sampled_from(WRAPS)).format(atom, n=n) if atom not in EXTRAS else atom)
        if draw(st.integers(0, 5)) == 0:
            parts.append("|")
    flags = draw(st.sampled_from(["", "(?i)", "(?a)", "(?s)", "(?ai)"]))
    text = flags + "".join(parts).strip("|")
    try:
        re.compile(text)
    except re.error:
        return "a;b"
    return text


LINE_CHARS = st.sampled_from([*"ab;B= 1kKs-.()_\x1c\t\r", "\u017f", "\u212a", "\u00e4", "\u0661", "\u00a0"])


def lines_for(patterns: list[str]) -> st.SearchStrategy[str]:
    """Random text, and text made to match one of ``patterns`` (without newlines)."""
    made = [st.from_regex(re.compile(p), fullmatch=False).filter(lambda t: "\n" not in t) for p in patterns]
    return st.one_of(st.text(LINE_CHARS, max_size=12), *made).map(lambda t: t.replace("\n", ""))


def first_by_re(patterns: list[str], line: str) -> int:
    return next((i for i, p in enumerate(patterns) if re.search(p, line)), len(patterns))


@settings(max_examples=300, deadline=None)
@given(regexes(), st.data())
def test_a_rewritten_pattern_matches_an_ascii_line_where_python_does(pattern: str, data: st.DataObject) -> None:
    try:
        rewritten = re.compile(translate(pattern), re.MULTILINE)
    except Untranslatable:
        return
    for line in data.draw(st.lists(lines_for([pattern]), max_size=8)):
        if line.isascii():
            assert bool(rewritten.search(line)) == bool(re.search(pattern, line)), (pattern, line, rewritten.pattern)


@pytest.mark.parametrize("engine", CLASSIFIERS, ids=lambda c: c.engine)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(regexes(), min_size=1, max_size=5), st.data())
def test_the_classifier_finds_the_first_pattern_re_finds(engine: type, patterns: list[str],
                                                         data: st.DataObject) -> None:
    """No rewritten pattern before the answer matches, and the answer is "none" exactly when none
    does (Hyperscan names the first one); those left to re are named, with why; non-ASCII is UNKNOWN."""
    lines = data.draw(st.lists(lines_for(patterns), max_size=10))
    classifier = engine(patterns)
    firsts = classifier.first(lines)
    for line, first in zip(lines, firsts, strict=True):
        if not line.isascii():
            assert first == UNKNOWN
            continue
        matching = [i for i, p in enumerate(patterns) if re.search(p, line) and i not in classifier.fallback]
        exact = min(matching, default=len(patterns))
        if engine is UnionClassifier and exact < len(patterns):
            assert first == 0  # some pattern matches: search them in order
        else:
            assert first == exact, (patterns, line)
    assert set(classifier.fallback) | set(classifier.translated) == set(range(len(patterns)))
    assert all(classifier.fallback.values())


def spec_of(patterns: list[str], types: list[str] | None = None) -> LogPatterns:
    """Target ``c<i>``; with ``types`` (one per pattern), the named groups are fields of that
    type and the first one is the target."""
    rules = []
    for i, p in enumerate(patterns):
        names = list(re.compile(p).groupindex) if types else []
        rules.append({"name": f"p{i}", "regex": p, "event": f"E{i}", "target": f"{{{names[0]}}}" if names else f"c{i}",
                      "fields": {n: types[i] for n in names} if types else {}})
    return LogPatterns.model_validate({
        "timestamp": {"regex": r"^(?P<ts>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2},\d{3})", "format": "%d.%m.%Y %H:%M:%S,%f"},
        "patterns": rules,
    })


@settings(max_examples=80, deadline=None)
@given(st.lists(regexes(), min_size=1, max_size=5), st.data())
def test_both_paths_give_the_line_parsers_events(patterns: list[str], data: st.DataObject) -> None:
    """BlockParser with Hyperscan, with the pure-Python union, and LineParser line by line agree."""
    rests = data.draw(st.lists(lines_for(patterns), max_size=30))
    stamps = data.draw(st.lists(st.sampled_from(["21.01.2026 06:00:00,152", "21.01.2026 06:00:01,000",
                                                 "31.02.2026 06:00:00,000", "no stamp"]),
                                min_size=len(rests), max_size=len(rests)))
    text = "".join(f"{s}{r}\n" for s, r in zip(stamps, rests, strict=True))
    types = data.draw(st.none() | st.lists(st.sampled_from(["str", "int", "float", "bool"]), min_size=len(patterns),
                                           max_size=len(patterns)))
    spec = spec_of(patterns, types)
    serial = LineParser(spec)
    expected = [serial.parse(line.removesuffix("\r"), i + 1) for i, line in enumerate(text.split("\n")[:-1])]
    for pure in (True, False):
        blocks, table, got = BlockParser(spec, pure=pure), EventTable(), []
        for block in LineReader(io.BytesIO(text.encode())).blocks(first=64):
            got += lines_of(blocks, table, blocks.parse(block), len(got) + 1)
        assert repr(got) == repr(expected), (pure, blocks.classifier.engine)  # repr: a float field may be nan


def test_what_cannot_be_rewritten_stays_with_re_and_says_why() -> None:
    classifier = make_classifier([r"(?P<a>x)(?P=a)", r"(?<=ST)\d+", "a|", r"Clamp (?P<s>\w+)", "(?>ab)c"])
    assert sorted(classifier.fallback) == [0, 1, 2, 4]
    assert "back-references" in classifier.fallback[0] and "lookarounds" in classifier.fallback[1]
    assert "empty" in classifier.fallback[2] and "atomic" in classifier.fallback[4]
    assert classifier.first(["Clamp L1", "xx", "ST10"]).tolist() == [3, 5, 5]


def test_hyperscan_is_there_where_pyproject_installs_it() -> None:
    """The fast path must not be silently off where its wheel exists (CI's machine is one)."""
    import platform

    if platform.system() == "Linux" and platform.machine() in ("x86_64", "aarch64"):
        assert hyperscan_available()


def test_the_environment_switch_forces_the_pure_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGLOOM_PURE_PYTHON", "1")
    assert isinstance(make_classifier(["a"]), UnionClassifier)
    monkeypatch.setenv("LOGLOOM_PURE_PYTHON", "0")
    assert isinstance(make_classifier(["a"]), HyperscanClassifier if hyperscan_available() else UnionClassifier)


def test_validate_names_the_patterns_left_to_re(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from tests.helpers import EXAMPLE_CONFIG

    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    patterns = config / "log_patterns.yaml"
    text = patterns.read_text().replace("regex: 'Reset at (?P<station>\\w+)'", "regex: '(?<=Reset at )(?P<station>\\w+)'")
    patterns.write_text(text)
    code, out, _ = run_cli("validate", "--config", config)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("OK ")
    assert lines[2].startswith("patterns: 13 of 14 classified a block at a time (")
    assert lines[3] == "  reset: searched with re on its own, line by line (lookarounds need re)"
