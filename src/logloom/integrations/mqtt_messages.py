"""What the MQTT publisher sends: topics and small JSON messages (docs/integrations.md).

``Messages.encode`` turns a buffered record (a state change, an anomaly, an incident
change) with its sequence number into (topic, payload, retained); ``resync`` makes
the retained current state of every component. Log times are written as in the
metrics CSV (ISO 8601, with the offset when the log's times are instants); a number
that is not finite is ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from logloom.config.load import Config
from logloom.logtime.timestamps import TimeFormatter, TimestampParser
from logloom.records import Anomaly, Incident, StateChange

Message = tuple[str, str, bool]  # topic, JSON payload, retained


class IncidentChange(NamedTuple):
    change: str  # opened | updated | closed
    incident: Incident  # its state after the change


def topic_part(component_id: str) -> str:
    """A component id as one topic level (``/``, ``+`` and ``#`` become ``_``)."""
    return component_id.replace("/", "_").replace("+", "_").replace("#", "_")


class Messages:
    """Topics under ``prefix`` and the JSON of each kind of record."""

    def __init__(self, config: Config, prefix: str) -> None:
        stamps = TimestampParser(config.patterns.timestamp.format, config.patterns.timestamp.timezone)
        self.fmt = TimeFormatter("iso", tz=stamps.tz, instants=stamps.has_instants)
        self.prefix = prefix
        self._topics = {c.id: f"{prefix}/{topic_part(c.id)}" for c in config.graph.components}

    def topic(self, component_id: str) -> str:
        return self._topics.get(component_id) or f"{self.prefix}/{topic_part(component_id)}"

    def encode(self, seq: int, rec: Any) -> Message:
        fmt = self.fmt
        if type(rec) is StateChange:
            ts, cid, before, after, event, inferred = rec
            body: dict[str, Any] = {"seq": seq, "ts": fmt(ts), "component": cid, "state": after, "from": before,
                                    "event": event, "inferred": inferred}
            return f"{self.topic(cid)}/state", _json(body), True
        if type(rec) is Anomaly:
            body = {"seq": seq, "ts": fmt(rec.ts), "component": rec.component_id, "metric": rec.metric_name,
                    "value": rec.value, "unit": rec.unit, "state": rec.state_context, "expected": rec.expected,
                    "lower": rec.lower, "upper": rec.upper, "score": rec.score, "rule": rec.rule}
            return f"{self.topic(rec.component_id)}/anomaly", _json(body), False
        change, inc = rec
        peak = inc.peak
        body = {"seq": seq, "change": change, "id": inc.id, "opened": fmt(inc.opened),
                "closed": None if inc.closed is None else fmt(inc.closed), "last": fmt(inc.last),
                "component": inc.component_id, "kind": inc.kind, "state": inc.state, "metrics": list(inc.metrics),
                "rules": list(inc.rules), "anomalies": inc.anomalies, "effects": list(inc.effects),
                "effect_anomalies": inc.effect_anomalies, "cause": inc.cause,
                "peak": _finite({"metric": peak.metric_name, "value": peak.value, "unit": peak.unit,
                                 "expected": peak.expected, "score": peak.score, "rule": peak.rule})}
        return f"{self.topic(inc.component_id)}/incident", _json(body), False

    def resync(self, current: Mapping[str, tuple[str, int | None]]) -> list[Message]:
        """Every component's current state, retained, marked ``resync`` (no ``seq``)."""
        return [(f"{self.topic(cid)}/state",
                 _json({"ts": None if entered is None else self.fmt(entered), "component": cid, "state": state,
                        "resync": True}), True)
                for cid, (state, entered) in current.items()]


def _finite(body: dict[str, Any]) -> dict[str, Any]:
    """A NaN or infinite number becomes null (JSON has none)."""
    for k, v in body.items():
        if isinstance(v, float) and not math.isfinite(v):
            body[k] = None
    return body


def _json(body: dict[str, Any]) -> str:
    """Compact JSON of ``body`` with its non-finite numbers as null."""
    return json.dumps(_finite(body), separators=(",", ":"), allow_nan=False)
