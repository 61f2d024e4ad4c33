"""Real parts for the integration tests: a following monitor, a mosquitto broker, a subscriber.

Everything listens on 127.0.0.1 (ephemeral ports) and is stopped by the test that
started it. Waits poll a condition with a deadline; nothing sleeps to wait.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it returns something true; its value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def checkpoint_offset(data: Path) -> int:
    try:
        return int(json.loads((data / "machine_state.json").read_text())["source"]["offset"])
    except (OSError, ValueError, KeyError):
        return -1


class FollowRun:
    """``logloom monitor --follow`` in its own process, stderr kept in a file."""

    def __init__(self, tmp: Path, config: Path, data: Path, log: Path, *extra: str) -> None:
        self.err_path = tmp / f"monitor-{len(list(tmp.glob('monitor-*')))}.err"
        self.data, self.log = data, log
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logloom", "monitor", "--config", str(config), "--data", str(data),
             "--logs", str(log), "--follow", "--checkpoint-every", "0.2", *extra],
            stdout=subprocess.DEVNULL, stderr=self._err, cwd=ROOT,
        )

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_stderr(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            assert self.proc.poll() is None, f"monitor exited early:\n{self.stderr()}"
            return re.search(pattern, self.stderr())

        match: re.Match[str] = wait_for(found, f"{pattern!r} on the monitor's stderr", timeout)
        return match

    def append(self, chunk: bytes) -> None:
        with self.log.open("ab") as fh:
            fh.write(chunk)

    def wait_offset(self, offset: int, timeout: float = 30.0) -> None:
        def reached() -> bool:
            assert self.proc.poll() is None, f"monitor exited early:\n{self.stderr()}"
            return checkpoint_offset(self.data) == offset

        wait_for(reached, f"the checkpoint at byte {offset}", timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._err.close()
        return code

    def __enter__(self) -> FollowRun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._err.close()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET ``url`` and read it with prometheus-client's own parser: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (./scripts/test does it)")
    return found


class Mosquitto:
    """A mosquitto broker on 127.0.0.1 with a generated config; ``kill`` and ``start`` again."""

    def __init__(self, workdir: Path, *, conf: str = "", persistent: bool = False) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # run as root (CI), mosquitto would switch to its own user, which cannot write into the test's dir
        lines = [f"listener {self.port} 127.0.0.1", f"log_dest file {workdir / 'broker.log'}",
                 "max_queued_messages 100000", "user root"]
        if persistent:  # sessions and queued messages survive a kill (saved every second)
            lines += ["persistence true", f"persistence_location {workdir}/", "autosave_interval 1"]
        self.conf_path = workdir / "mosquitto.conf"
        self.conf_path.write_text("\n".join(lines) + "\n" + (conf or "allow_anonymous true\n"))
        self.db = workdir / "mosquitto.db"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def listening() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (
                f"mosquitto exited: {self.proc.stderr.read().decode() if self.proc and self.proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_for(listening, f"mosquitto on port {self.port}", timeout=15)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Subscriber:
    """A paho client that keeps every message it gets: (topic, JSON payload, retained)."""

    def __init__(self, port: int, topic: str, *, client_id: str = "", persistent: bool = False,
                 ca_certs: str | None = None, username: str | None = None, password: str | None = None) -> None:
        import paho.mqtt.client as paho

        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(1, 2)
        if ca_certs is not None:
            self.client.tls_set(ca_certs=ca_certs)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.subscribed.is_set, f"the subscription to {topic}", timeout=15)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def received(self) -> list[tuple[str, dict[str, Any], bool]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
