"""The Rerun view: written with the SDK, read back with the SDK's RRD reader."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from logloom.errors import InputError
from logloom.records import Anomaly, MetricRow, Observer, StateChange
from logloom.viz.scene import VizComponent, VizScene, parse_color
from logloom.viz.viz_adapter import (
    INSTALL_HINT,
    NullObserver,
    VizUnavailableError,
    make_viz_observer,
    spawn_viewer,
    split_address,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"


def us(text: str) -> int:
    """Microseconds of a naive ISO time counted as UTC, as records.py defines."""
    dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def rgba(r: int, g: int, b: int) -> int:
    return (r << 24) | (g << 16) | (b << 8) | 0xFF


# --- without the SDK ----------------------------------------------------------


def test_missing_sdk_gives_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rerun", None)  # makes `import rerun` fail
    scene = VizScene(components=())
    with pytest.raises(VizUnavailableError) as err:
        make_viz_observer(scene, spawn=True, save=None, serve=None)
    assert INSTALL_HINT in str(err.value)
    assert "pip install 'logloom[viz]'" in str(err.value)
    from logloom.errors import LogloomError

    assert isinstance(err.value, LogloomError)


def test_every_module_imports_without_the_sdk() -> None:
    code = (
        "import sys\n"
        "sys.modules['rerun'] = sys.modules['rerun_bindings'] = None\n"
        "import logloom, logloom.viz.scene, logloom.viz.viz_adapter, logloom.report.data, logloom.report.report, logloom.cli\n"
        "print('imported')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr


def test_parse_color_forms() -> None:
    assert parse_color("#1f77ff") == (0x1F, 0x77, 0xFF)
    assert parse_color([255, 0, 0]) == (255, 0, 0)
    for bad in ("1f77ff", "#12345", "#gg0000", [1, 2], [256, 0, 0], [True, 0, 0], None):
        with pytest.raises(ValueError):
            parse_color(bad)


def test_split_address() -> None:
    assert split_address("127.0.0.1") == ("127.0.0.1", 9876)
    assert split_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert split_address("[::1]:9100") == ("::1", 9100)
    assert split_address(":9200") == ("127.0.0.1", 9200)
    for bad in ("127.0.0.1:http", "127.0.0.1:0", "[::1]:70000"):
        with pytest.raises(InputError, match="port"):
            split_address(bad)


def test_scene_from_bundled_config() -> None:
    import yaml

    scene = VizScene.from_config_dir(CONFIG)
    graph = yaml.safe_load((CONFIG / "machine_graph.yaml").read_text())
    viz = yaml.safe_load((CONFIG / "viz_resources.yaml").read_text())
    assert [c.id for c in scene.components] == [c["id"] for c in graph["components"]]
    disp = next(c for c in scene.components if c.id == "l1_dispenser")
    assert disp.initial_state == "IDLE"
    assert disp.position == tuple(float(v) for v in viz["components"]["l1_dispenser"]["position"])
    assert "process_cycle_time" in disp.metrics and "DISPENSING" in disp.states
    assert scene.color_of("ERROR") == (255, 0, 0)  # written as [255, 0, 0]
    assert scene.color_of("DISPENSING") == (0x1F, 0x77, 0xFF)  # written as "#1f77ff"
    assert scene.color_of("NO_SUCH_STATE") == (0x9E, 0x9E, 0x9E)


def test_scene_without_viz_resources_tells_states_apart() -> None:
    import yaml

    graph = yaml.safe_load((CONFIG / "machine_graph.yaml").read_text())
    logic = yaml.safe_load((CONFIG / "process_logic.yaml").read_text())
    scene = VizScene.from_config(graph, logic, None)
    states = {st for c in scene.components for st in c.states}
    assert len({scene.color_of(st) for st in states}) == len(states)
    assert (255, 0, 0) not in {scene.color_of(st) for st in states}  # red means anomaly
    assert all(c.label == c.id for c in scene.components)
    # a configured default_color is the user's choice and is kept
    kept = VizScene.from_config(graph, logic, {"default_color": "#010203"})
    assert {kept.color_of(st) for st in states} == {(1, 2, 3)}


# --- with the SDK: write an .rrd and read it back -------------------------------

needs_rerun = pytest.mark.skipif(
    importlib.util.find_spec("rerun") is None, reason="rerun-sdk (the viz extra) is not installed"
)


def small_scene() -> VizScene:
    return VizScene(
        components=(
            VizComponent(
                id="disp",
                type="dispenser",
                initial_state="IDLE",
                states=("IDLE", "READY", "DISPENSING"),
                metrics=("cycle",),
                position=(2.0, 0.0, 1.0),
                size=(1.0, 2.0, 1.0),
                label="Dispenser",
            ),
            VizComponent(id="clamp", type="clamp", initial_state="OPEN", states=("OPEN", "CLOSED")),
        ),
        state_colors={"IDLE": (10, 20, 30), "READY": (200, 200, 0), "DISPENSING": (0, 0, 255)},
        default_color=(1, 2, 3),
        line="test_line",
    )


T0, T1, T2, T3 = (
    us("2026-01-21T10:05:00"),
    us("2026-01-21T10:05:10.250000"),
    us("2026-01-21T10:05:25"),
    us("2026-01-21T10:06:00"),
)


def feed(obs: Observer) -> None:
    obs.on_state_change(StateChange(T0, "disp", "IDLE", "READY", "PALLET_ARRIVED", False))
    obs.on_state_change(StateChange(T1, "disp", "READY", "DISPENSING", "PROCESS_START", False))
    obs.on_row(MetricRow(T1, "disp", "wait", 10.25, "s", "READY"))
    obs.on_state_change(StateChange(T2, "disp", "DISPENSING", "IDLE", "PROCESS_END", False))
    obs.on_row(MetricRow(T2, "disp", "cycle", 14.75, "s", "DISPENSING"))
    obs.on_anomaly(Anomaly(T2, "disp", "cycle", 14.75, "s", "DISPENSING", 9.0, 5.0, 12.0, 5.1, "limits"))
    obs.on_row(MetricRow(T3, "disp", "cycle", 0.0, "s", "DISPENSING:inferred"))
    obs.on_state_change(StateChange(T3, "disp", "IDLE", "READY", "PALLET_ARRIVED", False))


def read_entities(path: Path) -> tuple[dict[str, list[dict[str, Any]]], set[str], int]:
    """entity -> rows (static ones first, then by time and row id), timelines, #blueprints."""
    from rerun.chunk import RrdReader

    reader = RrdReader(path)
    out: dict[str, list[dict[str, Any]]] = {}
    timelines: set[str] = set()
    for chunk in reader.stream().to_chunks():
        timelines.update(chunk.timeline_names)
        table = chunk.to_record_batch().to_pylist()
        out.setdefault(chunk.entity_path, []).extend(table)
    for rows in out.values():
        rows.sort(
            key=lambda r: (
                r.get("timestamp") is not None,
                r.get("timestamp") or 0,
                r["rerun.controls.RowId"],
            )
        )
    return out, timelines, len(reader.blueprints())


