"""Which pattern, first in config order, may match each line of a block: one pass a block.

A ``Classifier`` is built from the patterns' regexes. ``first(rests)`` returns, per
text after a timestamp, an index no *rewritten* pattern (``translate``) before which
matches it, ``len(patterns)`` exactly when none matches, or ``UNKNOWN`` for a text
that is not ASCII (only ``re`` may judge it). Patterns that could not be rewritten
(``fallback``, each with its reason) are not looked at: the caller searches those
with ``re`` on every line, in order, before the first rewritten match.

Two engines give the same answer:

- ``HyperscanClassifier``: the ``hyperscan`` package (Vectorscan), one scan of the
  whole block for all patterns; where its wheel installs (see pyproject's markers).
- ``UnionClassifier``: pure Python, one ``re.finditer`` of the union of the rewritten
  patterns over the block says which lines hold any match (noise lines stop there);
  for those, 0: search them all in order.

``LOGLOOM_PURE_PYTHON=1`` in the environment forces the pure-Python one.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from logloom.parse.translate import Untranslatable, translate

UNKNOWN = -1
PURE_ENV = "LOGLOOM_PURE_PYTHON"


class Classifier:
    """The rewritten patterns of a list of regexes, and those left to ``re`` (with why)."""

    engine = "re"
    exact = False  # whether ``first`` names each text's first rewritten pattern that matches

    def __init__(self, regexes: list[str]) -> None:
        self.count = len(regexes)
        self.translated: dict[int, str] = {}
        self.fallback: dict[int, str] = {}  # index -> why it stays with re
        for i, rx in enumerate(regexes):
            try:
                self.translated[i] = translate(rx)
            except Untranslatable as exc:
                self.fallback[i] = str(exc)

    def first(self, rests: Sequence[str] | Sequence[bytes]) -> np.ndarray:
        """Per text: ``f`` such that no rewritten pattern before ``f`` matches it, ``count``
        exactly when none does (Hyperscan: the first that matches; the union: 0 when any
        does), ``UNKNOWN`` for text that is not ASCII. Texts given as bytes are ASCII."""
        raise NotImplementedError

    @staticmethod
    def _joined(rests: Sequence[str] | Sequence[bytes]) -> tuple[bytes, np.ndarray, list[int] | None]:
        """The texts joined by ``\\n`` as ASCII bytes (non-ASCII ones blanked), where each
        starts, and the indices of the blanked ones (None: all ASCII)."""
        starts = np.zeros(len(rests) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, rests), np.int64, len(rests)) + 1, out=starts[1:])
        if rests and isinstance(rests[0], bytes):
            return b"\n".join(rests), starts, None  # type: ignore[arg-type]
        texts = cast("list[str]", rests)
        joined = "\n".join(texts)
        odd = None
        if not joined.isascii():
            odd = [i for i, r in enumerate(texts) if not r.isascii()]
            texts = list(texts)
            for i in odd:
                texts[i] = ""
            joined = "\n".join(texts)
            np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)) + 1, out=starts[1:])
        return joined.encode("ascii"), starts, odd


class UnionClassifier(Classifier):
    """Pure Python: the union of the rewritten patterns, searched over the whole block."""

    engine = "re (union prefilter)"

    def __init__(self, regexes: list[str]) -> None:
        super().__init__(regexes)
        union = "|".join(f"(?:{t})" for t in self.translated.values())
        self._union = re.compile(union, re.MULTILINE) if union else None

    def first(self, rests: Sequence[str] | Sequence[bytes]) -> np.ndarray:
        joined, starts, odd = self._joined(rests)
        out = np.full(len(rests), self.count, np.int64)
        line = -1
        ends = starts[1:].tolist()
        for m in self._union.finditer(joined.decode("ascii")) if self._union is not None else ():
            at = m.start()
            if line < 0 or at >= ends[line]:
                line = bisect_left(ends, at + 1)
                out[line] = 0  # something matches: the caller tries them all, in order
        if odd:
            out[odd] = UNKNOWN
        return out


class HyperscanClassifier(Classifier):
    """One Hyperscan scan of the block for every rewritten pattern Hyperscan compiles."""

    engine = "hyperscan"
    exact = True

    def __init__(self, regexes: list[str]) -> None:
        import hyperscan  # only where the wheel installed; see make_classifier

        super().__init__(regexes)
        # to the line's end: a line then gives one match per pattern, whatever the pattern
        # (Hyperscan reports every end of a match, and each costs a call here)
        ok = {i: f"(?:{text})[^\n]*$".encode("ascii") for i, text in self.translated.items()}
        try:  # all at once (a compile costs milliseconds); one by one only to find those it refuses
            self._db = _compile(hyperscan, ok) if ok else None
        except hyperscan.error:
            for i, expression in list(ok.items()):
                try:
                    _compile(hyperscan, {i: expression})
                except hyperscan.error as exc:
                    self.fallback[i] = f"hyperscan cannot compile it ({exc})"
                    del ok[i]
            self._db = _compile(hyperscan, ok) if ok else None
        for i in self.fallback:
            self.translated.pop(i, None)

    def first(self, rests: Sequence[str] | Sequence[bytes]) -> np.ndarray:
        out = np.full(len(rests), self.count, np.int64)
        joined, starts, odd = self._joined(rests)
        if self._db is not None and joined:
            hits: list[int] = []
            append = hits.append

            def on_match(pattern: int, start: int, end: int, flags: int, context: object) -> None:
                append(pattern)  # a call a line that matches: as little as it can be
                append(end)

            self._db.scan(joined, match_event_handler=on_match)
            if hits:
                found = np.array(hits, np.int64).reshape(-1, 2)
                # a match ending at e (> its line's start) is on the last line starting before e
                np.minimum.at(out, np.searchsorted(starts, found[:, 1], "left") - 1, found[:, 0])
        if odd:
            out[odd] = UNKNOWN
        return out


def _compile(hyperscan: Any, expressions: dict[int, bytes]) -> Any:
    hs = hyperscan
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=list(expressions.values()), ids=list(expressions),
               elements=len(expressions), flags=[hs.HS_FLAG_MULTILINE] * len(expressions))
    return db


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def make_classifier(regexes: list[str], *, pure: bool | None = None) -> Classifier:
    """Hyperscan where it is installed, unless ``pure`` (default: ``LOGLOOM_PURE_PYTHON``)."""
    if pure is None:
        pure = os.environ.get(PURE_ENV, "") not in ("", "0")
    if not pure and hyperscan_available():
        return HyperscanClassifier(regexes)
    return UnionClassifier(regexes)
