"""YAML files read with the line of every key.

``ConfigFile`` collects the problems of one file; ``read_yaml`` loads it safely (no
object construction) while recording where each key path stands, so that every
problem, from the schema or from a cross-file check, names its line. ``load_yaml``
reads a config file's data the same way for the readers that need no lines.

What the YAML may hold: mappings, lists, strings, numbers, booleans and null. A
date-like scalar (``2020-01-02``) stays the string it reads as, and a scalar that
cannot be what its tag says (``!!int abc``, an integer of 5000 digits) is a problem
at its key path, never an exception out of PyYAML's constructors. Aliases may repeat
at most ``MAX_VALUES`` values: past that the document is refused at the alias that
tips it over, before anything walks the expanded data.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logloom.errors import Problem

KeyPath = tuple[str | int, ...]


def _short_tag(node: yaml.Node) -> str:
    return str(node.tag).replace("tag:yaml.org,2002:", "!!")


class _BadScalar(yaml.constructor.ConstructorError):
    """A scalar PyYAML's constructor could not turn into its tag's type."""

    def __init__(self, node: yaml.Node, reason: str | None) -> None:
        text = str(node.value)
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        problem = f"cannot read {shown} as {_short_tag(node)}" + (f": {reason}" if reason else "")
        super().__init__(None, None, problem, node.start_mark)
        self.node = node


def _guarded(construct: Callable[[Any, yaml.Node], Any]) -> Callable[[Any, yaml.Node], Any]:
    """``construct``, raising ``_BadScalar`` for the text it chokes on."""

    def guarded(loader: Any, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:  # their messages say what is wrong
            raise _BadScalar(node, str(exc)) from None
        except (LookupError, AttributeError, TypeError):  # theirs are PyYAML's internals
            raise _BadScalar(node, None) from None

    return guarded


# SafeConstructor's scalar constructors that raise on their input: ValueError for an
# impossible date or time zone or an integer past Python's 4300 digits, KeyError for
# `!!bool maybe`, AttributeError for `!!timestamp soon`. The others (str, null, binary,
# and the collections) cannot, or raise a ConstructorError with the line already.
_FALLIBLE = {f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "timestamp")}
_CONSTRUCTORS = {
    tag: _guarded(construct) if tag in _FALLIBLE else construct
    for tag, construct in yaml.SafeLoader.yaml_constructors.items()
}

# A process engineer's config never needs YAML 1.1 timestamps (YAML 1.2 dropped them from
# its core schema): without this resolver `2020-01-02` is a string like any other, and
# `2020-13-45` cannot crash the date constructor.
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_RESOLVERS = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _config_loader(base: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> type[yaml.SafeLoader]:
    loader: type[yaml.SafeLoader] = type(
        "Config" + base.__name__, (base,),
        {"yaml_implicit_resolvers": _RESOLVERS, "yaml_constructors": _CONSTRUCTORS},
    )
    return loader


# The pure-Python parser words every syntax error as the messages have always read.
_LOADER = _config_loader(yaml.SafeLoader)
# libyaml, when PyYAML was built with it, reads the configs about 8x faster than the
# pure-Python parser (10 ms of every start-up) and builds the same nodes and lines; the
# resolver and constructor (Python code) are the same for both.
_FAST_LOADER = _config_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_yaml(text: str) -> Any:
    """A config file's data exactly as ``read_yaml`` builds it; raises ``yaml.YAMLError``.

    For the readers that take an already validated config (simulate, report, viz).
    """
    loader = _FAST_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_expansion(node, text, type(loader))
        return loader.construct_document(node)
    except RecursionError as exc:
        raise yaml.YAMLError("nested too deeply") from exc
    finally:
        loader.dispose()


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

    def keys_under(self, path: KeyPath) -> list[str]:
        """The keys of the mapping at ``path``, in the file's order."""
        n = len(path)
        return [str(p[n]) for p in self.lines if len(p) == n + 1 and p[:n] == path and isinstance(p[n], str)]

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
    loader: yaml.SafeLoader | None = None
    try:
        loader = _FAST_LOADER(text)  # the pure-Python reader checks the characters here
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as fast_error:
            # libyaml words syntax errors differently (and sometimes puts them a line
            # later): the pure-Python parser finds the error again and reports it as always
            loader.dispose()
            loader = _LOADER(text)
            try:
                node = loader.get_single_node()
            except RecursionError:  # nesting libyaml refused past its limit
                raise fast_error from None
        if node is None:
            return None
        _index_lines(node, f)
        _refuse_expansion(node, text, type(loader))
        try:
            return loader.construct_document(node)
        except _BadScalar as exc:
            bad = exc.node
            # a plain scalar read as a number (5000 digits) is text once quoted; an
            # explicit tag (`!!int abc`) is what is wrong
            plain = loader.resolve(yaml.ScalarNode, bad.value, (True, False)) == bad.tag
            f.problems.append(Problem(
                f.name, _dotted(_path_to(node, bad)), str(exc.problem), bad.start_mark.line + 1,
                "quote it to keep it as text" if plain else f"remove the {_short_tag(bad)} tag or fix the value",
            ))
            return None
    except RecursionError:
        f.add((), "YAML: nested too deeply")
        return None
    except _TooManyValues as exc:
        f.problems.append(Problem(
            f.name, _dotted(exc.path), "YAML: this alias expands the document too far",
            exc.problem_mark.line + 1 if exc.problem_mark else None, f"{exc.problem}; aliases of aliases multiply",
        ))
        return None
    except yaml.reader.ReaderError as exc:  # a control character: it has a position, no mark
        f.problems.append(Problem(
            f.name, "", f"YAML: unacceptable character #x{exc.character:04x}: {exc.reason}",
            text.count("\n", 0, exc.position) + 1, "remove it, or write it as an escape in a double-quoted string",
        ))
        return None
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
        if loader is not None:
            loader.dispose()


