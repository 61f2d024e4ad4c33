"""What of log_patterns.yaml the parse stage reads, as plain frozen data.

The config's ``LogPatterns`` is a pydantic model; the parse worker is a process of
its own that imports no pydantic (nor anything else it does not use), so it is
handed this copy instead. The parsers (text or JSON lines) take either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns


@dataclass(frozen=True)
class TimestampRule:
    regex: str | None
    field: str | None
    format: str
    timezone: str | None
    year: int | str | None


@dataclass(frozen=True)
class PatternRule:
    name: str
    regex: str | None
    match: dict[str, Any] | None
    event: str
    target: str | None
    target_type: str | None
    fields: dict[str, str]


@dataclass(frozen=True)
class ParseRules:
    format: str
    timestamp: TimestampRule
    patterns: tuple[PatternRule, ...]
    max_line_bytes: int
    max_match_seconds: float

    @classmethod
    def of(cls, spec: LogPatterns | ParseRules, max_line_bytes: int | None = None) -> ParseRules:
        """``spec`` as plain data (``max_line_bytes``: instead of the spec's)."""
        if isinstance(spec, ParseRules):
            return spec if max_line_bytes is None else replace(spec, max_line_bytes=max_line_bytes)
        ts = spec.timestamp
        return cls(spec.format, TimestampRule(ts.regex, ts.field, ts.format, ts.timezone, ts.year),
                   tuple(PatternRule(p.name, p.regex, p.match, p.event, p.target, p.target_type, dict(p.fields))
                         for p in spec.patterns),
                   spec.max_line_bytes if max_line_bytes is None else max_line_bytes, spec.max_match_seconds)