def temporal(rows: list[dict[str, Any]], column: str) -> list[tuple[datetime, Any]]:
    return [(r["timestamp"], r[column]) for r in rows if r.get("timestamp") and r.get(column)]


def naive(ts_us: int) -> datetime:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).replace(tzinfo=None)


@needs_rerun
@pytest.mark.parametrize("chunk_events", [1, 3, 10_000])
def test_rrd_round_trip(tmp_path: Path, chunk_events: int) -> None:
    rrd = tmp_path / "run.rrd"
    obs = make_viz_observer(small_scene(), spawn=False, save=rrd, serve=None, chunk_events=chunk_events)
    feed(obs)
    obs.on_violation(T3, "clamp", "invalid_transition")  # type: ignore[attr-defined]
    obs.close()
    ents, timelines, blueprints = read_entities(rrd)

    assert timelines == {"timestamp"}  # no wall-clock log_time, no log_tick
    assert blueprints == 1

    # state lane: the initial state drawn at the first timestamp, then every change
    lane = temporal(ents["/states/disp"], "StateChange:state")
    assert lane == [
        (naive(T0), ["IDLE"]),
        (naive(T0), ["READY"]),
        (naive(T1), ["DISPENSING"]),
        (naive(T2), ["IDLE"]),
        (naive(T3), ["READY"]),
    ]
    assert temporal(ents["/states/clamp"], "StateChange:state") == [(naive(T0), ["OPEN"])]
    config = [r for r in ents["/states/disp"] if r.get("StateConfiguration:values")]
    assert config[0]["StateConfiguration:values"] == ["IDLE", "READY", "DISPENSING"]
    assert config[0]["StateConfiguration:colors"] == [
        rgba(10, 20, 30),
        rgba(200, 200, 0),
        rgba(0, 0, 255),
    ]

    # box colour follows the state; geometry is static
    colors = temporal(ents["/line/disp"], "Boxes3D:colors")
    assert colors == [
        (naive(T0), [rgba(10, 20, 30)]),
        (naive(T0), [rgba(200, 200, 0)]),
        (naive(T1), [rgba(0, 0, 255)]),
        (naive(T2), [rgba(10, 20, 30)]),
        (naive(T3), [rgba(200, 200, 0)]),
    ]
    static = next(r for r in ents["/line/disp"] if r.get("Boxes3D:centers"))
    assert static["Boxes3D:centers"] == [[2.0, 0.0, 1.0]]
    assert static["Boxes3D:half_sizes"] == [[0.5, 1.0, 0.5]]
    clamp_colors = temporal(ents["/line/clamp"], "Boxes3D:colors")
    assert clamp_colors == [(naive(T0), [rgba(1, 2, 3)])]  # OPEN has no colour: default

    # metric series (the inferred zero row is left out) and the anomaly in red
    assert temporal(ents["/metrics/disp/cycle"], "Scalars:scalars") == [(naive(T2), [14.75])]
    assert temporal(ents["/metrics/disp/wait"], "Scalars:scalars") == [(naive(T1), [10.25])]
    marks = ents["/metrics/disp/cycle/anomalies"]
    assert temporal(marks, "Scalars:scalars") == [(naive(T2), [14.75])]
    assert next(r for r in marks if r.get("SeriesPoints:colors"))["SeriesPoints:colors"] == [rgba(255, 0, 0)]
    log = ents["/anomalies"]
    assert [t for t, _ in temporal(log, "TextLog:text")] == [naive(T2)]
    assert temporal(log, "TextLog:color") == [(naive(T2), [rgba(255, 0, 0)])]

    violations = temporal(ents["/violations"], "TextLog:text")
    assert violations == [(naive(T3), ["clamp: invalid_transition"])]

    # alarm wireframe: on at the anomaly, off at the component's next state change
    alarm = temporal(ents["/line/disp/alarm"], "Boxes3D:half_sizes")
    assert [t for t, _ in alarm] == [naive(T2)]
    alarm_rows = [r for r in ents["/line/disp/alarm"] if r.get("timestamp")]
    assert [len(r["Boxes3D:half_sizes"] or []) for r in alarm_rows] == [1, 0]
    assert [r["timestamp"] for r in alarm_rows] == [naive(T2), naive(T3)]


