"""``logloom simulate``: a discrete-event simulation of the bundled example line.

The package is a small pipeline of its own: ``options`` (what to do) -> ``model``
(the line, from the configs) -> ``plan`` (which visits to disturb) -> ``schedule``
(timed events per pallet) -> ``run`` (merge, emission options, writing) with
``truth`` (the true metric rows) and ``texts`` (every string of the log) beside it.
``command`` turns CLI arguments into one ``simulate`` call.
"""

from logloom.simulator.command import simulate_command
from logloom.simulator.options import Injection, SimError, SimOptions, parse_anomalies
from logloom.simulator.run import SimSummary, side_paths, simulate

__all__ = [
    "Injection",
    "SimError",
    "SimOptions",
    "SimSummary",
    "parse_anomalies",
    "side_paths",
    "simulate",
    "simulate_command",
]
