"""Hints in logloom's words for the schema mistakes people make in YAML.

The schema library says what it expected ("Input should be a valid dictionary");
these say what the YAML most likely got wrong: a key indented one level too little
(``metrics:`` under ``states:`` instead of under its state), a list where a mapping
is expected or the other way round, ``ON``/``OFF`` read as booleans, a near-miss of
an allowed word. ``hint`` takes one pydantic error and the key paths of the file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

# The mapping entries a key may stand in for, and what they are called.
_ENTRY_OF = {"StateSpec": "state", "MachineSpec": "machine type", "EventSpec": "event",
             "VizComponent": "component", "VizState": "state"}
# Where each key belongs, for a key met at the wrong level.
_OWNER = {
    "metrics": "a state (machines.<type>.states.<STATE>)",
    "initial": "a machine type", "states": "a machine type", "transitions": "a machine type",
    "infer": "an event (events.<EVENT>)", "requires": "a transition",
    "regex": "a pattern or the timestamp", "target": "a pattern", "target_type": "a pattern",
    "fields": "a pattern", "format": "timestamp", "timezone": "timestamp",
    "aliases": "a component", "sensors": "a component", "next": "a component",
    "anomaly": "a metric or settings", "max_jump": "settings", "permissive": "settings",
}
# A value to show in a mapping written as a list, by the key that holds it.
_EXAMPLE_VALUE = {"states": "{}", "events": "{}", "sensors": "false", "infer": "true",
                  "requires": "true", "fields": "float", "components": "{...}", "machines": "{...}"}
_YAML_TRUE = "on, yes, true"
_YAML_FALSE = "off, no, false"
_YAML_BOOLS = frozenset(("on", "yes", "true", "off", "no", "false"))  # PyYAML's YAML 1.1 booleans


def hint(err: Mapping[str, Any], loc: tuple[str | int, ...], siblings: Iterable[str],
         fields: Iterable[str]) -> str | None:
    """A hint for one schema error at ``loc`` (already without union tags).

    ``siblings``: the keys of the mapping that holds ``loc[-1]``, in the file's order;
    ``fields``: the keys the model expected at ``loc`` allows (for a misplaced key).
    """
    kind = err["type"]
    value = err.get("input")
    key = loc[-1] if loc else None
    if kind == "model_type" and isinstance(key, str):
        entry = _ENTRY_OF.get((err.get("ctx") or {}).get("class_name", ""))
        if entry and key in set(fields):
            before = _before(key, siblings)
            under = f"under the {entry} above it, '{before}'" if before else f"under its {entry}"
            return f"'{key}' is read as a {entry} name here, but it is a key of a {entry}: indent it {under}"
    if kind in ("model_type", "dict_type") and isinstance(value, list):
        return _list_for_mapping(key, value)
    if kind == "list_type" and isinstance(value, dict):
        first = next(iter(value), "")
        if all(isinstance(v, dict) for v in value.values()):  # entries keyed by their names
            return f"a list is expected here, not a mapping: write each entry as '- id: {first}' with its keys under it"
        return f"a list is expected here, not a mapping: put '- ' before '{first}:' to make it an item"
    if kind == "list_type" and isinstance(value, str | int | float):
        return f"a list is expected here: write [{value}] for a list of one"
    if kind in ("string_type", "string_pattern_mismatch") and isinstance(value, bool):
        words = _YAML_TRUE if value else _YAML_FALSE
        quoted = f"'{key}'" if str(key).lower() in _YAML_BOOLS else "e.g. 'OFF'"
        return f"YAML reads an unquoted {words} as the boolean {str(value).lower()}: quote the name, {quoted}"
    if kind == "string_type" and isinstance(value, int | float):
        return f"YAML reads {value!r} as a number: quote it to make it a name, e.g. '{value}'"
    if kind == "literal_error" and isinstance(value, str):
        expected = str((err.get("ctx") or {}).get("expected", ""))
        allowed = [w.strip(" '") for w in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(value, allowed, n=1)
        return f"did you mean '{close[0]}'?" if close else None
    return None


def message(err: Mapping[str, Any]) -> str:
    """The problem in logloom's words where the schema library's name its own types."""
    kind, value = err["type"], err.get("input")
    if kind in ("model_type", "dict_type"):
        return "a mapping is expected here" + (f", not {_what(value)}" if _what(value) else "")
    if kind == "list_type":
        return "a list is expected here" + (f", not {_what(value)}" if _what(value) else "")
    if kind in ("string_type", "string_pattern_mismatch") and isinstance(value, bool):
        return f"read as the boolean {str(value).lower()}, not as a name"
    return str(err["msg"]).removeprefix("Value error, ")


def _what(value: object) -> str | None:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "an empty value"
    return {list: "a list", dict: "a mapping", str: "a text", int: "a number", float: "a number"}.get(type(value))


def misplaced(key: str) -> str | None:
    """For an unknown key that is a known key elsewhere: where it belongs."""
    owner = _OWNER.get(key)
    return f"'{key}' is a key of {owner}: check its indentation" if owner else None


def _before(key: str, siblings: Iterable[str]) -> str | None:
    previous = None
    for name in siblings:
        if name == key:
            return previous
        previous = name
    return None


def _list_for_mapping(key: str | int | None, value: list[Any]) -> str:
    text = "a mapping ('name: value' lines) is expected here, not a list ('- ' items)"
    names = [v for v in value if isinstance(v, str | int | float | bool)]
    if names and len(names) == len(value):
        example = _EXAMPLE_VALUE.get(str(key), "...")
        shown = ", ".join(f"{n}: {example}" for n in names[:3]) + (", ..." if len(names) > 3 else "")
        return f"{text}: e.g. {{{shown}}}"
    return text