@needs_rerun
def test_resumed_component_starts_in_its_first_from_state(tmp_path: Path) -> None:
    rrd = tmp_path / "resume.rrd"
    obs = make_viz_observer(small_scene(), spawn=False, save=rrd, serve=None)
    obs.on_state_change(StateChange(T1, "disp", "DISPENSING", "IDLE", "PROCESS_END", False))
    obs.close()
    ents, _, _ = read_entities(rrd)
    lane = temporal(ents["/states/disp"], "StateChange:state")
    assert lane == [(naive(T1), ["DISPENSING"]), (naive(T1), ["IDLE"])]


@needs_rerun
def test_resumed_states_from_the_checkpoint(tmp_path: Path) -> None:
    rrd = tmp_path / "resumed.rrd"
    scene = small_scene().with_initial_states({"clamp": "CLOSED"})
    assert scene.components[0].initial_state == "IDLE"  # not named: unchanged
    obs = make_viz_observer(scene, spawn=False, save=rrd, serve=None)
    obs.on_row(MetricRow(T2, "disp", "cycle", 14.75, "s", "DISPENSING"))
    obs.close()
    ents, _, _ = read_entities(rrd)
    assert temporal(ents["/states/clamp"], "StateChange:state") == [(naive(T2), ["CLOSED"])]


