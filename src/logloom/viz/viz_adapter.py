"""The 3D/time-series view of a run, drawn with the Rerun SDK (an optional extra).

Owns where the view goes (a file, a server bound to the address it is given, a
native viewer) and the default layout; ``viz_observer`` owns what is drawn and how
it is batched, ``viz_scene`` what the line looks like. Promises:

- ``import logloom`` never imports rerun; only ``make_viz_observer`` does, and
  without it raises ``VizUnavailableError`` carrying ``pip install 'logloom[viz]'``.
- Everything is on one timeline, ``timestamp``, of the log's own times; the
  SDK's wall-clock ``log_time`` and ``log_tick`` are turned off.
- ``serve`` binds only the address it is given (the SDK's ``serve_grpc`` binds
  every interface).

Entity layout: ``line/<id>`` box coloured by state (``line/<id>/alarm`` a red
wireframe from an anomaly until the component's next state change),
``states/<id>`` StateChange lane, ``metrics/<id>/<metric>`` scalars with their
anomalies as red points under ``.../anomalies``, ``anomalies`` (red) and
``violations`` (orange: invalid transitions, blocked guards) text logs.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logloom.errors import InputError
from logloom.outputs.paths import require_folder
from logloom.records import Observer
from logloom.viz.observer import (
    INSTALL_HINT,
    TIMELINE,
    RerunObserver,
    VizUnavailableError,
    import_rerun,
)
from logloom.viz.scene import VizScene

__all__ = [
    "INSTALL_HINT", "TIMELINE", "NullObserver", "RerunObserver", "VizUnavailableError",
    "make_viz_observer", "spawn_viewer", "split_address",
]


DEFAULT_PORT = 9876
class NullObserver(Observer):
    """Observes nothing; stands in when no viz sink could be opened."""


def has_display() -> bool:
    """Whether a native viewer window can be opened here."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def spawn_viewer(port: int) -> None:
    """Start the native viewer listening on 127.0.0.1:port; returns once it accepts data.

    ``rr.spawn`` would start it bound to every interface (the viewer's default) and
    only finds ``rerun`` on PATH, which a venv's console script does not put there.
    """
    import rerun_bindings

    exe = shutil.which("rerun") or str(Path(sys.executable).with_name("rerun"))
    rerun_bindings.spawn(
        port=port,
        hide_welcome_screen=True,
        executable_path=exe,
        extra_args=["--bind", "127.0.0.1"],
        extra_env=[("RERUN_APP_ONLY", "true")],
    )


def split_address(serve: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[v6]:PORT`` -> (host, port); default port 9876.

    Raises ``InputError`` for a port that is not a number in 1-65535.
    """
    text = serve.strip() or "127.0.0.1"
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else port
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--viz-serve {serve}: the port must be a number from 1 to 65535")
    return host or "127.0.0.1", int(port)


def check_bindable(host: str, port: int) -> str:
    """The numeric address ``host`` names (a name that resolves, such as localhost,
    included); InputError unless ``host:port`` can be listened on now.

    The SDK's server only logs a bind failure from its own thread, and the run
    would go on serving nothing.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"--viz-serve {shown}: {host!r} is neither an IP address nor a name that resolves "
                         f"({exc.strerror}); use e.g. 127.0.0.1, localhost or [::1]") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first, as a browser tries
    try:
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(addr)
    except (OSError, IndexError) as exc:
        raise InputError(f"--viz-serve {shown}: cannot listen there ({exc})") from exc
    return str(addr[0])


def _url_host(ip: str) -> str:
    """How a viewer on this machine reaches a server bound to ``ip``."""
    if ip in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{ip}]" if ":" in ip else ip


def _open_to_others(ip: str) -> bool:
    return not ipaddress.ip_address(ip).is_loopback


def _eye(scene: VizScene) -> Any:
    """A camera in front of and above the line, looking at its middle."""
    rr = import_rerun()
    if not scene.components:
        return None
    lo = [min(c.position[i] - c.size[i] / 2 for c in scene.components) for i in range(3)]
    hi = [max(c.position[i] + c.size[i] / 2 for c in scene.components) for i in range(3)]
    mid = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    extent = max(max(b - a for a, b in zip(lo, hi, strict=True)), 1.0)
    return rr.blueprint.EyeControls3D(
        position=[mid[0], mid[1] - 1.3 * extent, mid[2] + 0.8 * extent],
        look_target=mid,
        eye_up=[0, 0, 1],
    )


