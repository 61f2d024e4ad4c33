"""Typed, frozen models of the four config files (SPEC 3). Unknown keys are errors.

These models only describe what a file may say; cross-file checks and the build
into runtime tables live in ``config.py``, ``log_parser.py`` and ``engine.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# Names end up in CSV cells and in `component.sensor` keys: no commas, quotes or dots.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]+$")]
# Free text that lands in a CSV cell (units): no separators.
CellText = Annotated[str, StringConstraints(pattern=r'^[^,"\r\n]*$')]
Scalar = bool | int | float | str
FieldType = Literal["int", "float", "str", "bool"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- machine_graph.yaml ----------------------------------------------------------------
class ComponentSpec(_Model):
    id: Name
    type: Name
    aliases: list[Annotated[str, StringConstraints(min_length=1)]] = []
    sensors: dict[Name, Scalar] = {}
    next: list[str] = []


class MachineGraph(_Model):
    line: str = "line"
    components: list[ComponentSpec] = Field(min_length=1)


# -- process_logic.yaml ----------------------------------------------------------------
class AnomalySpec(_Model):
    """Per-metric overrides of the learned limits (SPEC 6)."""

    k: float | None = Field(default=None, gt=0)
    lower: float | None = None
    upper: float | None = None
    min_samples: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> AnomalySpec:
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) is above upper ({self.upper})")
        return self


# microseconds per unit of a duration metric (its rows are written in that unit)
DURATION_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "min": 60_000_000, "h": 3_600_000_000}


class MetricSpec(_Model):
    name: Name
    type: Literal["duration", "value", "count"]
    unit: CellText | None = None
    field: str | None = None
    agg: Literal["last", "first", "min", "max", "mean"] | None = None
    event: Name | None = None
    anomaly: AnomalySpec | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> MetricSpec:
        if self.type == "value" and not self.field:
            raise ValueError("a value metric needs 'field' (the captured group to measure)")
        if self.type == "count" and not self.event:
            raise ValueError("a count metric needs 'event' (the event type to count)")
        if self.type != "value" and (self.field is not None or self.agg is not None):
            raise ValueError(f"'field' and 'agg' belong to value metrics, not {self.type}")
        if self.type != "count" and self.event is not None:
            raise ValueError(f"'event' belongs to count metrics, not {self.type}")
        if self.type == "duration" and self.unit is not None and self.unit not in DURATION_UNITS:
            raise ValueError(f"a duration's unit is one of {', '.join(DURATION_UNITS)}, not {self.unit!r}")
        return self

    @property
    def resolved_unit(self) -> str:
        if self.unit is not None:
            return self.unit
        return {"duration": "s", "count": "count"}.get(self.type, "")


class StateSpec(_Model):
    metrics: list[MetricSpec] = []
    fault: bool = False  # entering the state opens an incident at once (rule ``fault``)


StateRef = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9_\-]+)$")]


class TransitionSpec(_Model):
    from_: list[StateRef] | StateRef = Field(alias="from")
    event: Name
    to: Name
    requires: dict[str, Scalar] = {}

    @property
    def sources(self) -> list[str]:
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class MachineSpec(_Model):
    initial: Name
    states: dict[Name, StateSpec | None]
    transitions: list[TransitionSpec] = []

    @field_validator("states")
    @classmethod
    def _some_states(cls, v: dict[str, StateSpec | None]) -> dict[str, StateSpec | None]:
        if not v:
            raise ValueError("a machine needs at least one state")
        return v

    def metrics_of(self, state: str) -> list[MetricSpec]:
        spec = self.states.get(state)
        return spec.metrics if spec is not None else []


class EventSpec(_Model):
    infer: dict[str, Scalar] = {}


class EwmaSpec(_Model):
    lambda_: float | None = Field(default=None, alias="lambda", gt=0, le=1)
    L: float | None = Field(default=None, gt=0)


class CusumSpec(_Model):
    k: float | None = Field(default=None, ge=0)
    h: float | None = Field(default=None, gt=0)


class NelsonSpec(_Model):
    run: int | None = Field(default=None, ge=2)


class BurstSpec(_Model):
    count: int | None = Field(default=None, ge=1)
    window_s: float | None = Field(default=None, gt=0)
    kinds: list[Literal["invalid_transition", "guard_blocked"]] | None = None


class AnomalySettings(_Model):
    """``settings.anomaly``: which rules run and their parameters (docs/anomaly-detection.md).

    Every key is optional; the defaults live in ``scoring_model.AnomalyConfig``.
    """

    rules: list[Literal["limits", "ewma", "cusum", "nelson2", "stuck", "invalid_burst"]] | None = None
    k: float | None = Field(default=None, gt=0)
    min_samples: int | None = Field(default=None, ge=1)
    ewma: EwmaSpec | None = None
    cusum: CusumSpec | None = None
    nelson: NelsonSpec | None = None
    burst: BurstSpec | None = None


class IncidentSettings(_Model):
    """``settings.incidents``: how anomalies are grouped (docs/anomaly-detection.md).

    Every key is optional; the defaults live in ``detect.incidents.IncidentConfig``.
    """

    hold_s: float | None = Field(default=None, gt=0)
    drift_hold_s: float | None = Field(default=None, gt=0)
    knock_on: bool | None = None


class Settings(_Model):
    permissive: bool = True
    max_jump: int = Field(default=4, ge=0, le=64)
    anomaly: AnomalySettings = AnomalySettings()
    incidents: IncidentSettings = IncidentSettings()


class ProcessLogic(_Model):
    settings: Settings = Settings()
    machines: dict[Name, MachineSpec] = Field(min_length=1)
    events: dict[Name, EventSpec] = {}


# -- log_patterns.yaml -----------------------------------------------------------------
class TimestampSpec(_Model):
    regex: str | None = None  # a text log: searched from the start of the line, defines (?P<ts>...)
    field: str | None = None  # a JSON log: the key path of the timestamp
    format: str = "iso"
    timezone: str | None = None
    # formats without a year: that of the first line, or auto (the log's modification time decides)
    year: int | Literal["auto"] | None = None

    @field_validator("year", mode="before")
    @classmethod
    def _a_year(cls, v: object) -> object:
        if v is None or v == "auto" or (type(v) is int and 1 <= v <= 9998):
            return v
        raise ValueError("year is the first line's year, such as 2025, or auto")


class PatternSpec(_Model):
    name: str
    regex: str | None = None  # a text log's pattern
    # a JSON log's: key path -> a value it equals, a list of them, or {regex: ...} (config/patterns.py checks)
    match: dict[str, Any] | None = None
    event: Name
    target: str | None = None
    target_type: Name | None = None
    fields: dict[str, FieldType] = {}


class LogPatterns(_Model):
    format: Literal["text", "json"] = "text"  # json: one object a line (docs/configuration.md)
    timestamp: TimestampSpec
    patterns: list[PatternSpec] = Field(min_length=1)
    max_line_bytes: int = Field(default=1 << 20, ge=256)
    # CPU seconds one line may take to match before it is rejected (parse/budget.py)
    max_match_seconds: float = Field(default=0.5, gt=0, le=3600)


# -- viz_resources.yaml ----------------------------------------------------------------
Color = (
    Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
    | Annotated[list[Annotated[int, Field(ge=0, le=255)]], Field(min_length=3, max_length=4)]
)


class VizComponent(_Model):
    position: tuple[float, float, float]
    size: tuple[float, float, float] = (1.0, 1.0, 1.0)
    label: str | None = None


class VizState(_Model):
    color: Color


class VizResources(_Model):
    components: dict[str, VizComponent] = {}
    states: dict[str, VizState] = {}
    default_color: Color = "#9e9e9e"
