"""logloom: industrial machine logs -> state-machine metrics, baselines and anomalies.

The folder tree is the pipeline (docs/architecture.md): ``config`` (the four YAML
files, checked), ``parse`` (line -> Event), ``engine`` (Event -> MetricRow on the
``inventory``'s components), ``detect`` (rows -> anomalies), ``outputs`` (files),
with ``viz`` and ``report`` reading what a run produced. ``main`` wires a run's
lifecycle and ``cli`` turns arguments into a call.

The names below are imported when first used: ``import logloom`` (which every
``logloom.*`` import runs first, the parse worker's included) loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logloom.config.load import Config, load_config
    from logloom.engine.engine import Engine
    from logloom.errors import ConfigError, InputError, LogloomError, StateFileError
    from logloom.parse.log_parser import LineParser
    from logloom.records import Anomaly, Event, MetricRow, Observer, StateChange

__version__ = "0.1.0"

_WHERE = {
    "Anomaly": "logloom.records",
    "Config": "logloom.config.load",
    "ConfigError": "logloom.errors",
    "Engine": "logloom.engine.engine",
    "Event": "logloom.records",
    "InputError": "logloom.errors",
    "LineParser": "logloom.parse.log_parser",
    "LogloomError": "logloom.errors",
    "MetricRow": "logloom.records",
    "Observer": "logloom.records",
    "StateChange": "logloom.records",
    "StateFileError": "logloom.errors",
    "load_config": "logloom.config.load",
}

__all__ = [
    "Anomaly",
    "Config",
    "ConfigError",
    "Engine",
    "Event",
    "InputError",
    "LineParser",
    "LogloomError",
    "MetricRow",
    "Observer",
    "StateChange",
    "StateFileError",
    "__version__",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'logloom' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
