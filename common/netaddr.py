"""HOST:PORT addresses as the daemons' flags take them: whether one is loopback.

Shared by the control plane and the agent (``--insecure`` is allowed only on
loopback, and so are their metrics endpoints by default)."""

from __future__ import annotations

import ipaddress


def host_of(address: str) -> str:
    """The host of HOST:PORT ("[::1]:80" -> "::1")."""
    return address.rpartition(":")[0].strip("[]")


def is_loopback_host(host: str) -> bool:
    """Whether a host name or IP is loopback (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback(address: str) -> bool:
    """Whether HOST:PORT names a loopback address (127.0.0.0/8, ::1, localhost)."""
    return is_loopback_host(host_of(address))
