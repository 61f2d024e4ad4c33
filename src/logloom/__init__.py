"""logloom: industrial machine logs -> state-machine metrics, baselines and anomalies.

The folder tree is the pipeline (docs/architecture.md): ``config`` (the four YAML
files, checked), ``parse`` (line -> Event), ``engine`` (Event -> MetricRow on the
``inventory``'s components), ``detect`` (rows -> anomalies), ``outputs`` (files),
with ``viz`` and ``report`` reading what a run produced. ``main`` wires a run's
lifecycle and ``cli`` turns arguments into a call.
"""

from logloom.config.load import Config, load_config
from logloom.engine.engine import Engine
from logloom.errors import ConfigError, InputError, LogloomError, StateFileError
from logloom.parse.log_parser import LineParser
from logloom.records import Anomaly, Event, MetricRow, Observer, StateChange

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
