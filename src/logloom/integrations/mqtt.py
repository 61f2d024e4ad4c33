"""``--mqtt mqtt://HOST[:PORT]/PREFIX``: state changes, anomalies and incidents to a broker.

Topics (docs/integrations.md): ``PREFIX/<component>/state`` (retained: the newest
is the component's current state), ``.../anomaly`` and ``.../incident``; small
JSON messages, QoS 1, in log order on each topic.

The processing thread only appends: a state change or anomaly to a list (the hook
is ``list.append`` itself), and once per block that list to a bounded buffer
(``MessageBuffer``, oldest dropped and counted when full). A publisher thread
encodes and hands messages to paho-mqtt, whose network thread talks to the broker:

- publishing spends at most 1 % of the CPU the processing thread spends, plus 2 % of
  one core while it waits for lines (``CpuBudget``), and at most ``rate`` messages a
  second: a backlog larger than the buffer is dropped, never waited for;
- at most ``WINDOW`` messages unacknowledged; paho resends them after a reconnect;
- nothing while disconnected: the buffer waits, paho reconnects (1 s, doubling to
  10 s); after a (re)connection or a drop, once the buffer is empty, every
  component's current state is published again, retained (``"resync": true``);
- ``close`` keeps the newest ``CLOSE_KEEP`` messages (so the resync can follow them)
  and publishes them without those limits (the processing is over), waiting at most
  ``CLOSE_WAIT_S`` and only while connected; what is undelivered then is counted as
  dropped.

``import logloom`` never imports paho: only ``start_mqtt`` does, raising
``ExtraMissingError`` with the install command when it is missing.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from logloom.config.load import Config
from logloom.errors import InputError
from logloom.integrations.common import ExtraMissingError
from logloom.integrations.mqtt_buffer import CpuBudget, MessageBuffer
from logloom.integrations.mqtt_messages import IncidentChange, Messages
from logloom.records import Anomaly, Incident, Observer, Progress, StateChange

OPTION = "--mqtt"
DEFAULT_BUFFER = 10_000
DEFAULT_RATE = 500.0  # messages a second
WINDOW = 100  # handed to paho and not yet acknowledged by the broker
BATCH = 10  # messages published at one wake-up of the publisher, at least (unless fewer wait)
CLOSE_WAIT_S = 2.0
CLOSE_KEEP = 500  # a batch run's backlog at its end: the newest, then every current state
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 10
CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class MqttSettings:
    """What the command line gave: where, who, and the buffer's limits."""

    url: str
    username: str | None = None
    password: str | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    buffer: int = DEFAULT_BUFFER
    rate: float = DEFAULT_RATE


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    prefix: str
    tls: bool


def parse_url(url: str) -> MqttTarget:
    """``mqtt://HOST[:PORT]/PREFIX`` (port 1883) or ``mqtts://`` (TLS, port 8883)."""

    def bad(why: str) -> InputError:
        return InputError(f"{OPTION} {url}: {why} (expected mqtt://HOST[:PORT]/PREFIX or mqtts://...)")

    if "#" in url or "+" in url:
        raise bad("the prefix may not contain the wildcards + or #")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts"):
        raise bad("the scheme must be mqtt or mqtts")
    if parts.username is not None or parts.password is not None:
        raise bad("give the user with --mqtt-username and the password in LOGLOOM_MQTT_PASSWORD, not in the URL")
    if parts.query:
        raise bad("no query")
    try:
        port = parts.port
    except ValueError:
        raise bad("the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise bad("no host")
    prefix = parts.path.strip("/")
    if not prefix:
        raise bad("no topic prefix")
    tls = parts.scheme == "mqtts"
    return MqttTarget(parts.hostname, port or (8883 if tls else 1883), prefix, tls)


def start_mqtt(config: Config, settings: MqttSettings, say: Callable[[str], None],
               warn: Callable[[str], None]) -> MqttPublisher:
    """Check the settings, start connecting in the background, return the observer."""
    try:
        import paho.mqtt.client as paho
    except ImportError as exc:
        raise ExtraMissingError(OPTION, "paho-mqtt", "mqtt") from exc
    target = parse_url(settings.url)
    if settings.password is not None and settings.username is None:
        raise InputError(f"{OPTION}: a password needs --mqtt-username")
    if (settings.ca or settings.cert) and not target.tls:
        raise InputError(f"{OPTION} {settings.url}: --mqtt-ca and --mqtt-cert are for TLS; use mqtts://")
    if (settings.cert is None) != (settings.key is None):
        raise InputError(f"{OPTION}: --mqtt-cert and --mqtt-key go together")
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"logloom-{uuid.uuid4().hex[:12]}",
                         protocol=paho.MQTTv311)
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if target.tls:
        try:
            client.tls_set(ca_certs=str(settings.ca) if settings.ca else None,
                           certfile=str(settings.cert) if settings.cert else None,
                           keyfile=str(settings.key) if settings.key else None)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise InputError(f"{OPTION}: cannot use the TLS files given ({exc})") from exc
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)  # the window below bounds paho's queue
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.connect_timeout = CONNECT_TIMEOUT_S
    publisher = MqttPublisher(config, target, client, settings.buffer, settings.rate, say, warn)
    publisher.start()
    return publisher


