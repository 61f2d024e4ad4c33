"""logloom: industrial machine logs -> state-machine metrics, baselines and anomalies.

The pipeline, stage by stage: ``log_parser`` (line -> Event), ``engine`` (Event ->
MetricRow, on ``inventory`` components), ``sinks`` (rows -> CSV), orchestrated by
``main``. ``config`` loads and validates the YAML files.
"""

from .config import Config, load_config
from .engine import Engine
from .errors import ConfigError, InputError, LogloomError, StateFileError
from .log_parser import LineParser
from .records import Anomaly, Event, MetricRow, Observer, StateChange

__version__ = "0.1.0"

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
