"""--mqtt against a real mosquitto broker on 127.0.0.1, started and stopped by each test.

What should arrive is known from an independent run of the same log (``oracle``:
an in-process monitor with an observer that keeps every state change, anomaly and
incident change).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from logloom.config.load import load_config
from logloom.main import RunOptions, monitor
from logloom.records import Anomaly, Incident, Observer, StateChange
from logloom.ui import UI
from tests.helpers import EXAMPLE_CONFIG, ROOT, read_rows
from tests.integrations.live import FollowRun, Mosquitto, Subscriber, wait_for
from tests.test_durability import record_into, simulate

PREFIX = "plant/line1"
SUMMARY = re.compile(r"mqtt: (\d+) messages published, (\d+) dropped")
ISO = re.compile(rb"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)", re.M)


class _Keep(Observer):
    def __init__(self) -> None:
        self.changes: list[StateChange] = []
        self.anomalies: list[Anomaly] = []
        self.incidents: list[tuple[str, Incident]] = []

    def on_state_change(self, change: StateChange) -> None:
        self.changes.append(change)

    def on_anomaly(self, anomaly: Anomaly) -> None:
        self.anomalies.append(anomaly)

    def on_incident(self, change: str, incident: Incident, anomaly: Anomaly | None) -> None:
        self.incidents.append((change, incident))


def oracle(tmp: Path, log_bytes: bytes, baseline: Path | None = None) -> _Keep:
    """Every state change and anomaly of a batch monitor over ``log_bytes``, in order."""
    work = tmp / f"oracle-{len(list(tmp.glob('oracle-*')))}"
    (work / "data").mkdir(parents=True)
    (work / "log").write_bytes(log_bytes)
    if baseline is not None:
        shutil.copy(baseline, work / "data" / "process_baseline.json")
    keep = _Keep()
    options = RunOptions(data_dir=work / "data", logs=[work / "log"], quiet=True, observers=[keep])
    monitor(load_config(EXAMPLE_CONFIG), options, UI(quiet=True))
    return keep


def iso(ts: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(microseconds=ts)).isoformat()


def as_state(change: StateChange) -> dict[str, Any]:
    return {"ts": iso(change.ts), "component": change.component_id, "state": change.to_state,
            "from": change.from_state, "event": change.event, "inferred": change.inferred}


def state_messages(received: list[tuple[str, dict[str, Any], bool]]) -> dict[int, tuple[str, dict[str, Any]]]:
    """seq -> (topic, payload) of the state changes; QoS 1 may deliver one twice, never two apart."""
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    for topic, body, _ in received:
        if topic.endswith("/state") and "seq" in body:
            assert out.get(body["seq"], (topic, body)) == (topic, body)
            out[body["seq"]] = (topic, body)
    return out


def quarters(content: bytes) -> list[bytes]:
    cuts = [0] + [content.index(b"\n", len(content) * k // 4) + 1 for k in (1, 2, 3)] + [len(content)]
    return [content[a:b] for a, b in pairwise(cuts)]


def test_every_state_change_and_anomaly_arrives_in_order(tmp_path: Path, run_cli) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        good = simulate(run_cli, tmp_path / "good.log", "--cycles", "100", "--seed", "11")
        source = simulate(run_cli, tmp_path / "src.log", "--cycles", "40", "--seed", "12", "--drop", "0.03",
                          "--anomalies", "spike:l2_dispenser.process_cycle_time@15x2.5")
        data = tmp_path / "data"
        record_into(run_cli, good, tmp_path / "baseline", data)
        expected = oracle(tmp_path, source.read_bytes(), data / "process_baseline.json")
        assert expected.anomalies and any(c.inferred for c in expected.changes)
        sub = Subscriber(broker.port, f"{PREFIX}/#")
        log = tmp_path / "live.log"
        log.write_bytes(b"")
        content = source.read_bytes()
        with FollowRun(tmp_path, EXAMPLE_CONFIG, data, log, "--mqtt", f"mqtt://127.0.0.1:{broker.port}/{PREFIX}") as run:
            run.wait_stderr("mqtt: connected to")
            for upto, chunk in enumerate(quarters(content), 1):
                run.append(chunk)
                run.wait_offset(len(b"".join(quarters(content)[:upto])))
            total = len(expected.changes) + len(expected.anomalies) + len(expected.incidents)
            wait_for(lambda: len({b.get("seq") for _, b, _ in sub.received()} - {None}) == total,
                     f"{total} messages at the subscriber")
            assert run.stop() == 0
        assert SUMMARY.search(run.stderr()).group(2) == "0"  # type: ignore[union-attr]
        sub.close()
        got = sub.received()
        states = state_messages(got)
        anomalies = {b["seq"]: b for t, b, _ in got if t.endswith("/anomaly")}
        incidents = {b["seq"]: (t, b) for t, b, _ in got if t.endswith("/incident")}
        assert sorted([*states, *anomalies, *incidents]) == list(range(1, total + 1))
        assert expected.incidents and [(t, b["change"], b["id"], b["kind"], b["anomalies"], b["cause"])
                                       for t, b in (incidents[s] for s in sorted(incidents))] == [
            (f"{PREFIX}/{i.component_id}/incident", change, i.id, i.kind, i.anomalies, i.cause)
            for change, i in expected.incidents]
        in_order = [states[s] for s in sorted(states)]
        assert [t for t, _ in in_order] == [f"{PREFIX}/{c.component_id}/state" for c in expected.changes]
        assert [{k: v for k, v in b.items() if k != "seq"} for _, b in in_order] == [
            as_state(c) for c in expected.changes]
        # arrival order is log order (QoS 1 with one publisher keeps it on every topic)
        arrived = [b["seq"] for t, b, _ in got if "seq" in b]
        assert arrived == sorted(arrived)
        written = read_rows(data / "anomalies.csv")
        assert [(b["ts"], b["component"], b["metric"], b["value"], b["rule"]) for _, b in sorted(anomalies.items())] == [
            (iso(a.ts), a.component_id, a.metric_name, a.value, a.rule) for a in expected.anomalies]
        assert [(r[0], r[1], r[2], float(r[3]), r[10]) for r in written] == [
            (iso(a.ts), a.component_id, a.metric_name, a.value, a.rule) for a in expected.anomalies]
        # a dashboard that connects now gets each component's current state, retained
        late = Subscriber(broker.port, f"{PREFIX}/+/state")
        final = {c["id"]: c["state"] for c in load_state(data)}
        retained = wait_for(lambda: {b["component"]: b["state"] for _, b, r in late.received() if r}
                            if len(late.received()) >= len(final) else None, "the retained states")
        late.close()
        assert retained == final
    finally:
        broker.stop()


def load_state(data: Path) -> list[dict[str, Any]]:
    import json

    return json.loads((data / "machine_state.json").read_text())["engine"]["components"]


def pieces(content: bytes, lines: int) -> list[bytes]:
    rows = content.splitlines(keepends=True)
    return [b"".join(rows[i : i + lines]) for i in range(0, len(rows), lines)]


def test_broker_killed_mid_run_reconnects_and_counts_what_it_dropped(tmp_path: Path, run_cli) -> None:
    """Kill -9 the broker mid-run: the monitor keeps going, buffers (dropping the oldest past
    --mqtt-buffer, counted), reconnects when it is back, publishes the freshest and resyncs."""
    buffer = 50
    source = simulate(run_cli, tmp_path / "src.log", "--cycles", "40", "--seed", "21", "--garbage", "0.01")
    parts = pieces(source.read_bytes(), 80)  # each makes fewer state changes than the buffer holds
    before, outage = parts[:2], parts[2:8]
    expected = oracle(tmp_path, b"".join(parts)).changes
    upto_outage = oracle(tmp_path, b"".join(before + outage)).changes
    n_before, n_outage = len(oracle(tmp_path, b"".join(before)).changes), len(upto_outage)
    assert n_outage - n_before > 3 * buffer
    ends = []  # state changes made up to the end of each piece (the log's times only grow)
    for piece in parts:
        last = max(datetime.fromisoformat(t.decode()) for t in ISO.findall(piece))
        ends.append(sum(1 for c in expected if c.ts <= (last - datetime(1970, 1, 1)) // timedelta(microseconds=1)))
    broker = Mosquitto(tmp_path / "broker", persistent=True).start()
    try:
        sub = Subscriber(broker.port, f"{PREFIX}/#", client_id="test-subscriber", persistent=True)
        wait_for(broker.db.exists, "the broker to save the subscriber's session")
        data, log = tmp_path / "data", tmp_path / "live.log"
        log.write_bytes(b"")

        def feed(run: FollowRun, k: int) -> None:
            run.append(parts[k])
            run.wait_offset(sum(map(len, parts[: k + 1])))
            wait_for(lambda: max(state_messages(sub.received()), default=0) == ends[k], f"piece {k}'s messages")

        with FollowRun(tmp_path, EXAMPLE_CONFIG, data, log, "--mqtt", f"mqtt://127.0.0.1:{broker.port}/{PREFIX}",
                       "--mqtt-buffer", str(buffer)) as run:
            run.wait_stderr("mqtt: connected to")
            for k in range(len(before)):
                feed(run, k)
            assert ends[len(before) - 1] == n_before
            broker.kill()
            run.wait_stderr(r"mqtt: connection to \S+ lost")
            run.append(b"".join(outage))
            run.wait_offset(sum(map(len, before + outage)))  # the monitor goes on without its broker
            broker.start()
            run.wait_stderr("mqtt: reconnected to")
            resynced = wait_for(lambda: [b for _, b, _ in sub.received() if b.get("resync")][-6:]
                                if sum(1 for _, b, _ in sub.received() if b.get("resync")) >= 12 else None,
                                "the current states again after the reconnection")
            for k in range(len(before) + len(outage), len(parts)):
                feed(run, k)
            assert run.stop() == 0
        sub.close()
        published, dropped = map(int, SUMMARY.search(run.stderr()).groups())  # type: ignore[union-attr]
        assert dropped == (n_outage - n_before) - buffer
        states = state_messages(sub.received())
        kept = [*range(1, n_before + 1), *range(n_outage - buffer + 1, len(expected) + 1)]
        assert sorted(states) == kept  # the oldest of the outage were dropped: a gap of exactly `dropped`
        assert [{k: v for k, v in states[s][1].items() if k != "seq"} for s in kept] == [
            as_state(expected[s - 1]) for s in kept]
        final = {}
        for change in upto_outage:
            final[change.component_id] = change.to_state
        assert {b["component"]: b["state"] for b in resynced} == final
        assert published >= len(kept)
    finally:
        broker.stop()


def _certificates(tmp: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: apt-get install openssl (./scripts/test does it)")
    files = {name: tmp / f"{name}.pem" for name in ("ca", "ca_key", "server", "server_key")}
    csr, ext = tmp / "server.csr", tmp / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=logloom test CA",
         "-keyout", files["ca_key"], "-out", files["ca"]],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", files["server_key"],
         "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca_key"], "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", files["server"]],
    ]
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True, timeout=60)
    return files


def test_tls_and_password(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    certs = _certificates(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "line1", "s3cret"], check=True,
                   capture_output=True, timeout=30)
    conf = (f"allow_anonymous false\npassword_file {passwords}\ncafile {certs['ca']}\n"
            f"certfile {certs['server']}\nkeyfile {certs['server_key']}\n")
    broker = Mosquitto(tmp_path / "broker", conf=conf).start()
    try:
        sub = Subscriber(broker.port, f"{PREFIX}/#", ca_certs=str(certs["ca"]), username="line1", password="s3cret")
        log = ROOT / "examples" / "dispense_line" / "input.log"
        keep = oracle(tmp_path, log.read_bytes())
        expected = keep.changes
        messages = len(keep.changes) + len(keep.anomalies) + len(keep.incidents)  # faults are flagged unscored
        url = f"mqtts://127.0.0.1:{broker.port}/{PREFIX}"
        base = ["monitor", "--config", EXAMPLE_CONFIG, "--logs", log, "--mqtt", url, "--mqtt-ca", certs["ca"],
                "--mqtt-username", "line1"]
        monkeypatch.setenv("LOGLOOM_MQTT_PASSWORD", "s3cret")
        code, _, err = run_cli(*base, "--data", tmp_path / "d1")
        assert code == 0 and SUMMARY.search(err).group(2) == "0", err  # type: ignore[union-attr]
        wait_for(lambda: len(state_messages(sub.received())) == len(expected), "every state change over TLS")
        sub.close()
        monkeypatch.setenv("LOGLOOM_MQTT_PASSWORD", "wrong")  # refused: reported, the run is not stopped
        code, _, err = run_cli(*base, "--data", tmp_path / "d2")
        assert code == 0 and "refused the connection: Not authorized" in err, err
        assert SUMMARY.search(err).groups() == ("0", str(messages))  # type: ignore[union-attr]
        assert (tmp_path / "d2" / "process_metrics.csv").read_bytes() == (
            tmp_path / "d1" / "process_metrics.csv").read_bytes()  # the files do not depend on the broker
    finally:
        broker.stop()


def test_bad_urls_and_a_missing_extra_exit_2(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    log = ROOT / "examples" / "walkthrough" / "input.log"
    config = ROOT / "examples" / "walkthrough" / "config"
    for url, says in (("http://h/p", "scheme"), ("mqtt://h", "no topic prefix"), ("mqtt://h:99999/p", "port"),
                      ("mqtt://u:pw@h/p", "LOGLOOM_MQTT_PASSWORD"), ("mqtt://h/a/#", "wildcards")):
        code, _, err = run_cli("monitor", "--config", config, "--data", tmp_path / "d", "--logs", log, "--mqtt", url)
        assert code == 2 and says in err and "Traceback" not in err, (url, err)
    monkeypatch.setitem(__import__("sys").modules, "paho.mqtt.client", None)
    code, _, err = run_cli("monitor", "--config", config, "--data", tmp_path / "d", "--logs", log,
                           "--mqtt", "mqtt://127.0.0.1/p")
    assert code == 2 and "pip install 'logloom[mqtt]'" in err


def test_incidents_go_to_their_topic_and_are_counted(tmp_path: Path) -> None:
    """The incident hook (opened, updated, closed) of both integrations, fed by hand: the
    times and the open-incident gauge (a real run's incidents: the first test)."""
    from logloom.integrations.live_metrics import LiveMetrics
    from logloom.integrations.mqtt import MqttSettings, start_mqtt
    from logloom.records import Progress
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        sub = Subscriber(broker.port, f"{PREFIX}/+/incident")
        config = load_config(EXAMPLE_CONFIG)
        said: list[str] = []
        publisher = start_mqtt(config, MqttSettings(f"mqtt://127.0.0.1:{broker.port}/{PREFIX}"), said.append,
                               said.append)
        live = LiveMetrics(config, None)
        t0 = 1_768_989_600_000_000  # 2026-01-21T10:00:00
        peak = Anomaly(t0 + 95_000_000, "l2_dispenser", "downtime", 95.0, "s", "ERROR", float("nan"), 0.0, 30.0,
                       float("inf"), "fault")
        opened = Incident(7, t0, None, t0, "l2_dispenser", "fault", "ERROR", ("downtime",), ("fault",), 1,
                               peak, (), 0, "l2_dispenser entered ERROR")
        updated = opened._replace(last=t0 + 95_000_000, anomalies=2, effects=("l1_dispenser.idle_time",),
                                  effect_anomalies=1)
        closed = updated._replace(closed=t0 + 95_000_000)
        for observer in (publisher, live):
            observer.on_block(Progress([], None, {}, ()))
            observer.on_incident("opened", opened, None)
        assert live.snapshot().open_incidents["l2_dispenser"] == 1
        for observer in (publisher, live):
            observer.on_incident("updated", updated, peak)
            observer.on_incident("closed", closed, None)
            observer.on_block(Progress([], None, {}, ()))
        got = wait_for(lambda: r if len(r := sub.received()) == 3 else None, "three incident messages")
        publisher.close()
        sub.close()
        assert [t for t, _, _ in got] == [f"{PREFIX}/l2_dispenser/incident"] * 3
        first, second, last = (b for _, b, _ in got)
        assert (first["change"], first["id"], first["opened"], first["closed"]) == (
            "opened", 7, "2026-01-21T10:00:00", None)
        assert (second["change"], second["effects"], second["peak"]["metric"], second["peak"]["expected"],
                second["peak"]["score"]) == ("updated", ["l1_dispenser.idle_time"], "downtime", None, None)
        assert (last["change"], last["closed"], last["component"]) == ("closed", "2026-01-21T10:01:35", "l2_dispenser")
        assert first["seq"] < second["seq"] < last["seq"]
        snap = live.snapshot()
        assert snap.incidents == {("l2_dispenser", "fault"): 1} and snap.open_incidents["l2_dispenser"] == 0
    finally:
        broker.stop()


class _Watch(Observer):
    """After the publisher's ``on_block``: whether it still takes state changes."""

    def __init__(self, publisher: Observer) -> None:
        self.publisher, self.wanted = publisher, []

    def on_block(self, progress: Any) -> None:
        self.wanted.append(self.publisher.wants_changes)


def test_a_batch_run_faster_than_the_broker_stops_making_changes_and_counts_them(tmp_path: Path, run_cli) -> None:
    """A batch run makes state changes far faster than they can be published: once the
    buffer overflows, the engine stops making them for the publisher (each counted as
    dropped, its sequence number skipped), and the current states are published at the end."""
    from logloom.integrations.mqtt import MqttSettings, start_mqtt

    broker = Mosquitto(tmp_path / "broker").start()
    try:
        source = simulate(run_cli, tmp_path / "src.log", "--lines", "60000", "--seed", "31")
        expected = oracle(tmp_path, source.read_bytes())
        sub = Subscriber(broker.port, f"{PREFIX}/#")
        config = load_config(EXAMPLE_CONFIG)
        said: list[str] = []
        publisher = start_mqtt(config, MqttSettings(f"mqtt://127.0.0.1:{broker.port}/{PREFIX}", buffer=50),
                               said.append, said.append)
        wait_for(lambda: any("connected to" in s for s in said), "the publisher to connect")
        keep, watch = _Keep(), _Watch(publisher)
        data = tmp_path / "data"
        data.mkdir()
        options = RunOptions(data_dir=data, logs=[source], quiet=True, observers=[publisher, watch, keep])
        monitor(config, options, UI(quiet=True))
        assert False in watch.wanted  # the engine stopped making changes for the publisher
        assert keep.changes == expected.changes  # ... and for no other observer
        total = len(expected.changes) + len(expected.anomalies) + len(expected.incidents)
        summary = next(s for s in said if SUMMARY.search(s))
        published, dropped = map(int, SUMMARY.search(summary).groups())  # type: ignore[union-attr]
        final = {c["id"]: c["state"] for c in load_state(data)}
        retained = wait_for(lambda: {b["component"]: b["state"] for _, b, _ in sub.received() if b.get("resync")}
                            if len({b["component"] for _, b, _ in sub.received() if b.get("resync")}) == len(final)
                            else None, "the current states")
        assert retained == final
        sub.close()
        seqs = sorted(state_messages(sub.received()))
        assert seqs and seqs[-1] <= total
        # every record has its number: published (seen here) or dropped, never both, none twice
        assert len(seqs) + dropped == total
        assert published >= len(seqs)
    finally:
        broker.stop()