@needs_rerun
def test_spawn_without_display_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    said: list[str] = []
    obs = make_viz_observer(small_scene(), spawn=True, save=None, serve=None, notify=said.append)
    assert isinstance(obs, NullObserver)
    assert said and "--viz-save" in said[0] and "--viz-serve" in said[0]
    feed(obs)
    obs.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_rerun
def test_serve_binds_loopback_only(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    port = free_port()
    said: list[str] = []
    obs = make_viz_observer(small_scene(), spawn=False, save=None, serve=f"127.0.0.1:{port}", notify=said.append)
    try:
        deadline = time.monotonic() + 10
        listening: list[str] = []
        while time.monotonic() < deadline and not listening:
            listening = [
                c.laddr.ip
                for c in psutil.Process().net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port
            ]
        assert listening == ["127.0.0.1"]
        assert any(f":{port}" in s for s in said)
        feed(obs)
    finally:
        obs.close()


@needs_rerun
def test_spawned_viewer_listens_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import rerun_bindings

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(rerun_bindings, "spawn", lambda **kw: calls.append(kw))
    spawn_viewer(9999)
    assert len(calls) == 1 and calls[0]["port"] == 9999
    args = calls[0]["extra_args"]
    assert args[args.index("--bind") + 1] == "127.0.0.1"
    assert Path(calls[0]["executable_path"]).name.startswith("rerun")


@needs_rerun
def test_failed_spawn_says_so_and_keeps_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import rerun_bindings

    def boom(**_: Any) -> None:
        raise RuntimeError("no viewer binary")

    monkeypatch.setattr(rerun_bindings, "spawn", boom)
    monkeypatch.setenv("DISPLAY", ":0")
    said: list[str] = []
    rrd = tmp_path / "kept.rrd"
    obs = make_viz_observer(small_scene(), spawn=True, save=rrd, serve=None, notify=said.append)
    feed(obs)
    obs.close()
    assert any("no viewer binary" in s for s in said)
    ents, _, _ = read_entities(rrd)
    assert temporal(ents["/states/disp"], "StateChange:state")[-1] == (naive(T3), ["READY"])


class FakeStream:
    """Records what the observer sends, in place of a RecordingStream."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def log(self, path: str, *_: Any, **__: Any) -> None:
        pass

    def send_columns(self, path: str, *_: Any, **__: Any) -> None:
        self.sent.append(path)

    def flush(self) -> None:
        pass

    def disconnect(self) -> None:
        pass


@needs_rerun
@pytest.mark.parametrize(("max_delay", "sent_before_close"), [(0.0, True), (3600.0, False)])
def test_a_slow_stream_is_sent_within_max_delay(max_delay: float, sent_before_close: bool) -> None:
    from logloom.viz.viz_adapter import RerunObserver

    rec = FakeStream()
    obs = RerunObserver(small_scene(), rec, chunk_events=10**9, max_delay=max_delay)  # type: ignore[arg-type]
    obs.on_state_change(StateChange(T0, "disp", "IDLE", "READY", "PALLET_ARRIVED", False))
    assert ("/states/disp" in {"/" + p for p in rec.sent}) is sent_before_close
    obs.close()
    assert "states/disp" in rec.sent


@needs_rerun
def test_unusable_sinks_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--viz-save"):
        make_viz_observer(small_scene(), spawn=False, save=tmp_path, serve=None)  # a directory
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match="cannot listen"):
            make_viz_observer(small_scene(), spawn=False, save=None, serve=f"127.0.0.1:{port}")
    with pytest.raises(InputError, match="neither an IP address nor a name that resolves"):
        make_viz_observer(small_scene(), spawn=False, save=None, serve="999.1.1.1")


@needs_rerun
@pytest.mark.parametrize("chunk_events", [1, 2, 10_000])
def test_alarm_of_a_late_anomaly_ends_at_the_next_change(tmp_path: Path, chunk_events: int) -> None:
    # main scores a block's rows after the engine has stepped through the whole block
    rrd = tmp_path / "late.rrd"
    obs = make_viz_observer(small_scene(), spawn=False, save=rrd, serve=None, chunk_events=chunk_events)
    obs.on_state_change(StateChange(T1, "disp", "READY", "DISPENSING", "PROCESS_START", False))
    obs.on_state_change(StateChange(T2, "disp", "DISPENSING", "IDLE", "PROCESS_END", False))
    obs.on_row(MetricRow(T2, "disp", "cycle", 30.0, "s", "DISPENSING"))
    obs.on_state_change(StateChange(T3, "disp", "IDLE", "READY", "PALLET_ARRIVED", False))
    obs.on_row(MetricRow(T3, "disp", "idle", 35.0, "s", "IDLE"))
    obs.on_anomaly(Anomaly(T2, "disp", "cycle", 30.0, "s", "DISPENSING", 9.0, 5.0, 12.0, 9.9, "limits"))
    obs.close()
    ents, _, _ = read_entities(rrd)
    rows = [r for r in ents["/line/disp/alarm"] if r.get("timestamp")]
    assert [(r["timestamp"], len(r["Boxes3D:half_sizes"] or [])) for r in rows] == [(naive(T2), 1), (naive(T3), 0)]


@needs_rerun
def test_rrd_of_a_real_monitor_run_agrees_with_its_csvs(tmp_path: Path) -> None:
    """simulate -> record -> monitor with the viz observer; the .rrd matches the CSV outputs."""
    import csv

    from logloom.cli import main
    from logloom.config.load import load_config
    from logloom.main import RunOptions, monitor
    from logloom.ui import UI

    data, good, bad, rrd = tmp_path / "data", tmp_path / "good.log", tmp_path / "bad.log", tmp_path / "run.rrd"
    cfg = ["--config", str(CONFIG)]
    assert main(["simulate", *cfg, "--out", str(good), "--cycles", "80", "--seed", "3"]) == 0
    assert main(["simulate", *cfg, "--out", str(bad), "--cycles", "80", "--seed", "4", "--anomalies", "spikes"]) == 0
    assert main(["record", *cfg, "--data", str(data), "--logs", str(good), "--quiet"]) == 0
    viz = make_viz_observer(VizScene.from_config_dir(CONFIG), spawn=False, save=rrd, serve=None, chunk_events=500)
    options = RunOptions(data_dir=data, logs=[bad], quiet=True, observers=[viz])
    monitor(load_config(CONFIG), options, UI(quiet=True))
    ents, timelines, _ = read_entities(rrd)
    assert timelines == {"timestamp"}

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=None)

    with (data / "anomalies.csv").open() as fh:
        anomalies = list(csv.DictReader(fh))
    logged = temporal(ents["/anomalies"], "TextLog:text")
    assert sorted(t for t, _ in logged) == sorted(when(a["timestamp"]) for a in anomalies)

    # every state of a dispenser has a duration metric: each exit but the first visit's
    # (whose entry was never seen) wrote one duration row, at the exit's time
    durations = {"idle_time", "wait_time", "process_cycle_time", "unclamp_time", "downtime"}
    with (data / "process_metrics.csv").open() as fh:
        exits = [
            when(r["timestamp"])
            for r in csv.DictReader(fh)
            if r["component_id"] == "l1_dispenser" and r["metric_name"] in durations
        ]
    lane = temporal(ents["/states/l1_dispenser"], "StateChange:state")
    changes = [t for t, _ in lane[1:]]  # the first entry is the initial state
    assert sorted(changes[1:]) == sorted(exits)
    # and the box took the configured colour of each state it entered
    boxes = temporal(ents["/line/l1_dispenser"], "Boxes3D:colors")
    scene = VizScene.from_config_dir(CONFIG)
    assert [c for _, c in boxes] == [[rgba(*scene.color_of(s[0]))] for _, s in lane]
