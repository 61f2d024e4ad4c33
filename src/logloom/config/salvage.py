"""What is left of a config file once the parts that fail its schema are taken out.

A schema error makes ``validate`` return None for the whole file, and the
cross-file checks had nothing to look at: a misspelt ``field`` or count event in
the same file stayed hidden until the schema error was fixed. ``salvage`` removes
the smallest part each error is in (an unknown key; a value that is wrong; an entry
that misses a required key) until the rest validates, so that the checks can run on
it. The result is only ever used to find more problems, never to run.

The names of what was taken out (machine types, states, components, patterns and
the groups and events they define) are returned too: a cross-file problem that
only says one of them is missing follows from the schema error and is left out.
"""

from __future__ import annotations

import contextlib
import copy
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from logloom.config.validation import key_path
from logloom.config.yaml_io import ConfigFile, KeyPath

M = TypeVar("M", bound=BaseModel)
MAX_ROUNDS = 500  # each round takes one part out; a config has far fewer broken parts


def salvage(model: type[M], data: Any, f: ConfigFile, removed: set[str]) -> M | None:
    """``data`` validated as ``model`` without its broken parts (None if nothing is left).

    Adds the names of what was taken out to ``removed``.
    """
    if not isinstance(data, dict | list):
        return None
    data = copy.deepcopy(data)
    for _ in range(MAX_ROUNDS):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = key_path(err["loc"], data, f)
            target = loc[:-1] if err["type"] == "missing" else loc
            if not _remove(data, target, removed):
                return None
    return None


def _remove(data: Any, path: KeyPath, removed: set[str]) -> bool:
    """Take out the part at ``path``, or the nearest part above it that exists; False at the root."""
    while path:
        parent = _at(data, path[:-1])
        key = path[-1]
        if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            removed.update(_names(parent.pop(key)))
            return True
        if isinstance(parent, dict):
            found = next((k for k in parent if k == key or str(k) == str(key)), _MISSING)
            if found is not _MISSING:
                removed.add(str(found))
                removed.update(_names(parent.pop(found)))
                return True
        path = path[:-1]
    return False


_MISSING = object()


def _at(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict):
            node = next((v for k, v in node.items() if k == part or str(k) == str(part)), None)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _names(part: Any) -> set[str]:
    """The names a removed entry defined: its id, name and event, and a pattern's groups."""
    if not isinstance(part, dict):
        return {part} if isinstance(part, str) else set()
    names = {str(part[k]) for k in ("id", "name", "event") if isinstance(part.get(k), str)}
    for value in part.values():  # a mapping of names under a wrong key (`sensor: {presence: false}`)
        if isinstance(value, dict):
            names |= {str(k) for k in value}
    match = part.get("match")  # a JSON log's pattern: the groups of its regex conditions too
    regexes = [part.get("regex"), *(c.get("regex") for c in match.values() if isinstance(c, dict))] \
        if isinstance(match, dict) else [part.get("regex")]
    for regex in regexes:
        if isinstance(regex, str):
            with contextlib.suppress(re.error):
                names |= set(re.compile(regex).groupindex)
    return names


def follows_from(message: str, removed: set[str]) -> bool:
    """Whether a cross-file problem only names something a schema error took out."""
    return any(f"'{name}'" in message or f"{{{name}}}" in message for name in removed)
