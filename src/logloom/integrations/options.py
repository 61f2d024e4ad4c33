"""The command-line options of the integrations, and the observers they ask for.

``cli`` applies ``integration_options`` to ``monitor`` and passes what they gave to
``make_observers``. The extras (prometheus-client, paho-mqtt) are imported only
when an option asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from logloom.config.load import Config
    from logloom.records import Observer

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
_OPTIONS = (
    click.option("--prometheus", metavar="[HOST:]PORT",
                 help="Serve the run's figures on http://HOST:PORT/metrics (host 127.0.0.1 unless named; "
                      "needs logloom[prometheus])."),
    click.option("--mqtt", "mqtt_url", metavar="mqtt://HOST[:PORT]/PREFIX",
                 help="Publish state changes and anomalies to PREFIX/<component>/state|anomaly|incident "
                      "(mqtts:// for TLS; needs logloom[mqtt])."),
    click.option("--mqtt-username", envvar="LOGLOOM_MQTT_USERNAME", metavar="USER",
                 help="Broker user [env LOGLOOM_MQTT_USERNAME]."),
    click.option("--mqtt-password", envvar="LOGLOOM_MQTT_PASSWORD", metavar="PASSWORD",
                 help="Broker password; prefer the environment variable LOGLOOM_MQTT_PASSWORD "
                      "(a command line is visible to every user of the machine)."),
    click.option("--mqtt-ca", type=_FILE, metavar="FILE",
                 help="CA certificates the broker's certificate must chain to [default: the system's]."),
    click.option("--mqtt-cert", type=_FILE, metavar="FILE", help="Client certificate (PEM), with --mqtt-key."),
    click.option("--mqtt-key", type=_FILE, metavar="FILE", help="The client certificate's private key (PEM)."),
    click.option("--mqtt-buffer", type=click.IntRange(min=1), default=10_000, show_default=True, metavar="N",
                 help="Messages kept while the broker is away or slower than the log; the oldest are dropped."),
    click.option("--mqtt-rate", type=click.FloatRange(min=1), default=500.0, show_default=True, metavar="N",
                 help="Most messages published a second (bounds the CPU publishing takes)."),
)
F = Callable[..., Any]


def integration_options(fn: F) -> F:
    """The options above, in order, on a click command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def make_observers(config: Config, data_dir: Path, given: dict[str, Any], notify: Callable[[str], None],
                   warn: Callable[[str], None], always: Callable[[str], None]) -> list[Observer]:
    """The observers the options in ``given`` ask for (none: an empty list)."""
    observers: list[Observer] = []
    status = None
    if given.get("mqtt_url") is not None:
        from logloom.integrations.mqtt import MqttSettings, start_mqtt

        settings = MqttSettings(given["mqtt_url"], given["mqtt_username"], given["mqtt_password"], given["mqtt_ca"],
                                given["mqtt_cert"], given["mqtt_key"], given["mqtt_buffer"], given["mqtt_rate"])
        publisher = start_mqtt(config, settings, notify, warn)
        observers.append(publisher)
        status = publisher.status
    if given.get("prometheus") is not None:
        from logloom.detect.baseline import load_active
        from logloom.integrations.prometheus import start_prometheus

        exporter = start_prometheus(config, load_active(data_dir), given["prometheus"], warn, always)
        if status is not None:
            exporter.extra_status.append(status)
        observers.append(exporter)
    return observers
