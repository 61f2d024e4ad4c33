"""YAML files read with the line of every key, and schema errors turned into Problems.

``ConfigFile`` collects the problems of one file; ``read_yaml`` loads it safely (no
object construction) while recording where each key path stands, so that every
problem, from the schema or from a cross-file check, names its line.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Problem

M = TypeVar("M", bound=BaseModel)
KeyPath = tuple[str | int, ...]

# libyaml, when PyYAML was built with it, reads the configs about 8x faster than the
# pure-Python parser (10 ms of every start-up) and builds the same nodes and lines.
_FAST_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ConfigFile:
    """One YAML file: its data, where each key path stands, the problems found."""

    name: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def add(
        self, path: KeyPath, message: str, hint: str | None = None, *, warning: bool = False
    ) -> None:
        self.problems.append(
            Problem(self.name, _dotted(path), message, self.line_of(path), hint, warning)
        )


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- YAML with line numbers ------------------------------------------------------------
def read_yaml(path: Path, f: ConfigFile) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        f.add((), "file not found", f"expected at {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        f.add((), f"cannot read: {exc}")
        return None
    loader: yaml.SafeLoader | yaml.CSafeLoader = _FAST_LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            # libyaml words syntax errors differently (and sometimes puts them a line
            # later): the pure-Python parser finds the error again and reports it as always
            loader.dispose()
            loader = yaml.SafeLoader(text)
            node = loader.get_single_node()
        if node is None:
            return None
        _index_lines(node, (), f)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        f.problems.append(
            Problem(
                f.name, "", f"YAML syntax: {exc.problem or exc}", mark.line + 1 if mark else None
            )
        )
        return None
    except yaml.YAMLError as exc:
        f.add((), f"YAML: {exc}")
        return None
    finally:
        loader.dispose()


def _index_lines(node: yaml.Node, path: KeyPath, f: ConfigFile) -> None:
    f.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            sub = (*path, name)
            if name in seen:
                f.lines[sub] = key.start_mark.line + 1
                f.add(sub, "duplicate key", "each key may appear once")
            seen.add(name)
            f.lines[sub] = key.start_mark.line + 1
            _index_lines(value, sub, f)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), f)


# -- schema validation -------------------------------------------------------------------
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
