"""What the proxier needs from the node's kernel (real: nft.py, conntrack.py; the unit
tests use fakes). Everything happens in the network namespace the agent runs in."""

from __future__ import annotations

from typing import Protocol

from agent.proxy.transaction import Existing


class Netfilter(Protocol):
    async def apply(self, script: str) -> None:
        """Run one nft script as a single transaction (NftError if refused)."""
        ...

    async def existing(self) -> Existing | None:
        """The chains and sets of our table; None when there is no table."""
        ...

    async def delete_table(self) -> None: ...


class Conntrack(Protocol):
    async def flush_udp(self, orig_dst: str = "", orig_port: int = 0,
                        dst_nat: str = "") -> None:
        """Delete UDP flows to orig_dst[:orig_port] (that were DNATed to dst_nat)."""
        ...


class PlumbingError(Exception):
    """The service route or the cluster DNS address could not be put in place."""


class ServiceNet(Protocol):
    """The node's plumbing for Services (real: agent/adapters/servicenet.py over
    agent/network/servicenet.py); every call is idempotent and raises PlumbingError."""

    async def ensure_route(self, service_cidr: str, bridge: str) -> None: ...
    async def remove_route(self, service_cidr: str) -> None: ...
    async def ensure_dns_address(self, dns_ip: str) -> None: ...
