"""--viz-serve: host names that resolve, IPv6 in brackets, a warning when others can connect."""

from __future__ import annotations

import importlib.util
import socket
import time

import pytest

from logloom.errors import InputError
from tests.viz.test_viz_adapter import feed, free_port, small_scene

pytestmark = pytest.mark.skipif(importlib.util.find_spec("rerun") is None,
                                reason="rerun-sdk (the viz extra) is not installed")


def _listening(port: int) -> list[str]:
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + 10
    found: list[str] = []
    while time.monotonic() < deadline and not found:
        found = [c.laddr.ip for c in psutil.Process().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    return found


def test_a_host_name_that_resolves_is_served_on_its_address() -> None:
    from logloom.viz.viz_adapter import make_viz_observer

    port = free_port()
    said: list[str] = []
    obs = make_viz_observer(small_scene(), spawn=False, save=None, serve=f"localhost:{port}", notify=said.append)
    try:
        assert _listening(port) in (["127.0.0.1"], ["::1"])
        assert any(f"rerun+http://127.0.0.1:{port}/proxy" in s or f"[::1]:{port}" in s for s in said), said
        assert not any("authentication" in s for s in said), "loopback needs no warning"
        feed(obs)
    finally:
        obs.close()


def test_ipv6_any_address_is_named_properly_and_warned_about() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    from logloom.viz.viz_adapter import make_viz_observer

    port = free_port()
    said: list[str] = []
    obs = make_viz_observer(small_scene(), spawn=False, save=None, serve=f"[::]:{port}", notify=said.append)
    try:
        assert _listening(port) == ["::"]
        serving = next(s for s in said if "serving on" in s)
        assert f"[::]:{port}" in serving and ":::" not in serving
        assert f"rerun+http://127.0.0.1:{port}/proxy" in serving  # a URL a viewer here can open
        assert any("no authentication" in s and "other machines" in s for s in said), said
    finally:
        obs.close()


def test_a_non_loopback_address_gets_the_warning() -> None:
    from logloom.viz.viz_adapter import make_viz_observer

    port = free_port()
    said: list[str] = []
    obs = make_viz_observer(small_scene(), spawn=False, save=None, serve=f"0.0.0.0:{port}", notify=said.append)
    try:
        assert any("no authentication" in s for s in said), said
    finally:
        obs.close()


def test_a_name_that_does_not_resolve_says_so() -> None:
    from logloom.viz.viz_adapter import make_viz_observer

    with pytest.raises(InputError, match="neither an IP address nor a name that resolves"):
        make_viz_observer(small_scene(), spawn=False, save=None, serve="no-such-host.invalid:9000")
