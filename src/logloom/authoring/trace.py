"""One event stepped through the engine, with what it did (for tests and coverage).

``trace`` is ``Engine.step_parts`` that also tells which component the event
reached, that component's state before it, and the outcome: the same rows, the same
counters, the same state afterwards.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from logloom.engine.engine import Engine
from logloom.engine.inventory import Component
from logloom.records import MetricRow

# What the engine did with an event (SPEC 4 steps 2, 5 and 6).
TRANSITION = "transition"
JUMP = "jump"
GUARD_BLOCKED = "guard_blocked"
INVALID = "invalid_transition"
DATA_ONLY = "data_only"
UNKNOWN_TARGET = "unknown_target"
UNROUTED = "unrouted"
# What became of a line that made no event.
UNMATCHED = "unmatched"
MALFORMED = "malformed"
OUTCOMES = (TRANSITION, JUMP, GUARD_BLOCKED, INVALID, DATA_ONLY, UNKNOWN_TARGET, UNROUTED, UNMATCHED, MALFORMED)


class Traced(NamedTuple):
    comp: Component | None  # None: unknown target or unrouted
    before: str | None  # the component's state before the event
    outcome: str
    rows: list[MetricRow]


def trace(engine: Engine, ts: int, event: str, target: str | None, target_type: str | None,
          fields: dict[str, Any], comp: Component | None = None) -> Traced:
    """Step one event; ``comp`` when its component is already resolved."""
    if comp is None:
        comp = engine.component_for(event, target, target_type)
        if comp is None:
            return Traced(None, None, UNROUTED if target is None else UNKNOWN_TARGET, [])
    before = comp.state
    moved, blocked = comp.transitions, comp.guard_blocked
    rows = engine.step_resolved(ts, comp, event, fields)
    steps = comp.transitions - moved
    if steps:
        outcome = TRANSITION if steps == 1 else JUMP  # a jump has at least one synthesised step
    elif comp.guard_blocked != blocked:
        outcome = GUARD_BLOCKED
    elif event in comp.machine.uses:
        outcome = INVALID
    else:
        outcome = DATA_ONLY
    return Traced(comp, before, outcome, rows)
