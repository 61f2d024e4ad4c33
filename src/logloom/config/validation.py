"""Schema errors turned into Problems: pydantic's errors at their key paths and lines,
an unknown key with the closest allowed one as its hint."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
            loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
            if loc in seen:  # a union reports once per member; the first says enough
                continue
            seen.add(loc)
            hint = None
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(model, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                hint = (f"did you mean '{close[0]}'? " if close else "") + (
                    "allowed: " + ", ".join(allowed) if allowed else ""
                )
                f.add(loc, "unknown key", hint or None)
            elif err["type"] == "missing":
                f.add(loc, "required key is missing")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                f.add(loc, msg, f"got {err['input']!r}" if _short(err.get("input")) else None)
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
