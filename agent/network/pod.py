"""One pod's network: its netns, its veth pair, its address, its default route.

Names come from a hash of the pod uid, so they can be recomputed after a crash
with no state file: ``h = sha256(uid)``; the netns is ``<prefix><h[:12]>``
(in ``/var/run/netns``, where the runtime setns()es into it), the host end of
the veth is ``veth<h[:11]>`` (enslaved to the bridge, ifalias ``corral:<uid>``)
and its peer, created directly inside the pod netns, is ``eth0``. Since the
peer never exists outside the pod netns, removing the netns removes the pair.

Setup order: netns, veth, address (IPAM), configuration. Every step checks
what is already there, so running setup again after a crash at any point
reuses or repairs; a failure rolls back what this call made, so an error (an
exhausted CIDR, say) leaves nothing half-made. ``cleanup_orphans`` removes the
netns, veths and addresses of pods that are not alive (e.g. the agent was
killed between creating the veth and recording the address).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

import agent.network.netns as netns
from agent.network.bridge import link_index
from agent.network.errors import InvalidNetworkConfig, LinkError, NetworkError
from agent.network.ipam import IPAM
from agent.network.nlthread import away, pod_iproute, pod_rtnl
from agent.network.rawlinks import NodeRtnl
from agent.network.rawnl import RtnlSocket

POD_IFNAME = "eth0"
ALIAS_PREFIX = "corral:"


@dataclass(frozen=True)
class PodNetInfo:
    """What the runtime and the pod status need: ``ip`` is status.podIP."""

    ip: str
    netns_name: str
    netns_path: str
    gateway: str
    host_veth: str = ""
    prefixlen: int = 0


def uid_hash(pod_uid: str) -> str:
    if not pod_uid or "\n" in pod_uid:
        raise InvalidNetworkConfig(f"pod uid {pod_uid!r} must be a non-empty single line")
    return hashlib.sha256(pod_uid.encode()).hexdigest()


def netns_name(prefix: str, pod_uid: str) -> str:
    return netns.check_name(prefix + uid_hash(pod_uid)[:12])


def host_veth_name(pod_uid: str) -> str:
    return "veth" + uid_hash(pod_uid)[:11]


def _veth_for_netns(prefix: str, name: str) -> str:
    return "veth" + name[len(prefix):][:11]


@dataclass
class PodNetConfig:
    """Everything about the node a pod setup needs."""

    ipam: IPAM
    bridge: str
    netns_prefix: str
    mtu: int
    mount_ns_fd: int | None = None


def setup(nl: NodeRtnl, cfg: PodNetConfig, pod_uid: str, label: str,
          iproute: Callable[[], Any]) -> PodNetInfo:
    """Create (or reuse/repair) the network of pod ``pod_uid``; see the module doc.
    ``nl``: the node's raw socket; ``iproute()``: the node's pyroute2 handle, opened
    (and pyroute2's IPRoute imported) only to repair a half-made pod."""
    ns = netns_name(cfg.netns_prefix, pod_uid)
    veth = host_veth_name(pod_uid)
    gw = ipaddress.IPv4Interface(f"{cfg.ipam.gateway}/{cfg.ipam.network.prefixlen}")
    made_ns = made_veth = made_ip = False
    bridge_idx = link_index(nl, cfg.bridge)
    if bridge_idx is None:
        raise LinkError(f"bridge {cfg.bridge} does not exist; ensure_node() first")
    if cfg.ipam.free_count() == 0 and cfg.ipam.lookup(pod_uid) is None:
        # Fail before making anything (claim() below re-checks under its lock).
        cfg.ipam.claim(pod_uid, label)
    try:
        if not netns.exists(ns):
            netns.create(ns, cfg.mount_ns_fd, in_thread=away)
            made_ns = True
        path = netns.path_of(ns)
        # a fresh netns needs no pyroute2 handle in it: the raw socket does its requests
        with pod_rtnl(path) as pod_nl, \
                (contextlib.nullcontext() if made_ns else pod_iproute(path)) as pod_ipr:
            host_idx, made_veth = _ensure_veth(nl, iproute, pod_ipr, path, veth, pod_uid,
                                               cfg.mtu, bridge_idx, fresh=made_ns)
            ip, made_ip = cfg.ipam.claim(pod_uid, label)   # one scan of the records
            if not made_veth:
                _configure_host_end(iproute(), veth, host_idx, bridge_idx, cfg.mtu)
            _hairpin(nl, veth, host_idx)
            _configure_pod_side(pod_nl, pod_ipr, ip, gw, cfg.mtu)
    except BaseException:
        # roll back what this call made; a rollback error must not hide the cause
        with contextlib.suppress(NetworkError):
            if made_veth or made_ns:
                _delete_link(nl, veth)
        if made_ns:
            _quiet_remove_netns(ns, cfg.mount_ns_fd)
        with contextlib.suppress(NetworkError):
            if made_ip:
                cfg.ipam.release(pod_uid)
        raise
    return PodNetInfo(
        ip=str(ip),
        netns_name=ns,
        netns_path=path,
        gateway=str(gw.ip),
        host_veth=veth,
        prefixlen=gw.network.prefixlen,
    )


def teardown(nl: NodeRtnl, cfg: PodNetConfig, pod_uid: str) -> None:
    """Remove the pod's veth and netns and free its address. Idempotent."""
    _delete_link(nl, host_veth_name(pod_uid))
    netns.remove(netns_name(cfg.netns_prefix, pod_uid), cfg.mount_ns_fd)
    cfg.ipam.release(pod_uid)


def cleanup_orphans(nl: NodeRtnl, cfg: PodNetConfig, live_pod_uids: set[str]) -> list[str]:
    """Remove netns, veths and addresses of pods not in ``live_pod_uids``.

    Returns the names of what was removed (for logs). Only things carrying our
    marks are touched: netns named ``<prefix><12 hex>``, veths whose ifalias
    starts with ``corral:`` or whose name pairs with such a netns.
    """
    removed: list[str] = []
    live_ns = {netns_name(cfg.netns_prefix, u) for u in live_pod_uids}
    live_veths = {host_veth_name(u) for u in live_pod_uids}
    for ns in netns.list_names(cfg.netns_prefix):
        suffix = ns[len(cfg.netns_prefix):]
        if ns in live_ns or len(suffix) != 12 or not _is_hex(suffix):
            continue
        veth = _veth_for_netns(cfg.netns_prefix, ns)
        if veth not in live_veths and _delete_link(nl, veth):
            removed.append(veth)
        netns.remove(ns, cfg.mount_ns_fd)
        removed.append(ns)
    bridge_idx = link_index(nl, cfg.bridge)
    for link in nl.links():
        if (
            link.alias.startswith(ALIAS_PREFIX)
            and link.kind == "veth"
            and link.master in (None, bridge_idx)  # not another bridge's pod
            and link.name not in live_veths
            and _delete_link(nl, link.name)
        ):
            removed.append(link.name)
    removed.extend(str(ip) for ip in cfg.ipam.reconcile(live_pod_uids))
    return removed


# -- steps -----------------------------------------------------------------------


def _ensure_veth(nl: NodeRtnl, iproute: Callable[[], Any], pod_ipr: Any, netns_path: str,
                 veth: str, uid: str, mtu: int, bridge_idx: int,
                 fresh: bool = False) -> tuple[int, bool]:
    """Make sure ``veth`` (here) pairs with ``eth0`` (in the pod netns): its index, and
    True if created (then it is already on the bridge and up: one request sets master,
    mtu and state). ``fresh``: the pod netns was made just now, so it has no eth0."""
    host_idx = link_index(nl, veth)
    pod_idx = None if fresh else link_index(pod_ipr, POD_IFNAME)
    if host_idx is not None and pod_idx is not None and \
            _are_peers(iproute(), host_idx, pod_ipr, pod_idx):
        return host_idx, False
    # Half-made or mismatched (a crash, a recreated netns): start this pair over.
    if host_idx is not None:
        _delete_link(nl, veth)
    if pod_idx is not None:
        try:
            pod_ipr.link("del", index=pod_idx)
        except NetlinkError as e:
            raise LinkError(f"cannot remove stale {POD_IFNAME} in {netns_path}: {e}") from e
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        nl.veth_add(veth, mtu, bridge_idx, POD_IFNAME, fd)
    except NetlinkError as e:
        raise LinkError(f"cannot create veth pair {veth}/{POD_IFNAME} for pod {uid}: {e}") from e
    finally:
        os.close(fd)
    idx = link_index(nl, veth)
    if idx is None:
        raise LinkError(f"veth {veth} is missing")
    try:
        nl.set_alias(idx, ALIAS_PREFIX + uid)
    except NetlinkError as e:
        raise LinkError(f"cannot label veth {veth}: {e}") from e
    return idx, True


def _are_peers(ipr: Any, host_idx: int, pod_ipr: Any, pod_idx: int) -> bool:
    """veth ends point at each other's ifindex (IFLA_LINK) and are both veths."""
    host = ipr.get_links(host_idx)[0]
    pod = pod_ipr.get_links(pod_idx)[0]
    return bool(
        host.get(("linkinfo", "kind")) == "veth"
        and pod.get(("linkinfo", "kind")) == "veth"
        and host.get("link") == pod_idx
        and pod.get("link") == host_idx
    )


def _configure_host_end(ipr: Any, veth: str, idx: int, bridge_idx: int, mtu: int) -> None:
    try:
        ipr.link("set", index=idx, master=bridge_idx, mtu=mtu)
        ipr.link("set", index=idx, state="up")
    except NetlinkError as e:
        raise LinkError(f"cannot attach {veth} to the bridge: {e}") from e


def _hairpin(nl: RtnlSocket, veth: str, idx: int) -> None:
    """Hairpin mode on the pod's bridge port (like the CNI bridge plugin's hairpinMode):
    a pod reaching itself through a Service gets its packets back out of the port they
    came in by."""
    try:
        nl.hairpin(idx)
    except NetlinkError as e:
        raise LinkError(f"cannot set hairpin mode on {veth}: {e}") from e


def _configure_pod_side(
    pod_nl: RtnlSocket, pod_ipr: Any, ip: ipaddress.IPv4Address, gw: ipaddress.IPv4Interface,
    mtu: int,
) -> None:
    """lo up; eth0 with ``ip``, ``mtu``, up; default route via ``gw``. ``pod_ipr`` is None
    when the netns was made just now (then eth0 has no address to check)."""
    try:
        lo = link_index(pod_nl, "lo")
        if lo is None:
            raise LinkError("lo is missing in the pod netns")
        pod_nl.link_up(lo)
        idx = link_index(pod_nl, POD_IFNAME)
        if idx is None:
            raise LinkError(f"{POD_IFNAME} is missing in the pod netns")
        want = (str(ip), gw.network.prefixlen)
        have = set() if pod_ipr is None else {
            (a.get("address"), a.get("prefixlen"))
            for a in pod_ipr.get_addr(family=2, index=idx)
        }
        for addr, plen in have - {want}:
            pod_ipr.addr("del", index=idx, address=addr, prefixlen=plen)
        if want not in have:
            pod_nl.addr_add(idx, want[0], want[1])
        pod_nl.link_up(idx, mtu)
        pod_nl.default_route(str(gw.ip), idx)
    except NetlinkError as e:
        raise LinkError(f"cannot configure {POD_IFNAME} ({ip}) in the pod netns: {e}") from e


def _delete_link(nl: NodeRtnl, name: str) -> bool:
    idx = link_index(nl, name)
    if idx is None:
        return False
    link = nl.link(idx)
    if link is None:
        return False
    if link.kind != "veth":
        raise LinkError(f"{name} is not a veth; refusing to delete it")
    try:
        nl.link_del(idx)
    except NetlinkError as e:
        if e.code == 19:  # ENODEV: gone meanwhile
            return False
        raise LinkError(f"cannot delete veth {name}: {e}") from e
    return True


def _quiet_remove_netns(name: str, mount_ns_fd: int | None) -> None:
    try:
        netns.remove(name, mount_ns_fd)
    except NetworkError:
        pass


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdef" for c in s)