class MqttPublisher(Observer):
    """The observer, its bounded buffer and the thread that publishes from it."""

    def __init__(self, config: Config, target: MqttTarget, client: Any, buffer: int, rate: float,
                 say: Callable[[str], None], warn: Callable[[str], None]) -> None:
        self.target = target
        self.where = f"{target.host}:{target.port}"
        self.client = client
        self.rate = rate
        self._say, self._warn = say, warn
        self._records: list[Any] = []
        self.on_state_change = self._records.append  # type: ignore[assignment]  # the cheapest hook
        self._buffer = MessageBuffer(buffer)
        self._budget = CpuBudget()
        self._cond = threading.Condition()
        self._current: dict[str, tuple[str, int | None]] = {}  # component -> (state, entered)
        self._connected = self._ever_connected = False
        self._first_pending = True  # the first connection's outcome is not known yet (close waits for it)
        self._resync = False
        self._closing = False
        self._deadline = math.inf
        self.published = 0  # acknowledged by the broker
        self._outstanding = 0  # handed to paho, not yet acknowledged
        self._said: set[str] = set()
        self._changes = 0  # the components' transitions at the last block
        self._messages = Messages(config, target.prefix)
        self._thread = threading.Thread(target=self._run, name="logloom-mqtt", daemon=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish

    def start(self) -> None:
        self._thread.start()

    # -- hooks (the processing thread) --------------------------------------------------------
    def on_state_change(self, change: StateChange) -> None:  # replaced by list.append in __init__
        self._records.append(change)

    def on_anomaly(self, anomaly: Anomaly) -> None:
        self._records.append(anomaly)

    def on_incident(self, change: str, incident: Incident, anomaly: Anomaly | None) -> None:
        """An incident was opened, updated (by ``anomaly``) or closed: one message on its component."""
        self._records.append(IncidentChange(change, incident))

    def on_block(self, progress: Progress) -> None:
        """Hand the block's records over; stop or start taking state changes.

        While the processing thread is busy (a batch run, a catch-up) and the buffer
        overflows, a state change would be made only to be dropped: the engine then
        makes none for this observer (``wants_changes``), and each one it takes is
        counted as dropped, its sequence number skipped. Once the thread follows the
        log again, changes are taken again and every component's current state is
        published (``resync``).
        """
        self._budget.note_main()
        changes = sum(c.counters.get("transitions", 0) for c in progress.components)
        skipped = 0 if self.wants_changes else changes - self._changes
        self._changes = changes
        dropped = self._hand_off({c.id: (c.state, c.entered) for c in progress.components}, skipped)
        busy = self._budget.busy
        if self.wants_changes and dropped and busy:
            self.wants_changes = False
        elif not self.wants_changes and not busy:
            self.wants_changes = True

    def _hand_off(self, current: dict[str, tuple[str, int | None]] | None, skipped: int = 0) -> int:
        """The records since the last hand-off into the buffer, with the states they led to;
        returns how many were dropped (``skipped``: state changes the engine did not make)."""
        batch = self._records.copy()
        self._records.clear()
        with self._cond:
            if current is not None:
                self._current = current
            if skipped:
                self._buffer.skip(skipped)
            dropped = self._buffer.put(batch) + skipped
            if dropped:
                self._resync = True  # some component's newest state may be among the dropped
            self._cond.notify()
        return dropped

    # -- the publisher thread -------------------------------------------------------------------
    def _run(self) -> None:
        if not self._first_connect():
            return
        self.client.loop_start()
        tokens, last = 1.0, time.monotonic()
        burst = max(1.0, self.rate / 10)
        while True:
            with self._cond:
                now = time.monotonic()
                tokens = min(burst, tokens + (now - last) * self.rate)
                last = now
                if self._closing and (now >= self._deadline or not (self._connected or self._first_pending)
                                      or (not self._buffer and not self._resync and not self._outstanding)):
                    return
                if self._closing:  # the processing is over: nothing left to slow down
                    tokens = burst
                wait = self._wait_for(tokens, burst) or (
                    0.0 if self._closing or self._budget.credit() > 0 else self._budget.wait_s())
                if wait:
                    self._cond.wait(wait)
                    continue
                items = self._buffer.take(int(min(tokens, WINDOW - self._outstanding, 5 * BATCH)))
                resync = self._messages.resync(self._current) if not items and self._resync else []
                self._resync = self._resync and not resync
                tokens -= len(items) + len(resync)
                self._outstanding += len(items) + len(resync)
            for topic, payload, retain in [self._messages.encode(seq, rec) for seq, rec in items] + resync:
                self.client.publish(topic, payload, qos=1, retain=retain)

    def _wait_for(self, tokens: float, burst: float) -> float:
        """Seconds to wait before publishing again (0: go on); called with the lock held."""
        if not self._connected or self._outstanding >= WINDOW:
            return 0.1
        if not self._buffer and not self._resync:
            return 0.1 if self._closing else 0.5
        need = min(burst, BATCH)  # wake up for a batch, not a message: each wake takes the GIL from the loop
        if tokens < need and not self._closing:
            return (need - tokens) / self.rate
        return 0.0

    def _first_connect(self) -> bool:
        """Connect here (so a failure can be said with its reason); paho reconnects after that."""
        delay = float(RECONNECT_MIN_S)
        while True:
            try:
                self.client.connect(self.target.host, self.target.port, keepalive=30)
                return True  # the broker's answer (CONNACK) comes to _on_connect
            except (OSError, ValueError) as exc:
                self._say_once("unreachable", f"mqtt: cannot connect to {self.where} ({exc}); retrying, "
                               f"messages wait in a buffer of {self._buffer.capacity}")
            with self._cond:
                self._first_pending = False
                self._cond.wait_for(lambda: self._closing, timeout=delay)
                if self._closing:
                    return False
                self._first_pending = True
            delay = min(delay * 2, RECONNECT_MAX_S)

    # -- paho's network thread -----------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            with self._cond:
                self._first_pending = False
                self._cond.notify()
            self._say_once(f"refused {reason}", f"mqtt: {self.where} refused the connection: {reason}")
            return
        with self._cond:
            first, self._ever_connected = not self._ever_connected, True
            self._connected = self._resync = True
            self._first_pending = False
            self._said.difference_update({"lost", "unreachable"})
            self._cond.notify()
        self._say(f"mqtt: connected to {self.where}, publishing under {self.target.prefix}/" if first
                  else f"mqtt: reconnected to {self.where}")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._say_once("unreachable", f"mqtt: cannot connect to {self.where}; retrying")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            was, self._connected = self._connected, False
            self._first_pending = False
            closing = self._closing
            self._cond.notify()
        if was and not closing:
            self._say_once("lost", f"mqtt: connection to {self.where} lost ({reason}); reconnecting, messages "
                           f"wait in a buffer of {self._buffer.capacity}")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._cond:
            self._outstanding -= 1
            self.published += 1
            if self._closing or self._outstanding == WINDOW - 1:  # else no one waits for an acknowledgement
                self._cond.notify()

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._say(message)

    # -- the end -----------------------------------------------------------------------------------
    def status(self) -> dict[str, float]:
        """The publisher's figures (also on /metrics when --prometheus is on)."""
        with self._cond:
            return {
                "logloom_mqtt_published_messages_total": self.published,
                "logloom_mqtt_dropped_messages_total": self._buffer.dropped,
                "logloom_mqtt_buffered_messages": len(self._buffer) + self._outstanding,
                "logloom_mqtt_connected": 1.0 if self._connected else 0.0,
            }

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    def close(self) -> None:
        """Publish what is left for at most ``CLOSE_WAIT_S`` while connected; count the rest as dropped."""
        if self._records:
            self._hand_off(None)  # records after the last block (none in a normal run)
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + CLOSE_WAIT_S
            if self._buffer.trim(CLOSE_KEEP):
                self._resync = True
            self._cond.notify()
        self._thread.join(CLOSE_WAIT_S + 1)
        with self._cond:
            self._buffer.trim(0)
            self._buffer.dropped += max(self._outstanding, 0)
            self._outstanding = 0
        self.client.disconnect()
        self.client.loop_stop()
        message = f"mqtt: {self.published} messages published, {self._buffer.dropped} dropped"
        if self._buffer.dropped:
            self._warn(message + " (the buffer was full while the broker was away or slower than the log, "
                       "or they were undelivered at exit)")
        else:
            self._say(message)
