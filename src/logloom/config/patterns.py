"""log_patterns.yaml's checks beyond its schema: timestamps, regexes, what patterns capture.

A text log (``format: text``, the default) finds its timestamp with ``timestamp.regex``
and matches ``regex`` patterns; a JSON log (``format: json``) reads the key at
``timestamp.field`` and matches ``match`` conditions on keys. Each key belongs to one
of the two: the other's is reported with the way to write it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import zoneinfo

from logloom.config.regex_risk import nested_quantifier
from logloom.config.schema import LogPatterns, MachineGraph, PatternSpec, ProcessLogic
from logloom.config.validation import choices
from logloom.config.yaml_io import ConfigFile, KeyPath
from logloom.logtime.timestamps import load_timezone
from logloom.logtime.years import places_years, timestamp_parser

TEMPLATE_NAME = re.compile(r"\{([\w.]*)\}")  # a target template's field names (parse/patterns.py: Target)
_KEY_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


def captured(p: PatternSpec) -> set[str]:
    """The fields a pattern can capture (named groups; for JSON also the keys of ``fields``)."""
    names: set[str] = set()
    regexes = [p.regex] if p.regex is not None else []
    regexes += [c["regex"] for c in (p.match or {}).values() if _regex_condition(c)]
    for rx in regexes:
        with contextlib.suppress(re.error):
            names |= set(re.compile(rx).groupindex)
    return names | set(p.fields) if p.match is not None else names


def check_patterns(pats: LogPatterns, graph: MachineGraph | None, logic: ProcessLogic | None,
                   f: ConfigFile) -> None:
    _check_timestamp(pats, f)
    names: set[str] = set()
    ids = {c.id for c in graph.components} if graph else set()
    aliases = {a for c in graph.components for a in c.aliases} if graph else set()
    for i, p in enumerate(pats.patterns):
        base = ("patterns", i)
        if p.name in names:
            f.add((*base, "name"), f"duplicate pattern name '{p.name}'")
        names.add(p.name)
        ok = _check_json_pattern(p, base, pats, f) if pats.format == "json" else _check_text_pattern(p, base, pats, f)
        if not ok:
            continue
        fields = captured(p)
        if p.target is not None:
            used = TEMPLATE_NAME.findall(p.target)
            for g in used:
                if g not in fields:
                    what = "captures no field" if pats.format == "json" else "has no such group"
                    f.add((*base, "target"), f"target uses {{{g}}} but pattern '{p.name}' {what}")
            if not used and graph and p.target not in ids and p.target not in aliases:
                f.add((*base, "target"), f"'{p.target}' is neither a component id nor an alias",
                      choices(p.target, ids | aliases))
        if p.target_type is not None and logic is not None and p.target_type not in logic.machines:
            f.add((*base, "target_type"), f"unknown machine type '{p.target_type}'",
                  choices(p.target_type, logic.machines))


def _check_timestamp(pats: LogPatterns, f: ConfigFile) -> None:
    ts = pats.timestamp
    if pats.format == "json":
        if ts.regex is not None:
            f.add(("timestamp", "regex"), "a JSON log's timestamp is a key, not a regex",
                  "name its key path with field, e.g. field: time")
        if ts.field is None:
            f.add(("timestamp",), "a JSON log names the key of its timestamp", "add field, e.g. field: time")
        elif not _KEY_PATH.match(ts.field):
            f.add(("timestamp", "field"), f"{ts.field!r} is not a key path", "keys joined by dots: data.time")
    else:
        if ts.field is not None:
            f.add(("timestamp", "field"), "field belongs to JSON logs", "set format: json, or find the time "
                  "in the text with regex")
        if ts.regex is None:
            f.add(("timestamp",), "required key is missing: regex", "a regex with a (?P<ts>...) group")
        else:
            try:
                if "ts" not in re.compile(ts.regex).groupindex:
                    f.add(("timestamp", "regex"), "the timestamp regex has no (?P<ts>...) group")
                _check_backtracking(ts.regex, "the timestamp regex", ("timestamp", "regex"), pats, f)
            except re.error as exc:
                f.add(("timestamp", "regex"), f"invalid regex: {exc}")
    try:
        load_timezone(ts.timezone)
    except ValueError as exc:
        f.add(("timestamp", "timezone"), str(exc), _timezone_hint(str(ts.timezone)))
    try:
        timestamp_parser(ts.format)  # the zone plays no part in reading the format
    except ValueError as exc:
        f.add(("timestamp", "format"), str(exc), _format_hint(ts.format))
    else:
        if ts.year is not None and not places_years(ts.format):
            has = "its year" if ts.format in ("iso", "epoch", "epoch_ms") or re.search("%[Yy]", ts.format) \
                else "no month and day"
            f.add(("timestamp", "year"), f"timestamp format {ts.format!r} has {has}: there is no year to place",
                  "year is for formats such as '%b %d %H:%M:%S'; remove it")


def _format_hint(fmt: str) -> str:
    """A misspelt name of a built-in format (``iso8601``, ``ISO``, ``epoch_s``) is named."""
    close = difflib.get_close_matches(fmt.lower(), ("iso", "epoch", "epoch_ms"), n=1, cutoff=0.6)
    if close and "%" not in fmt:
        return f"did you mean {close[0]!r}?"
    return "iso, epoch, epoch_ms or a strptime format such as '%d.%m.%Y %H:%M:%S,%f'"


def _check_text_pattern(p: PatternSpec, base: KeyPath, pats: LogPatterns, f: ConfigFile) -> bool:
    if p.match is not None:
        f.add((*base, "match"), "match belongs to JSON logs", "set format: json, or match the text with regex")
    if p.regex is None:
        f.add(base, "required key is missing: regex")
        return False
    try:
        groups = set(re.compile(p.regex).groupindex)
    except re.error as exc:
        f.add((*base, "regex"), f"pattern '{p.name}': invalid regex: {exc}")
        return False
    _check_backtracking(p.regex, f"pattern '{p.name}'", (*base, "regex"), pats, f)
    for fname in p.fields:
        if fname not in groups:
            f.add((*base, "fields", fname), f"pattern '{p.name}' has no group (?P<{fname}>...)")
    return True


def _check_json_pattern(p: PatternSpec, base: KeyPath, pats: LogPatterns, f: ConfigFile) -> bool:
    if p.regex is not None:
        f.add((*base, "regex"), "a JSON log's pattern matches keys, not the line's text",
              "write match: {key: value} or match: {key: {regex: ...}}")
    if p.match is None:
        f.add(base, "required key is missing: match", "match: {key: value} (format: json)")
        return False
    ok = True
    for path, cond in p.match.items():
        if not _KEY_PATH.match(path):
            f.add((*base, "match", path), f"{path!r} is not a key path", "keys joined by dots: data.unit")
            ok = False
        if isinstance(cond, dict):
            unknown = [key for key in cond if key != "regex"]
            for key in unknown:
                f.add((*base, "match", path, key), "unknown key", choices(str(key), ["regex"]))
            if not _regex_condition(cond):
                if not unknown:
                    f.add((*base, "match", path), "a condition's mapping is {regex: '...'}")
                ok = False
                continue
            try:
                re.compile(cond["regex"])
            except re.error as exc:
                f.add((*base, "match", path, "regex"), f"pattern '{p.name}': invalid regex: {exc}")
                ok = False
            else:
                _check_backtracking(cond["regex"], f"pattern '{p.name}'", (*base, "match", path, "regex"), pats, f)
        elif not _scalar(cond) and not (isinstance(cond, list) and all(map(_scalar, cond))):
            f.add((*base, "match", path), "a condition is a value, a list of values or {regex: '...'}",
                  f"got {cond!r}"[:80])
            ok = False
    for fname in p.fields:
        if not _KEY_PATH.match(fname):
            f.add((*base, "fields", fname), f"{fname!r} is neither a key path nor a group name")
            ok = False
    return ok


def _check_backtracking(regex: str, what: str, key: KeyPath, pats: LogPatterns, f: ConfigFile) -> None:
    nested = nested_quantifier(regex)
    if nested:
        f.add(key, f"{what} repeats a '{nested}' inside an unbounded repeat: a line that almost matches can "
                   f"take exponential time (a line gets {pats.max_match_seconds:g} s of CPU to match, "
                   "max_match_seconds, then it is rejected)",
              "make the repeated part unambiguous, e.g. (?:a+b)+ instead of (a+)+b, or use an atomic group (?>...)",
              warning=True)


def _regex_condition(cond: object) -> bool:
    return isinstance(cond, dict) and isinstance(cond.get("regex"), str)


def _scalar(value: object) -> bool:
    """A value JSON can hold that a key can equal (not an object or a list)."""
    return value is None or isinstance(value, str | int | float | bool)


def _timezone_hint(name: str) -> str:
    # reads the zone list from disk (about 20 ms): only ever for a config that is wrong
    known = {zone.lower(): zone for zone in zoneinfo.available_timezones()}
    if not known:
        return "this system has no IANA time zone database: pip install tzdata"
    close = difflib.get_close_matches(name.lower(), known, n=1)  # 'europe/berlin' too
    if close:
        return f"did you mean '{known[close[0]]}'?"
    return "an IANA time zone name such as Europe/Berlin; without one, naive readings count as UTC"
