"""The parser a log_patterns.yaml asks for: text lines (log_parser.py) or JSON lines
(json_lines.py), with one interface, so callers never choose."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logloom.parse.log_parser import BlockParser, LineParser

if TYPE_CHECKING:
    from logloom.config.schema import LogPatterns
    from logloom.parse.json_lines import JsonBlockParser, JsonLineParser
    from logloom.parse.rules import ParseRules


def line_parser(spec: LogPatterns | ParseRules) -> LineParser | JsonLineParser:
    """One line at a time (``parse --line``, rule tests)."""
    if spec.format == "json":
        from logloom.parse.json_lines import JsonLineParser  # only for JSON logs (the parse worker's start-up)

        return JsonLineParser(spec)
    return LineParser(spec)


def block_parser(spec: LogPatterns | ParseRules, last_ts: int | None = None) -> BlockParser | JsonBlockParser:
    """A block at a time (the pipeline), the timestamp's memory restored from ``last_ts``."""
    if spec.format == "json":
        from logloom.parse.json_lines import JsonBlockParser

        return JsonBlockParser(spec, last_ts)
    return BlockParser(spec, last_ts)
