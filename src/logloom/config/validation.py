"""Schema errors turned into Problems: pydantic's errors at their key paths and lines,
an unknown key with the closest allowed one (or where it belongs) as its hint, and
the hints of ``hints.py`` for the other common mistakes."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from logloom.config.hints import hint as schema_hint
from logloom.config.hints import message as schema_message
from logloom.config.hints import misplaced
from logloom.config.yaml_io import ConfigFile, KeyPath

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, f: ConfigFile) -> M | None:
    if data is None:
        if not f.problems:
            f.add((), "the file is empty")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        seen: set[KeyPath] = set()
        for err in exc.errors():
            loc = key_path(err["loc"], data, f)
            if loc in seen:  # a union reports once per member; the first says enough
                continue
            seen.add(loc)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(model, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                if close:
                    hint: str | None = f"did you mean '{close[0]}'? allowed: " + ", ".join(allowed)
                else:
                    hint = misplaced(str(loc[-1])) or ("allowed: " + ", ".join(allowed) if allowed else None)
                f.add(loc, "unknown key", hint)
            elif err["type"] == "missing":
                f.add(loc, "required key is missing")
            else:
                msg = schema_message(err)
                hint = schema_hint(err, loc, f.keys_under(loc[:-1]), _allowed_keys(model, loc))
                if hint is None and _short(err.get("input")):
                    hint = f"got {err['input']!r}"
                f.add(loc, msg, hint)
        return None


def key_path(loc: tuple[Any, ...], data: Any, f: ConfigFile) -> KeyPath:
    """pydantic's error location as the file's key path: union members dropped, and a
    mapping key's position (``3, '[key]'``) turned into the key as the YAML wrote it."""
    parts = list(loc)
    path: list[str | int] = []
    node = data
    for i, part in enumerate(parts):
        if part == "[key]" or _is_union_tag(part):
            continue
        if isinstance(part, int) and i + 1 < len(parts) and parts[i + 1] == "[key]" and isinstance(node, dict):
            names = f.keys_under(tuple(path))
            part = names[part] if part < len(names) else str(list(node)[part])
        path.append(part)
        node = _child(node, part)
    return tuple(path)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == part or str(k) == str(part):
                return v
    elif isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _is_union_tag(part: object) -> bool:
    # pydantic puts the tried union member into loc, e.g. 'list[...]' or 'str'
    return isinstance(part, str) and (
        "[" in part or part in ("str", "bool", "int", "float", "constrained-str")
    )


def _short(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) < 60


def _allowed_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fld = next((v for k, v in current.model_fields.items() if (v.alias or k) == part), None)
            if fld is None:
                return []
            current = fld.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [v.alias or k for k, v in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Optional[X] / X | None -> X."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def choices(name: str, options: typing.Iterable[str]) -> str | None:
    """A hint naming the closest of ``options`` to ``name``, or all of a few."""
    opts = sorted(str(o) for o in options)
    close = difflib.get_close_matches(name, opts, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if opts and len(opts) <= 12:
        return "known: " + ", ".join(opts)
    return None
