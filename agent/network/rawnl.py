"""The simple requests of a pod network setup in hand-written rtnetlink messages.

A fresh pod needs its veth pair made (on the bridge, up, eth0 in the pod netns),
the host end's alias and hairpin mode, and in the pod netns lo up, eth0's
address, eth0 up with its MTU and the default route. Through pyroute2 each
request costs ~0.9 ms of Python (request objects, its own event loop per handle:
~1.2 ms more to open one in a pod netns), which was most of a pod setup's CPU;
here each is a struct-packed message and its acknowledgement, a few
microseconds. The messages carry what pyroute2 (and iproute2) sent, checked
with ``ip -d``: the address as IFA_LOCAL and IFA_ADDRESS without a broadcast,
the route in the main table, ``proto static``, scope universe.
Errors are pyroute2's ``NetlinkError`` (code = errno), so the callers handle
both alike. The node's own links, addresses and routes (dumps included) are
rawlinks.py (a pod's teardown too); repairing a half-made pod and VXLAN still go
through pyroute2.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from typing import Self

from pyroute2.netlink.exceptions import NetlinkError

NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
IFF_UP = 0x1
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS = 3, 4, 10, 18, 20
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
VETH_INFO_PEER = 1
IFLA_BRPORT_MODE = 4            # hairpin
NLA_F_NESTED = 0x8000
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 4, 0, 1
TIMEOUT = 10.0          # seconds to wait for the kernel's answer

_HDR = struct.Struct("=IHHII")           # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")       # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")        # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")     # rtmsg: family, dst/src len, tos, table, proto,
                                         #        scope, type, flags


def _attr(kind: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


class RtnlSocket:
    """A NETLINK_ROUTE socket (in the namespace it was made in) and its requests."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.seq = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def link_up(self, index: int, mtu: int | None = None) -> None:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        if mtu:
            body += _attr(IFLA_MTU, struct.pack("=I", mtu))
        self._request(RTM_NEWLINK, 0, body)

    def veth_add(self, name: str, mtu: int, master: int, peer: str, peer_netns_fd: int) -> None:
        """``ip link add <name> mtu <mtu> master <master> up type veth peer name <peer>
        netns <fd> mtu <mtu>`` (the message iproute2 sends: nests without NLA_F_NESTED)."""
        peer_msg = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) \
            + _attr(IFLA_IFNAME, peer.encode() + b"\0") \
            + _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)) \
            + _attr(IFLA_MTU, struct.pack("=I", mtu))
        info = _attr(IFLA_INFO_KIND, b"veth\0") \
            + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_msg))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP) \
            + _attr(IFLA_IFNAME, name.encode() + b"\0") \
            + _attr(IFLA_MTU, struct.pack("=I", mtu)) \
            + _attr(IFLA_MASTER, struct.pack("=I", master)) \
            + _attr(IFLA_LINKINFO, info)
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_alias(self, index: int, alias: str) -> None:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) \
            + _attr(IFLA_IFALIAS, alias.encode() + b"\0")
        self._request(RTM_NEWLINK, 0, body)

    def hairpin(self, index: int) -> None:
        """``bridge link set dev <index> hairpin on`` (the link is a bridge port)."""
        data = _attr(IFLA_BRPORT_MODE, b"\1")
        info = _attr(IFLA_INFO_SLAVE_KIND, b"bridge\0") \
            + _attr(IFLA_INFO_SLAVE_DATA | NLA_F_NESTED, data)
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) \
            + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self._request(RTM_NEWLINK, 0, body)

    def addr_add(self, index: int, address: str, prefixlen: int) -> None:
        a = ipaddress.IPv4Address(address).packed
        body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) \
            + _attr(IFA_LOCAL, a) + _attr(IFA_ADDRESS, a)
        self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def default_route(self, gateway: str, oif: int) -> None:
        """``ip route replace default via <gateway> dev <oif>`` (main table)."""
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC,
                           RT_SCOPE_UNIVERSE, RTN_UNICAST, 0) \
            + _attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed) \
            + _attr(RTA_OIF, struct.pack("=I", oif))
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)

    def _request(self, mtype: int, flags: int, body: bytes) -> None:
        """Send one request and wait for its acknowledgement (raise its error)."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), mtype,
                                 flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                length, kind, _flags, got, _pid = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    raise NetlinkError(errno.EPROTO, "malformed netlink answer")
                if kind == NLMSG_ERROR and got == seq:
                    (code,) = struct.unpack_from("=i", data, off + _HDR.size)
                    if code:
                        raise NetlinkError(-code, os.strerror(-code))
                    return
                off += (length + 3) & ~3
