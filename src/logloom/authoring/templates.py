"""Templates of the lines that no pattern matches, mined with drain3.

Lines are collected cheaply while coverage reads the log; the miner runs once at the
end, on far fewer texts than lines:

1. the text after the timestamp is masked: numbers, hex ids and IPv4 addresses become
   ``<NUM>``, ``<HEX>``, ``<IP>`` (a heartbeat's sequence number, a temperature);
2. identical masked texts are counted once (``seq=1`` and ``seq=2`` are one text);
3. the first ``MAX_TEXTS`` distinct masked texts are kept, with the first line of each
   as its sample; a later line whose masked text is not among them is counted as
   *not clustered* (a log of free text stays bounded in memory and time);
4. drain3 clusters the kept texts in the order they first appeared, each weighted by
   its count; each cluster's template becomes a suggested regex with a named group
   per variable part.

drain3 (and the jsonpickle and cachetools it pulls in) is imported in ``mine`` only. It is
an extra (``logloom[templates]``): drain3 pins exact, old versions of both, which must not
decide what else a user's environment may hold. Without it coverage says how to add it
and reports everything else.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MAX_TEXTS = 10_000  # distinct masked texts kept for mining
SAMPLES_CHECKED = 50  # a template's regex is checked against the first samples of this many of its texts

# (name, what it masks, the regex a suggestion uses for it), applied in this order: an
# IP before its numbers, a hex id before its digits; a placeholder has no digit left to mask
_MASKS = (
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])", r"\d{1,3}(?:\.\d{1,3}){3}"),
    ("HEX", r"\b0x[0-9A-Fa-f]+\b|\b(?=[0-9A-Fa-f]*\d)(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{8,}\b",
     r"(?:0x)?[0-9A-Fa-f]+"),
    ("NUM", r"(?:(?<![\w)\]])[-+])?\d+(?:[.,]\d+)?", r"[-+]?\d+(?:[.,]\d+)?"),
)
# lines that differ only in their digits are one text to mask (``str.translate`` runs in C,
# twenty times faster than a regex substitution)
_DIGITS_TO_0 = str.maketrans("123456789", "000000000")
_CACHE_LIMIT = 1 << 16
_SUBS = tuple((re.compile(regex).sub, f"<{name}>") for name, regex, _ in _MASKS)
_GROUP_REGEX = {f"<{name}>": regex for name, _, regex in _MASKS}
_PLACEHOLDER = re.compile(r"<(?:IP|HEX|NUM)>")
_PARAM = "<*>"  # drain3's wildcard
WITHOUT_DRAIN3 = "templates of unmatched lines need drain3: pip install 'logloom[templates]'"


def mask(text: str) -> str:
    """``text`` with its numbers, hex ids and IPv4 addresses replaced by placeholders."""
    for sub, placeholder in _SUBS:
        text = sub(placeholder, text)
    return text


@dataclass
class Template:
    """A group of unmatched lines: how many, the template, a sample and a regex to start from."""

    count: int
    template: str
    sample_line: int
    sample: str  # the whole line
    regex: str

    def to_dict(self) -> dict[str, object]:
        return {"count": self.count, "template": self.template, "regex": self.regex,
                "sample": {"line": self.sample_line, "text": self.sample}}


class UnmatchedLines:
    """Counts the unmatched lines by masked text, bounded by ``MAX_TEXTS``."""

    def __init__(self, rest_of: Callable[[str], str], max_texts: int = MAX_TEXTS) -> None:
        self.rest_of = rest_of  # a whole line -> its text after the timestamp
        self.max_texts = max_texts
        self.counts: dict[str, int] = {}
        self.samples: dict[str, tuple[int, str, str]] = {}  # masked -> (line number, line, rest)
        self.not_clustered = 0
        self.total = 0
        self._masked: dict[str, str] = {}  # a line with every digit as 0 -> its masked rest

    def add_many(self, line_nos: list[int], lines: list[str]) -> None:
        """Unmatched lines in log order: their numbers and whole texts.

        Lines that differ only in their digits (``seq=1``, ``seq=2``, the timestamps) are
        masked once: the first of them stands for all, its rest masked and kept as the
        sample. The texts new to this block are masked together, in one call.
        """
        if not lines:
            return
        self.total += len(lines)
        keys = "\n".join(lines).translate(_DIGITS_TO_0).split("\n")
        seen = Counter(keys)
        cache = self._masked
        new = [key for key in seen if key not in cache]
        if new:
            if len(cache) + len(new) > _CACHE_LIMIT:
                cache.clear()
                new = list(seen)
            first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))  # the earliest wins
            rests = [self.rest_of(lines[first[key]]) for key in new]
            for key, rest, masked in zip(new, rests, mask("\n".join(rests)).split("\n"), strict=True):
                cache[key] = masked
                if masked not in self.counts and len(self.counts) < self.max_texts:
                    i = first[key]
                    self.counts[masked] = 0
                    self.samples[masked] = (line_nos[i], lines[i], rest)
        counts = self.counts
        for key, n in seen.items():
            masked = cache[key]
            count = counts.get(masked)
            if count is not None:
                counts[masked] = count + n
            else:
                self.not_clustered += n

    def mine(self) -> list[Template] | None:
        """The templates, most frequent first (drain3 runs here); None without drain3."""
        if not self.counts:
            return []
        try:
            from drain3 import TemplateMiner
            from drain3.template_miner_config import TemplateMinerConfig
        except ImportError:
            return None
        settings = TemplateMinerConfig()  # without it, TemplateMiner reads drain3.ini from the working directory
        settings.profiling_enabled = False
        miner = TemplateMiner(config=settings)
        weight: dict[int, int] = {}
        samples: dict[int, list[tuple[int, str, str]]] = {}
        for masked, count in self.counts.items():  # in the order each text first appeared
            cluster_id = miner.add_log_message(masked)["cluster_id"]
            weight[cluster_id] = weight.get(cluster_id, 0) + count
            kept = samples.setdefault(cluster_id, [])
            if len(kept) < SAMPLES_CHECKED:
                kept.append(self.samples[masked])
        templates = []
        for cluster in miner.drain.clusters:
            kept = samples[cluster.cluster_id]
            line_no, line, _ = kept[0]
            tokens = list(cluster.log_template_tokens)
            regex = suggest_regex(tokens, [rest for _, _, rest in kept])
            templates.append(Template(weight[cluster.cluster_id], " ".join(tokens), line_no, line, regex))
        templates.sort(key=lambda t: (-t.count, t.sample_line))
        return templates


# -- regexes from templates ----------------------------------------------------------------
_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")
_COMPACT_NUM = r"-?\d+(?:\.\d+)?"


def _escape(text: str) -> str:
    """``re.escape`` for reading: only what is special outside a character class."""
    return _SPECIAL.sub(r"\\\1", text)


def suggest_regex(tokens: list[str], samples: list[str]) -> str:
    """A regex for a template's tokens, a named group per variable part, that matches
    every one of ``samples`` (texts after the timestamp) if it can.

    Groups are named after the word they follow (``seq=<NUM>`` -> ``seq``, ``HMI-<NUM>`` ->
    ``hmi``, ``temperature <NUM>`` -> ``temperature``), else ``value``. The simplest of
    these that fits is chosen: numbers as ``-?\\d+(?:\\.\\d+)?`` and tokens joined by a
    space; then numbers with a sign or a decimal comma; then tokens joined by ``\\s+``.
    """
    compact = _regex_parts(tokens, compact=True)
    general = _regex_parts(tokens, compact=False)
    candidates = [" ".join(compact), " ".join(general), r"\s+".join(general)]
    for regex in candidates:
        compiled = re.compile(regex)
        if all(compiled.search(text) for text in samples):
            return regex
    return candidates[-1]


def _regex_parts(tokens: list[str], *, compact: bool) -> list[str]:
    names: dict[str, int] = {}
    parts = []
    previous = ""
    for token in tokens:
        if token == _PARAM:
            parts.append(f"(?P<{_name(previous, names)}>\\S+)")
            previous = ""
            continue
        pieces = []
        pos = 0
        for m in _PLACEHOLDER.finditer(token):
            literal = token[pos : m.start()]
            pieces.append(_escape(literal))
            base = literal if re.search(r"[A-Za-z]", literal) else previous
            group = _COMPACT_NUM if compact and m.group() == "<NUM>" else _GROUP_REGEX[m.group()]
            pieces.append(f"(?P<{_name(base, names)}>{group})")
            pos = m.end()
        pieces.append(_escape(token[pos:]))
        parts.append("".join(pieces))
        words = re.findall(r"[A-Za-z]\w*", _PLACEHOLDER.sub(" ", token))
        previous = words[-1] if words else previous
    return parts


def _name(word: str, used: dict[str, int]) -> str:
    """A group name from ``word``: lower case, only ``[a-z0-9_]``, unique in the regex."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*", word)
    base = words[-1].lower() if words else "value"
    n = used.get(base, 0) + 1
    used[base] = n
    return base if n == 1 else f"{base}_{n}"
