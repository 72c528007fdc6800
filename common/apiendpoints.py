"""One gRPC channel over several API servers: client-side balancing, health checks and
retries with back-off, the way k3s' agents balance over all their servers.

    servers = split_servers("10.0.0.5:6445,10.0.0.6:6445,10.0.0.7:6445")
    target, options = channel_target(servers)
    channel = grpc.secure_channel(target, credentials, options=[*mine, *options])

With one server nothing changes (the target is that address). With several, the
channel (gRPC's own machinery, no proxy in between):

- connects to every server and spreads calls over those that are up
  (`round_robin`); a server that goes away drops out at once (its connection
  breaks), one that comes back rejoins by itself (reconnect back-off 0.2-2 s);
- asks each server's health service about `corral.v1.Api` and leaves out one that
  says NOT_SERVING: a control plane whose etcd member is cut off from the majority
  says so (controlplane/apiserver/server.py: track_readiness);
- retries a call that failed with UNAVAILABLE on another server, up to 5 attempts
  with exponential back-off from 0.2 s to 2 s (jittered), before the caller sees it.

Every server's certificate must be valid for the name the channel checks: the first
server's host (or `tls-server-name`). A clustered control plane's certificate names
every member's address for this reason. Host names are resolved once, when the
channel is made; the target is `ipv4:`/`ipv6:` addresses.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Sequence
from typing import Any

SERVICE = "corral.v1.Api"

SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": SERVICE},
    "methodConfig": [{
        "name": [{"service": SERVICE}],
        "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.2s", "maxBackoff": "2s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }],
}


class ServerListError(ValueError):
    """A server list that cannot be used (a malformed address, mixed IPv4 and IPv6)."""


def split_servers(servers: str | Sequence[str]) -> list[str]:
    """"a:1,b:2" (or a list of such) -> ["a:1", "b:2"], without schemes and blanks."""
    items = servers.split(",") if isinstance(servers, str) else \
        [x for s in servers for x in s.split(",")]
    out = []
    for item in items:
        s = item.strip()
        for scheme in ("grpcs://", "grpc://", "https://", "http://"):
            s = s.removeprefix(scheme)
        s = s.rstrip("/")
        if s and s not in out:
            out.append(s)
    return out


def _resolve(address: str) -> tuple[int, str]:
    """(4 or 6, "ip:port" / "[ip]:port") of HOST:PORT."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise ServerListError(f"server {address!r} is not HOST:PORT")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            info = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError as e:
            raise ServerListError(f"server {address!r}: cannot resolve {host}: {e}") from None
        ip = ipaddress.ip_address(info[0][4][0])
    return (ip.version, f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}")


def channel_target(servers: str | Sequence[str]) -> tuple[str, list[tuple[str, Any]]]:
    """The gRPC target and channel options for one server or several."""
    addresses = split_servers(servers)
    if not addresses:
        raise ServerListError("no server address given")
    if len(addresses) == 1:
        return addresses[0], []
    resolved = [_resolve(a) for a in addresses]
    families = {v for v, _ in resolved}
    if len(families) > 1:
        raise ServerListError("a server list mixes IPv4 and IPv6 addresses: "
                              + ", ".join(addresses))
    scheme = "ipv6" if families == {6} else "ipv4"
    target = f"{scheme}:" + ",".join(a for _, a in resolved)
    return target, [("grpc.service_config", json.dumps(SERVICE_CONFIG)),
                    # the name every server's certificate is checked against
                    ("grpc.default_authority", addresses[0])]
