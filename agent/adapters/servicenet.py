"""The Services plumbing and the pod dialer onto agent/network: the service CIDR
route, the cluster DNS address (agent/network/servicenet.py) and a TCP connection
made inside a pod's network namespace for port-forward (agent/network/dial.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agent.network import servicenet
from agent.network.dial import dial_pod  # re-exported: the agent's PodDialer
from agent.network.errors import NetworkError
from agent.proxy.ports import PlumbingError


async def _plumb(fn: Callable[..., None], *args: Any) -> None:
    try:
        await asyncio.to_thread(fn, *args)
    except NetworkError as e:
        raise PlumbingError(str(e)) from e


class ServiceNetAdapter:
    """agent.proxy.ports.ServiceNet in the network namespace the agent runs in."""

    async def ensure_route(self, service_cidr: str, bridge: str) -> None:
        await _plumb(servicenet.ensure_route, service_cidr, bridge)

    async def remove_route(self, service_cidr: str) -> None:
        await _plumb(servicenet.remove_route, service_cidr)

    async def ensure_dns_address(self, dns_ip: str) -> None:
        await _plumb(servicenet.ensure_dns_address, dns_ip)


__all__ = ["ServiceNetAdapter", "dial_pod"]
