"""What the integrations share: a missing extra's error and listening addresses."""

from __future__ import annotations

import ipaddress
import socket

from logloom.errors import InputError, LogloomError


class ExtraMissingError(LogloomError):
    """An optional extra is not installed; the message carries the install command."""

    def __init__(self, option: str, package: str, extra: str) -> None:
        super().__init__(f"{option} needs {package}: pip install 'logloom[{extra}]'")


def parse_listen(option: str, text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[v6]:PORT`` -> (host, port); port 0 picks a free one."""
    text = text.strip()
    host, port = default_host, text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"{option} {text}: give [HOST:]PORT with a port from 0 to 65535 (0: any free port)")
    return host or default_host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False
