"""agent/network: pod networking like flannel host-gw, in rtnetlink (raw messages, pyroute2).

One bridge per node holding the first address of the node's pod CIDR, one
network namespace and veth pair per pod, pod IPs from a node-local IPAM
persisted in the agent's data dir, and a route per other node's pod CIDR via
that node's InternalIP. Everything happens in the network namespace of the
calling process — the node's (the local cluster runs each agent under
``nsenter --net=<node-ns>``, Vagrant in the VM's own namespace).

Facade::

    net = PodNetwork(data_dir, "10.244.1.0/24", bridge_name="corral0",
                     node_ip="10.99.0.11", netns_prefix="corral-node1-")
    net.ensure_node()                        # bridge 10.244.1.1/24 up, ip_forward=1
    info = net.setup_pod(uid, "default", "web-1")
    #   PodNetInfo(ip="10.244.1.2", netns_name="corral-node1-3f2a...",
    #              netns_path="/var/run/netns/corral-node1-3f2a...", gateway="10.244.1.1")
    net.teardown_pod(uid)                    # veth, netns, address gone; idempotent
    net.sync_routes([("10.244.2.0/24", "10.99.0.12"), ...])   # others' CIDRs
    net.cleanup_orphans(live_pod_uids)       # after a restart: drop what no pod owns
    net.status()                             # a dict for logs / node status

Contract:

- ``setup_pod`` is idempotent (a re-run after a crash reuses or repairs) and
  all-or-nothing (on error nothing it made is left: no netns, veth or IP; a
  full pod CIDR raises ``IPAMExhausted`` before anything is made).
  ``host_network=True`` makes nothing and reports the node IP.
- Netns names must be unique on the machine (``/var/run/netns`` is global);
  give each node its own ``netns_prefix`` (the local cluster: include the node
  name). ``cleanup_orphans`` removes only netns with that prefix.
- Bind mounts naming pod netns are made in the mount namespace owning
  ``/var/run/netns`` (see :mod:`agent.network.netns`), so they survive the
  agent and are visible to ``ip netns`` even under ``ip netns exec``.
  ``mount_ns="auto"`` (default) detects that namespace, ``None`` means the
  caller's own, a path (``/proc/<pid>/ns/mnt``) names one.
- Routes we make carry ``proto 0x43``; nothing else is ever changed.
- ``backend="vxlan"`` (optional, :mod:`agent.network.vxlan`) reaches the other
  nodes' pod CIDRs through a VXLAN device instead of host-gw routes, for nodes
  that do not share one L2 segment; pod MTU is then the uplink's minus 50.
- Outbound NAT (:mod:`agent.network.nat`) is off unless ``outbound_nat=True``.
- Errors: :mod:`agent.network.errors` (``NetworkError`` and children).
- The methods block; call them from a worker thread in async code. One
  PodNetwork per node; its netlink work runs serialised on a thread of its
  own with one long-lived handle (:mod:`agent.network.nlthread`); ``close()``.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path
from typing import Any

from agent.network import bridge, nat, netns, pod, routes, vxlan
from agent.network.errors import (
    InvalidNetworkConfig,
    IPAMError,
    IPAMExhausted,
    LinkError,
    NetnsError,
    NetworkError,
    RouteError,
)
from agent.network.ipam import IPAM
from agent.network.nlthread import NetlinkThread
from agent.network.pod import PodNetInfo
from agent.network.routes import SyncResult

__all__ = [
    "IPAM",
    "IPAMError",
    "IPAMExhausted",
    "InvalidNetworkConfig",
    "LinkError",
    "NetnsError",
    "NetworkError",
    "PodNetInfo",
    "PodNetwork",
    "RouteError",
    "SyncResult",
]

DEFAULT_MTU = 1500
BACKENDS = ("host-gw", "vxlan")
_AUTO = "auto"


class PodNetwork:
    """The pod network of one node; see the module docstring."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        pod_cidr: str,
        bridge_name: str = "corral0",
        node_ip: str = "",
        *,
        netns_prefix: str = "corral-",
        mtu: int | None = None,
        mount_ns: str | None = _AUTO,
        outbound_nat: bool = False,
        cluster_cidr: str = "",
        backend: str = "host-gw",
        vxlan_name: str = "corral.1",
        vxlan_vni: int = 1,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.ipam = IPAM(self.data_dir, pod_cidr)
        self.pod_cidr = self.ipam.network
        self.bridge_name = bridge.check_ifname(bridge_name)
        if node_ip:
            try:
                ipaddress.IPv4Address(node_ip)
            except ValueError:
                raise InvalidNetworkConfig(f"node IP {node_ip!r} is not an IPv4 address") from None
        self.node_ip = node_ip
        if not netns_prefix:
            raise InvalidNetworkConfig("netns_prefix must be non-empty")
        netns.check_name(netns_prefix + "0" * 12)
        self.netns_prefix = netns_prefix
        if mtu is not None and not 576 <= mtu <= 65535:
            raise InvalidNetworkConfig(f"MTU {mtu} is out of range (576-65535)")
        self._mtu = mtu
        self.outbound_nat = outbound_nat
        if backend not in BACKENDS:
            raise InvalidNetworkConfig(
                f"network backend {backend!r} is unknown (one of {', '.join(BACKENDS)})"
            )
        if backend == "vxlan" and not node_ip:
            raise InvalidNetworkConfig("the vxlan backend needs node_ip")
        if not 0 < vxlan_vni < 1 << 24:
            raise InvalidNetworkConfig(f"VXLAN VNI {vxlan_vni} is out of range (1-16777215)")
        self.backend = backend
        self.vxlan_name = bridge.check_ifname(vxlan_name)
        self.vxlan_vni = vxlan_vni
        self.cluster_cidr = cluster_cidr
        self._lock = threading.RLock()
        self._nl = NetlinkThread(f"netlink-{self.bridge_name}")
        owner = netns.find_owner_mount_ns() if mount_ns == _AUTO else mount_ns
        self.mount_ns = owner
        self._mount_ns_fd = netns.open_mount_ns(owner)

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        self._nl.close()
        if self._mount_ns_fd is not None:
            os.close(self._mount_ns_fd)
            self._mount_ns_fd = None

    def __enter__(self) -> PodNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def gateway(self) -> str:
        return str(self.ipam.gateway)

    @property
    def mtu(self) -> int:
        """Pod MTU: ``mtu`` if given, else the uplink's (minus 50 with vxlan)."""
        if self._mtu is None:
            found = None
            if self.node_ip:
                found = self._nl.call_raw(bridge.mtu_of_address, self.node_ip)
            uplink = found or DEFAULT_MTU
            self._mtu = uplink - vxlan.VXLAN_OVERHEAD if self.backend == "vxlan" else uplink
        return self._mtu

    def _cfg(self) -> pod.PodNetConfig:
        return pod.PodNetConfig(ipam=self.ipam, bridge=self.bridge_name,
                                netns_prefix=self.netns_prefix, mtu=self.mtu,
                                mount_ns_fd=self._mount_ns_fd)

    # -- the API ---------------------------------------------------------------

    def ensure_node(self) -> None:
        """Bridge up with the gateway address, ip_forward on, NAT if asked. Idempotent."""
        gw = ipaddress.IPv4Interface(f"{self.ipam.gateway}/{self.pod_cidr.prefixlen}")
        with self._lock:
            mtu = self.mtu
            self._nl.call_raw(bridge.ensure_bridge, self.bridge_name, gw, mtu)
            if self.backend == "vxlan":
                self._nl.call(vxlan.ensure_vtep, self.vxlan_name, self.node_ip, self.pod_cidr,
                              mtu, self.vxlan_vni)
            bridge.enable_ip_forward()
            if self.outbound_nat:
                nat.ensure_masquerade(str(self.pod_cidr), self.cluster_cidr, enabled=True)

    def setup_pod(self, pod_uid: str, namespace: str, name: str, *,
                  host_network: bool = False) -> PodNetInfo:
        """Give the pod a netns, an eth0 on the bridge, an IP and a default route."""
        if host_network:
            return PodNetInfo(ip=self.node_ip, netns_name="", netns_path="", gateway="")
        with self._lock:
            return self._nl.call_raw(pod.setup, self._cfg(), pod_uid, f"{namespace}/{name}",
                                    self._nl.iproute)

    def teardown_pod(self, pod_uid: str) -> None:
        """Remove the pod's veth and netns and free its IP. Idempotent."""
        with self._lock:
            self._nl.call_raw(pod.teardown, self._cfg(), pod_uid)

    def sync_routes(self, nodes: list[tuple[str, str]]) -> SyncResult:
        """``nodes``: (podCIDR, InternalIP) of every node (ours is skipped)."""
        with self._lock:
            if self.backend == "vxlan":
                return self._nl.call(vxlan.sync, self.vxlan_name, nodes, self.pod_cidr)
            return self._nl.call_raw(routes.sync, nodes, self.pod_cidr)

    def cleanup_orphans(self, live_pod_uids: set[str] | list[str]) -> list[str]:
        """Remove netns, veths and IPs of pods not alive; return what was removed."""
        with self._lock:
            return self._nl.call_raw(pod.cleanup_orphans, self._cfg(), set(live_pod_uids))

    def pod_info(self, pod_uid: str) -> PodNetInfo | None:
        """The network of a pod set up earlier (None if it has no address)."""
        ip = self.ipam.lookup(pod_uid)
        if ip is None:
            return None
        ns = pod.netns_name(self.netns_prefix, pod_uid)
        return PodNetInfo(
            ip=str(ip),
            netns_name=ns,
            netns_path=netns.path_of(ns),
            gateway=self.gateway,
            host_veth=pod.host_veth_name(pod_uid),
            prefixlen=self.pod_cidr.prefixlen,
        )

    def status(self) -> dict[str, Any]:
        """A summary for logs and debugging."""
        with self._lock:
            br = self._nl.call_raw(bridge.link_index, self.bridge_name)
            own = self._nl.call_raw(routes.owned_routes)
        allocations = self.ipam.list()
        return {
            "podCIDR": str(self.pod_cidr),
            "gateway": self.gateway,
            "bridge": self.bridge_name,
            "bridgePresent": br is not None,
            "ipForward": bridge.read_sysctl("net.ipv4.ip_forward") == "1",
            "mtu": self.mtu,
            "allocated": {str(ip): key for ip, key in sorted(allocations.items())},
            "free": self.ipam.capacity - len(allocations),
            "netns": netns.list_names(self.netns_prefix),
            "routes": {str(k): v for k, v in sorted(own.items())},
            "mountNamespace": self.mount_ns or "own",
            "backend": self.backend,
        }
