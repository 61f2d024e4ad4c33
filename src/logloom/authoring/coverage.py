"""``logloom coverage``: what a log exercises of the rules, and what it holds that they miss.

``Coverage`` reads blocks of a log with the parser monitor uses and steps every event
through a fresh engine (``trace``), keeping only counts: hits and a sample line per
pattern, and per (component, state before, event, outcome, state after) how often it
happened. ``report`` turns the counts into the answer once, at the end: patterns never
matched, events never produced, per transition how often it was taken, reached by a
jump, synthesised inside one, or blocked by its guard; transitions never taken, states
never visited, refused events, unknown targets; and the templates of the unmatched
lines (``templates``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from logloom.authoring.templates import UnmatchedLines
from logloom.authoring.trace import DATA_ONLY, GUARD_BLOCKED, INVALID, JUMP, TRANSITION, UNKNOWN_TARGET, trace
from logloom.config.load import Config
from logloom.engine.engine import Engine
from logloom.engine.machine import Machine, Transition
from logloom.parse.lines import log_blocks
from logloom.parse.log_parser import EventTable, ParsedBlock
from logloom.parse.parsers import block_parser
from logloom.parse.source import Block

SCHEMA_VERSION = 1
_Key = tuple[str | None, str | None, str, str, str | None]  # component, before, event, outcome, after / raw target


class Coverage:
    """Counts of one or more logs read in order through one fresh engine."""

    def __init__(self, config: Config, *, strict: bool = False) -> None:
        self.config = config
        self.engine = Engine(config, strict=strict)
        self.blocks = block_parser(config.patterns)
        self.table = EventTable()
        self.hits: dict[str, int] = {p.name: 0 for p in config.patterns.patterns}
        self.samples: dict[str, tuple[int, str]] = {}
        self.tally: dict[_Key, int] = {}
        rest = self.blocks.parser.rest
        self.unmatched = UnmatchedLines(lambda line: rest(line) or "")
        self.malformed: dict[str, list[Any]] = {}  # kind of reason -> [count, line, text, reason]
        self.lines = 0
        self.sources: list[str] = []

    def read(self, path: Path, progress: Any = None) -> None:
        """Every line of ``path``, a file or a stream (``-``); a last line without newline included."""
        self.sources.append(str(path))
        for block in log_blocks(path, self.config.patterns.max_line_bytes):
            self.feed(block)
            if progress is not None:
                progress.advance(block.end - block.start)

    def feed(self, block: Block) -> None:
        texts = block.texts()
        parsed = self.blocks.parse(block, texts)
        self.table.update(parsed)
        resolved = self.table.resolved(self.engine.resolve)
        self._count_patterns(parsed, texts)
        engine, tally = self.engine, self.tally
        for code, ts in zip(parsed.codes, parsed.times, strict=True):  # the event lines, in order
            comp, event, target, target_type, fields = resolved[code]
            t = trace(engine, ts, event, target, target_type, fields, comp)
            c = t.comp
            key = (c.id, t.before, event, t.outcome, c.state) if c is not None else \
                (None, None, event, t.outcome, target)
            tally[key] = tally.get(key, 0) + 1
        for i in sorted(parsed.rejects):
            self._malformed(i, parsed)
        if parsed.unmatched:  # the lines that are neither events nor rejects
            noise = np.ones(parsed.lines, dtype=bool)
            noise[np.frombuffer(parsed.index, dtype=np.int32)] = False
            noise[list(parsed.rejects)] = False
            unmatched = np.flatnonzero(noise).tolist()
            self.unmatched.add_many([self.lines + i + 1 for i in unmatched], [texts[i] for i in unmatched])
        self.lines += parsed.lines

    def _count_patterns(self, parsed: ParsedBlock, texts: list[str]) -> None:
        results = self.table.results
        for code, n in Counter(parsed.codes).items():
            name = results[code][4]
            self.hits[name] += n
            if name not in self.samples:
                i = parsed.index[parsed.codes.index(code)]
                self.samples[name] = (self.lines + i + 1, texts[i])

    def _malformed(self, i: int, parsed: ParsedBlock) -> None:
        reason, text = parsed.rejects[i]
        kind = reason.split(":", 1)[0].split(" (", 1)[0]
        entry = self.malformed.get(kind)
        if entry is None:
            self.malformed[kind] = [1, self.lines + i + 1, text, reason]
        else:
            entry[0] += 1

    # -- the answer ---------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Everything ``coverage`` shows, as plain data (``--json`` prints it as it is)."""
        patterns = self.config.patterns.patterns
        produced = Counter[str]()
        for p in patterns:
            produced[p.event] += self.hits[p.name]
        transitions = _TransitionStats(self.engine, self.config)
        refused: Counter[tuple[str, str, str]] = Counter()
        data_only: Counter[tuple[str, str]] = Counter()
        lost: Counter[tuple[str, str, str | None]] = Counter()
        reached: Counter[str] = Counter()
        for (cid, before, event, outcome, after), n in self.tally.items():
            if cid is None or before is None:
                lost[(outcome, event, after if outcome == UNKNOWN_TARGET else None)] += n
                continue
            reached[cid] += n
            machine = self.engine.by_id[cid].machine
            if outcome in (TRANSITION, JUMP, GUARD_BLOCKED):
                transitions.add(machine, before, event, outcome, after, n)
            elif outcome == INVALID:
                refused[(machine.name, before, event)] += n
            elif outcome == DATA_ONLY:
                data_only[(machine.name, event)] += n
        events = sum(self.hits.values())
        unmatched_total = self.unmatched.total
        templates = self.unmatched.mine()
        return {
            "schema_version": SCHEMA_VERSION,
            "sources": self.sources,
            "lines": self.lines,
            "events": events,
            "unmatched": unmatched_total,
            "malformed": sum(e[0] for e in self.malformed.values()),
            "patterns": [
                {"name": p.name, "event": p.event, "hits": self.hits[p.name],
                 "sample": _sample(self.samples.get(p.name))}
                for p in patterns
            ],
            "unused_patterns": [p.name for p in patterns if self.hits[p.name] == 0],
            "events_never_produced": _silent_events(self.config, produced),
            "transitions": transitions.rows(),
            "transitions_never_taken": [t for t in transitions.rows() if t["used"] == 0],
            "states_never_visited": transitions.unvisited(),
            "refused": [{"machine": m, "state": s, "event": e, "count": n} for (m, s, e), n in refused.most_common()],
            "data_only": [{"machine": m, "event": e, "count": n} for (m, e), n in data_only.most_common()],
            "lost_events": [{"outcome": o, "event": e, "target": t, "count": n} for (o, e, t), n in lost.most_common()],
            "components_without_events": [c.id for c in self.engine.components if not reached[c.id]],
            "malformed_lines": [{"reason": r, "count": n, "sample": _sample((line, text)), "first_reason": full}
                                for r, (n, line, text, full) in self.malformed.items()],
            "unmatched_templates": None if templates is None else [t.to_dict() for t in templates],
            "not_clustered": self.unmatched.not_clustered,
        }


