"""The cluster's service network: the CIDR cluster IPs come from, the node port range.

    net = ServiceNetwork.parse("10.96.0.0/12", "30000-32767")
    net.kubernetes_ip        10.96.0.1     (the `kubernetes` Service, like Kubernetes)
    net.dns_ip               10.96.0.10    (reserved: every node's local DNS answers on it)

Like Kubernetes (KEP-3070, KEP-3668), each pool has a static band at its start
that dynamic allocation uses only once the rest is full, so an address or port
that a manifest asks for rarely collides with one handed out at random.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORTS = "30000-32767"


class NetworkConfigError(ValueError):
    """A malformed --service-cluster-ip-range or --service-node-port-range."""


@dataclass(frozen=True)
class ServiceNetwork:
    cidr: ipaddress.IPv4Network
    port_lo: int = 30000
    port_hi: int = 32767

    @classmethod
    def parse(cls, cidr: str = DEFAULT_CIDR, ports: str = DEFAULT_NODE_PORTS,
              ) -> ServiceNetwork:
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError as e:
            raise NetworkConfigError(f"service CIDR {cidr!r}: {e}") from None
        if not isinstance(net, ipaddress.IPv4Network):
            raise NetworkConfigError(f"service CIDR {cidr!r}: only IPv4 is supported")
        if net.prefixlen > 28:
            raise NetworkConfigError(f"service CIDR {cidr!r} is too small (at most /28)")
        if net.prefixlen < 12:
            raise NetworkConfigError(f"service CIDR {cidr!r} is too large (at least /12, "
                                     "like Kubernetes)")
        lo_s, sep, hi_s = ports.partition("-")
        try:
            lo, hi = int(lo_s), int(hi_s if sep else lo_s)
        except ValueError:
            raise NetworkConfigError(f"node port range {ports!r}: expected FROM-TO") from None
        if not 1 <= lo <= hi <= 65535:
            raise NetworkConfigError(f"node port range {ports!r}: expected 1 <= FROM <= TO "
                                     "<= 65535")
        return cls(net, lo, hi)

    # ---- addresses ------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Usable addresses: the network and broadcast addresses are never handed out."""
        return self.cidr.num_addresses - 2

    def ip_at(self, offset: int) -> str:
        """The address `offset` (0-based) among the usable ones."""
        return str(self.cidr.network_address + 1 + offset)

    def offset_of(self, ip: str) -> int | None:
        """`ip`'s offset among the usable addresses; None if it is not one."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr not in self.cidr or addr in (self.cidr.network_address,
                                             self.cidr.broadcast_address):
            return None
        return int(addr) - int(self.cidr.network_address) - 1

    @property
    def kubernetes_ip(self) -> str:
        return self.ip_at(0)

    @property
    def dns_ip(self) -> str:
        return self.ip_at(9)

    @property
    def ip_static_band(self) -> int:
        return min(max(16, self.size // 16), 256)

    def reserved_ip(self, ip: str) -> str:
        """Why `ip` may not be allocated ("" if it may)."""
        return "it is the cluster DNS address" if ip == self.dns_ip else ""

    # ---- node ports -----------------------------------------------------------------

    @property
    def ports(self) -> int:
        return self.port_hi - self.port_lo + 1

    @property
    def port_static_band(self) -> int:
        return min(max(16, self.ports // 32), 128)

    def port_range(self) -> str:
        return f"{self.port_lo}-{self.port_hi}"
