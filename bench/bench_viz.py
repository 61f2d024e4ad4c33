"""What the Rerun observer costs the processing loop.

Synthetic mode (default) feeds a realistic record stream (the bundled line's six
components cycling through their machines: by default 1M state changes, 300k
metric rows, a few hundred anomalies) through a do-nothing Observer and through
the viz observer saving an .rrd, and prints the cost per record.

``--monitor LOG`` also runs the real ``monitor`` (in process, fresh data
directories, best of two) on LOG without and with the viz observer saving an
.rrd, and prints both throughputs; make LOG with ``logloom simulate``.

    .venv/bin/python bench/bench_viz.py [--changes 1000000] [--rows 300000]
    .venv/bin/python bench/bench_viz.py --monitor /tmp/x.log [--config config]
    .venv/bin/python bench/bench_viz.py --viewer-screenshot v.png --rrd run.rrd [--at 2026-01-21T06:20]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from logloom.records import Anomaly, MetricRow, Observer, StateChange
from logloom.viz.scene import VizScene
from logloom.viz.viz_adapter import TIMELINE, make_viz_observer

Record = StateChange | MetricRow | Anomaly


def synthetic_stream(scene: VizScene, changes: int, rows: int, anomalies: int) -> list[Record]:
    """Records in log order: each component cycles its states; rows on some exits."""
    rng = random.Random(7)
    comps = [c for c in scene.components if c.states]
    state = {c.id: c.initial_state for c in comps}
    out: list[Record] = []
    ts = 1_768_990_000_000_000
    row_p = rows / changes
    anom_p = anomalies / max(rows, 1)
    for _ in range(changes):
        comp = comps[rng.randrange(len(comps))]
        states = comp.states
        nxt = states[(states.index(state[comp.id]) + 1) % len(states)]
        ts += rng.randrange(200_000, 3_000_000)
        out.append(StateChange(ts, comp.id, state[comp.id], nxt, "EV", False))
        if comp.metrics and rng.random() < row_p:
            metric = comp.metrics[rng.randrange(len(comp.metrics))]
            value = rng.lognormvariate(2.7, 0.1)
            out.append(MetricRow(ts, comp.id, metric, value, "s", state[comp.id]))
            if rng.random() < anom_p:
                out.append(Anomaly(ts, comp.id, metric, value, "s", state[comp.id], 15, 11, 19, 5, "limits"))
        state[comp.id] = nxt
    return out


def feed(obs: Observer, stream: list[Record]) -> float:
    on_change, on_row, on_anom = obs.on_state_change, obs.on_row, obs.on_anomaly
    t = time.perf_counter()
    for rec in stream:
        if type(rec) is StateChange:
            on_change(rec)
        elif type(rec) is MetricRow:
            on_row(rec)
        else:
            on_anom(rec)  # type: ignore[arg-type]
    obs.close()
    return time.perf_counter() - t


def synthetic(args: argparse.Namespace) -> None:
    scene = VizScene.from_config_dir(Path(args.config))
    stream = synthetic_stream(scene, args.changes, args.rows, args.anomalies)
    counts = {k.__name__: sum(type(r) is k for r in stream) for k in (StateChange, MetricRow, Anomaly)}
    print(f"stream: {len(stream):,} records {counts}")
    base = min(feed(Observer(), stream) for _ in range(2))
    with tempfile.TemporaryDirectory() as tmp:
        rrd = Path(tmp) / "bench.rrd"
        obs = make_viz_observer(scene, spawn=False, save=rrd, serve=None)
        viz = feed(obs, stream)
        size = rrd.stat().st_size
    per = (viz - base) / len(stream) * 1e6
    print(f"no-op observer : {base:7.2f} s  ({len(stream) / base:12,.0f} records/s)")
    print(f"viz --viz-save : {viz:7.2f} s  ({len(stream) / viz:12,.0f} records/s)")
    print(f"viz cost       : {per:.2f} us per record; rrd {size / 1e6:.1f} MB")


def run_monitor(args: argparse.Namespace, rrd: Path | None) -> float:
    """One in-process ``monitor`` run on a fresh data directory; returns seconds."""
    from logloom.config.load import load_config
    from logloom.main import RunOptions
    from logloom.main import monitor as run
    from logloom.ui import UI

    config = load_config(Path(args.config))
    data = Path(tempfile.mkdtemp(prefix="bench_viz_"))
    try:
        observers: list[Observer] = []
        t = time.perf_counter()
        if rrd is not None:  # opening the sink is part of the cost
            scene = VizScene.from_config_dir(Path(args.config))
            observers.append(make_viz_observer(scene, spawn=False, save=rrd, serve=None))
        options = RunOptions(data_dir=data, logs=[Path(args.monitor)], quiet=True, observers=observers)
        run(config, options, UI(quiet=True))
        return time.perf_counter() - t
    finally:
        shutil.rmtree(data, ignore_errors=True)


def monitor(args: argparse.Namespace) -> None:
    with open(args.monitor, "rb") as fh:
        lines = sum(1 for _ in fh)
    with tempfile.TemporaryDirectory() as tmp:
        rrd = Path(tmp) / "m.rrd"
        plain = min(run_monitor(args, None) for _ in range(2))
        viz = min(run_monitor(args, rrd) for _ in range(2))
        size = rrd.stat().st_size
    print(f"monitor            : {plain:7.2f} s  ({lines / plain:10,.0f} lines/s)")
    print(f"monitor + viz save : {viz:7.2f} s  ({lines / viz:10,.0f} lines/s)")
    print(f"viz keeps {plain / viz:.0%} of monitor's throughput; rrd {size / 1e6:.1f} MB")


def viewer_screenshot(rrd: Path, png: Path, at: float | None) -> None:
    """The default layout as the native viewer draws it, headless.

    Needs a Vulkan driver; without a GPU, Mesa's lavapipe (``apt-get install
    mesa-vulkan-drivers``) will do.
    """
    from rerun.experimental import ViewerClient

    viewer = ViewerClient.spawn(headless=True, port=9878, hide_welcome_screen=True)
    try:
        viewer.open(str(rrd))
        deadline = time.monotonic() + 60
        while viewer.get_state().loading and time.monotonic() < deadline:
            time.sleep(0.2)
        if at is not None:
            viewer.set_time(TIMELINE, timestamp=at, play_state="paused")
        viewer.save_screenshot(str(png))  # the first paint fetches the chunks it shows
        time.sleep(3)
        viewer.save_screenshot(str(png.resolve()))
    finally:
        viewer.quit()
    print(f"viewer screenshot: {png}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "config"))
    ap.add_argument("--changes", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--anomalies", type=int, default=300)
    ap.add_argument("--monitor", help="a log file to run `logloom monitor` on")
    ap.add_argument("--viewer-screenshot", type=Path, metavar="PNG", help="screenshot RRD in the viewer")
    ap.add_argument("--rrd", type=Path, help="the recording to screenshot")
    ap.add_argument("--at", help="ISO time to put the time cursor at (UTC)")
    args = ap.parse_args()
    if args.viewer_screenshot:
        at = datetime.fromisoformat(args.at).replace(tzinfo=UTC).timestamp() if args.at else None
        viewer_screenshot(args.rrd, args.viewer_screenshot, at)
        return
    synthetic(args)
    if args.monitor:
        monitor(args)


if __name__ == "__main__":
    main()