def build_blueprint(scene: VizScene) -> Any:
    """The default layout: 3D line and anomaly log | state lanes and metric charts."""
    rr = import_rerun()
    rrb = rr.blueprint
    esc = rr.escape_entity_path_part
    # the whole run in every chart, with the time cursor on it
    everything = rrb.VisibleTimeRange(
        TIMELINE, start=rrb.TimeRangeBoundary.infinite(), end=rrb.TimeRangeBoundary.infinite()
    )
    tabs = [
        rrb.Grid(
            *[
                rrb.TimeSeriesView(origin=f"/metrics/{esc(c.id)}/{esc(m)}", name=m, time_ranges=everything)
                for m in c.metrics
            ],
            name=c.label or c.id,
        )
        for c in scene.components
        if c.metrics
    ]
    right = [rrb.StateTimelineView(origin="/states", name="States")]
    if tabs:
        right.append(rrb.Tabs(*tabs, name="Metrics"))
    return rrb.Blueprint(
        rrb.Horizontal(
            rrb.Vertical(
                rrb.Spatial3DView(origin="/line", name=scene.line, eye_controls=_eye(scene)),
                rrb.TextLogView(origin="/", contents=["/anomalies", "/violations"], name="Anomalies"),
                row_shares=[3, 1],
            ),
            rrb.Vertical(*right, row_shares=[1, 2][: len(right)]),
            column_shares=[2, 3],
        ),
        rrb.TimePanel(timeline=TIMELINE),
    )


def make_viz_observer(
    viz_config: VizScene,
    *,
    spawn: bool,
    save: Path | None,
    serve: str | None,
    notify: Callable[[str], None] | None = None,
    chunk_events: int = 10_000,
) -> Observer:
    """Open the requested sinks and return the observer that feeds them.

    ``spawn`` starts a native viewer when a display exists (otherwise ``notify``
    says what to do instead); ``save`` writes an .rrd file; ``serve`` is the bind
    address (``HOST[:PORT]``) of a gRPC server a viewer can connect to. Raises
    ``VizUnavailableError`` without the SDK. Returns a ``NullObserver`` when no
    sink is left.
    """
    rr = import_rerun()
    say = notify or (lambda msg: print(msg, file=sys.stderr))
    sinks: list[Any] = []
    if save is not None:
        require_folder(save, "--viz-save")
        try:
            sinks.append(rr.FileSink(str(save)))
        except (OSError, RuntimeError) as exc:  # the SDK reports file errors as RuntimeError
            raise InputError(f"--viz-save {save}: cannot write it ({exc})") from exc
    serve_port = None
    if serve is not None:
        host, serve_port = split_address(serve)
        ip = check_bindable(host, serve_port)
        # the SDK joins ip and port as text: an IPv6 address needs its brackets
        server = rr.GrpcServerSink(bind_ip=f"[{ip}]" if ":" in ip else ip, port=serve_port)
        sinks.append(server)
        bound = f"[{ip}]:{serve_port}" if ":" in ip else f"{ip}:{serve_port}"
        say(f"viz: serving on {bound}; connect with: rerun rerun+http://{_url_host(ip)}:{serve_port}/proxy")
        if _open_to_others(ip):
            say(f"warning: viz: {bound} can be reached from other machines, and the viewer has no "
                "authentication: anyone who reaches it can watch this run (serve on 127.0.0.1 and use an "
                "SSH tunnel to watch from elsewhere)")
    if spawn:
        if has_display():
            port = DEFAULT_PORT + 1 if serve_port == DEFAULT_PORT else DEFAULT_PORT
            try:
                spawn_viewer(port)
                sinks.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{port}/proxy"))
            except Exception as exc:  # the SDK raises plain RuntimeErrors here
                say(f"viz: could not start the Rerun viewer ({exc}); use --viz-save FILE.rrd")
        else:
            say(
                "viz: no display here (DISPLAY/WAYLAND_DISPLAY unset); use --viz-save FILE.rrd "
                "and open it with `rerun FILE.rrd` on a machine with a screen, or --viz-serve "
                "and connect a viewer to it"
            )
    if not sinks:
        return NullObserver()
    rec = rr.RecordingStream("logloom", recording_id=uuid.uuid4())
    rec.set_log_time_enabled(False)
    rec.set_log_tick_enabled(False)
    try:
        rec.set_sinks(*sinks, default_blueprint=build_blueprint(viz_config))
    except RuntimeError as exc:  # e.g. the .rrd path is a directory
        raise InputError(f"viz: cannot open its output: {exc}") from exc
    rec.send_recording_name(viz_config.line)
    return RerunObserver(viz_config, rec, chunk_events=chunk_events, notify=say)