def _sample(sample: tuple[int, str] | None) -> dict[str, Any] | None:
    return None if sample is None else {"line": sample[0], "text": sample[1]}


def _silent_events(config: Config, produced: Counter[str]) -> list[dict[str, str]]:
    """Every event the rules name that no line produced, with why."""
    named: dict[str, None] = {}
    for p in config.patterns.patterns:
        named[p.event] = None
    for spec in config.logic.machines.values():
        for t in spec.transitions:
            named[t.event] = None
        for state in spec.states:
            for m in spec.metrics_of(state):
                if m.type == "count" and m.event:
                    named[m.event] = None
    for name in config.logic.events:
        named[name] = None
    made = {p.event for p in config.patterns.patterns}
    return [{"event": e, "why": "its patterns never matched" if e in made else "no pattern produces it"}
            for e in named if not produced[e]]


class _TransitionStats:
    """Per transition of each machine (a `from` list counts per state): how it was used."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine = engine
        self.stats: dict[int, dict[str, Any]] = {}
        for name, machine in engine.machines.items():
            # Machine lists a transition once per state of its `from`, in config order
            config_index = [k for k, t in enumerate(config.logic.machines[name].transitions) for _ in t.sources]
            for k, t in zip(config_index, machine.transitions, strict=True):
                self.stats[id(t)] = {"machine": name, "index": k, "from": t.source, "event": t.event, "to": t.to,
                                     "taken": 0, "jumped_to": 0, "synthesised": 0, "guard_blocked": 0, "used": 0}

    def add(self, machine: Machine, before: str, event: str, outcome: str, after: str | None, n: int) -> None:
        options = machine.table[before].get(event, [])
        if outcome == TRANSITION:
            t = next((o for o in options if o.to == after), options[0])
            self._count(t, "taken", n)
        elif outcome == JUMP:
            path = machine.jump_path(before, event, self.engine.max_jump)
            if path is not None:
                for step in path[:-1]:
                    self._count(step, "synthesised", n)
                self._count(path[-1], "jumped_to", n)
        else:
            for t in options:
                self.stats[id(t)]["guard_blocked"] += n

    def _count(self, t: Transition, key: str, n: int) -> None:
        entry = self.stats[id(t)]
        entry[key] += n
        entry["used"] += n

    def rows(self) -> list[dict[str, Any]]:
        return list(self.stats.values())

    def unvisited(self) -> list[dict[str, str]]:
        """States no transition entered (a machine's initial state counts as visited)."""
        entered = {(r["machine"], r["to"]) for r in self.stats.values() if r["used"]}
        return [{"machine": name, "state": state}
                for name, machine in self.engine.machines.items() for state in machine.table
                if state != machine.initial and (name, state) not in entered]