def _index_lines(root: yaml.Node, f: ConfigFile) -> None:
    # Iterative, and each node once: deep nesting or an alias cycle (`a: &x [*x]`) must
    # not hit the recursion limit, nor a chain of aliases grow exponentially. A path
    # under an alias's second use is not indexed: it reports the line of its nearest key.
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        f.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            children: list[tuple[yaml.Node, KeyPath]] = []
            for key, value in node.value:
                name = str(key.value)
                sub = (*path, name)
                if name in seen:
                    f.lines[sub] = key.start_mark.line + 1
                    f.add(sub, "duplicate key", "each key may appear once")
                seen.add(name)
                f.lines[sub] = key.start_mark.line + 1
                children.append((value, sub))
            stack.extend(reversed(children))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(node.value))))


# -- aliases that expand a document too far ---------------------------------------------
# PyYAML builds every use of an anchor as the one shared object, but whatever walks the
# data (pydantic, a reader of the configs) walks each use. Aliases of aliases multiply: nine
# levels of nine ("billion laughs") are 90 values written and 387 million walked. No
# config comes near this many values.
MAX_VALUES = 100_000


class _TooManyValues(yaml.MarkedYAMLError):
    """Aliases expand the document past ``MAX_VALUES``; ``path`` and the mark are the alias's."""

    def __init__(self, path: KeyPath, mark: yaml.Mark | None) -> None:
        super().__init__(
            None, None, f"aliases expand this document to more than {MAX_VALUES} values", mark
        )
        self.path = path


@dataclass(slots=True)
class _Open:
    """A collection being counted: its children in the text's order, the values so far."""

    node: yaml.Node
    children: list[tuple[yaml.Node, KeyPath]]
    done: int = 0
    values: int = 1  # the collection itself


def _children(node: yaml.Node, path: KeyPath) -> list[tuple[yaml.Node, KeyPath]]:
    if isinstance(node, yaml.MappingNode):
        return [
            pair
            for key, value in node.value
            for pair in ((key, path), (value, (*path, str(key.value))))
        ]
    if isinstance(node, yaml.SequenceNode):
        return [(item, (*path, i)) for i, item in enumerate(node.value)]
    return []


def _refuse_expansion(root: yaml.Node, text: str, loader: type[yaml.SafeLoader]) -> None:
    """Raise ``_TooManyValues`` at the alias whose values take ``root`` past ``MAX_VALUES``.

    Each node is counted once, in the order of the text: an anchor is always complete
    before its first alias, so an alias adds its node's count from memory. Only the
    values aliases add count against the limit; a long file without aliases is no
    attack. Iterative, for the nesting that libyaml accepts.
    """
    if "&" not in text:  # no anchor, so no alias: the usual config costs nothing here
        return
    counted: dict[int, int] = {}  # id of a complete collection -> the values it expands to
    seen = {id(root)}
    stack = [_Open(root, _children(root, ()))]
    added = aliases = 0
    while stack:
        top = stack[-1]
        if top.done == len(top.children):
            stack.pop()
            counted[id(top.node)] = top.values
            if stack:
                stack[-1].values += top.values
            continue
        child, path = top.children[top.done]
        top.done += 1
        if id(child) in seen:  # an alias
            aliases += 1
            # a scalar is one value; so is an alias of a collection still open (`&a [*a]`),
            # which PyYAML builds as a cycle, not as copies
            size = counted.get(id(child), 1)
            top.values += size
            added += size
            if added > MAX_VALUES:
                raise _TooManyValues(path, _alias_mark(text, loader, aliases))
        elif isinstance(child, yaml.ScalarNode):
            seen.add(id(child))
            top.values += 1
        else:
            seen.add(id(child))
            stack.append(_Open(child, _children(child, path)))


def _alias_mark(text: str, loader: type[yaml.SafeLoader], number: int) -> yaml.Mark | None:
    """Where the ``number``-th alias of ``text`` stands (a node keeps no trace of its aliases)."""
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            number -= 1
            if number == 0:  # libyaml's mark has the same fields as PyYAML's
                return typing.cast(yaml.Mark, event.start_mark)
    return None


def _path_to(root: yaml.Node, target: yaml.Node) -> KeyPath:
    """The key path of ``target`` under ``root`` (its first use in the text); () if none."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.append((value, (*path, str(key.value))))
                stack.append((key, path))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(node.value))))
    return ()
