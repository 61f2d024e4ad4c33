"""Patterns that can take exponential time: a repeat inside an unbounded repeat.

``(a+)+b``, ``(\\w+\\s?)*:`` or ``(x{1,9})+y`` can split one run of characters in
exponentially many ways, and Python's ``re`` tries them all on a line that almost
matches. ``validate`` warns about them; at run time a line is given a bounded time
to match (``max_match_seconds``) and rejected after it.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# the parser behind re.compile (Python 3.11+); typeshed does not describe it
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_UNBOUNDED = sre_constants.MAXREPEAT


def nested_quantifier(regex: str) -> str | None:
    """A description of the first repeat nested in an unbounded repeat, or None.

    Atomic groups and possessive repeats do not backtrack and are not reported; a
    repeat of a fixed count (``\\d{2}``) inside one is unambiguous and allowed.
    """
    try:
        tree = sre_parse.parse(regex)
    except (re.error, RecursionError):
        return None
    return _walk(tree, inside=False)


def _walk(items: Any, *, inside: bool) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            variable = high != low and high > 1  # a ``?`` alone splits nothing
            if inside and variable:
                return _describe(low, high)
            found = _walk(body, inside=inside or high == _UNBOUNDED)
            if found:
                return found
        elif op == sre_constants.SUBPATTERN:
            found = _walk(av[-1], inside=inside)
            if found:
                return found
        elif op == sre_constants.BRANCH:
            for branch in av[1]:
                found = _walk(branch, inside=inside)
                if found:
                    return found
        # atomic groups and possessive repeats never backtrack: not walked
    return None


def _describe(low: int, high: int) -> str:
    if high == _UNBOUNDED:
        return "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
    return f"{{{low},{high}}}"
