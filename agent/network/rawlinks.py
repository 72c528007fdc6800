"""The node-side rtnetlink work of an idle agent in hand-written messages (rawnl.py's
socket): dumps of links, IPv4 addresses and routes, and the requests that keep the
node's bridge, its host-gw routes and the Services' plumbing as they should be, and
remove a pod's veth.

With these, an agent that only keeps its node in shape never imports pyroute2's
IPRoute (its imports are ~5 MB of an idle agent's RSS: the message classes, and
``unittest.mock`` and ``multiprocessing`` it pulls in); pyroute2 is imported on the
first job that needs it (repairing a half-made pod, VXLAN). The requests carry
what pyroute2 sent for the same calls (``ip -d`` shows the same links, addresses and
routes); errors are pyroute2's ``NetlinkError`` (code = errno), as in rawnl.py.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

import agent.network.rawnl as rawnl
from agent.network.rawnl import _HDR, _IFADDR, _IFINFO, _RTMSG, IFF_UP, RtnlSocket, _attr

NLMSG_DONE = 3
NLM_F_DUMP = 0x300
RTM_DELLINK, RTM_GETLINK, RTM_DELADDR, RTM_GETADDR = 17, 18, 21, 22
RTM_DELROUTE, RTM_GETROUTE = 25, 26
IFA_LABEL = 3
RTA_DST, RTA_TABLE = 1, 15
RT_SCOPE_NOWHERE = 255


@dataclass
class Link:
    index: int
    name: str = ""
    mtu: int = 0
    master: int | None = None
    alias: str = ""
    kind: str | None = None             # IFLA_INFO_KIND: "bridge", "veth", ...


@dataclass
class Addr:
    index: int
    prefixlen: int
    address: str = ""                   # IFA_ADDRESS
    label: str = ""


@dataclass
class Route:
    dst: ipaddress.IPv4Network
    table: int
    proto: int
    gateway: str = ""


def _attrs(data: bytes, off: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while off + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out.setdefault(kind & 0x3FFF, data[off + 4:off + length])
        off += (length + 3) & ~3
    return out


def _text(raw: bytes | None) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw else ""


def _u32(raw: bytes | None) -> int | None:
    return struct.unpack("=I", raw[:4])[0] if raw and len(raw) >= 4 else None


def _link(data: bytes, off: int, end: int) -> Link:
    _fam, _type, index, _flags, _change = _IFINFO.unpack_from(data, off)
    a = _attrs(data, off + _IFINFO.size, end)
    info = a.get(rawnl.IFLA_LINKINFO)
    kind = _attrs(info, 0, len(info)).get(rawnl.IFLA_INFO_KIND) if info else None
    return Link(index, _text(a.get(rawnl.IFLA_IFNAME)), _u32(a.get(rawnl.IFLA_MTU)) or 0,
                _u32(a.get(rawnl.IFLA_MASTER)), _text(a.get(rawnl.IFLA_IFALIAS)),
                _text(kind) if kind is not None else None)


class NodeRtnl(RtnlSocket):
    """A NETLINK_ROUTE socket in the calling thread's network namespace, with dumps."""

    def __init__(self) -> None:
        super().__init__(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0))

    # ---- dumps --------------------------------------------------------------------

    def _dump(self, mtype: int, body: bytes) -> list[tuple[bytes, int, int]]:
        """(message, start of its body, its end) of every part of the kernel's answer."""
        return self._ask(mtype, NLM_F_DUMP, body)

    def _ask(self, mtype: int, flags: int, body: bytes) -> list[tuple[bytes, int, int]]:
        """Send a request; collect its answer: up to NLMSG_DONE for a dump, else the one
        message the kernel sends back."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), mtype,
                                 flags | rawnl.NLM_F_REQUEST, seq, 0) + body)
        out: list[tuple[bytes, int, int]] = []
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off + _HDR.size <= len(data):
                length, kind, _flags, got, _pid = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    raise NetlinkError(errno.EPROTO, "malformed netlink answer")
                if got == seq:
                    if kind == NLMSG_DONE:
                        return out
                    if kind == rawnl.NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, off + _HDR.size)
                        raise NetlinkError(-code, os.strerror(-code))
                    out.append((data, off + _HDR.size, off + length))
                    if not flags & NLM_F_DUMP:
                        return out
                off += (length + 3) & ~3

    def links(self) -> list[Link]:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        return [_link(*part) for part in self._dump(RTM_GETLINK, body)]

    def link(self, index: int) -> Link | None:
        """Link `index` alone (one request, not a dump of every link), or None if gone."""
        try:
            (part,) = self._ask(RTM_GETLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0))
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        return _link(*part)

    def addrs(self, index: int | None = None) -> list[Addr]:
        """The IPv4 addresses (of link `index`, or all)."""
        out = []
        for data, off, end in self._dump(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            fam, plen, _flags, _scope, idx = _IFADDR.unpack_from(data, off)
            if fam != socket.AF_INET or (index is not None and idx != index):
                continue
            a = _attrs(data, off + _IFADDR.size, end)
            raw = a.get(rawnl.IFA_ADDRESS) or a.get(rawnl.IFA_LOCAL)
            out.append(Addr(idx, plen, socket.inet_ntoa(raw) if raw else "",
                            _text(a.get(IFA_LABEL))))
        return out

    def routes(self, table: int) -> list[Route]:
        """The IPv4 routes of `table`."""
        out = []
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        for data, off, end in self._dump(RTM_GETROUTE, body):
            fam, dst_len, _src, _tos, tbl, proto, _scope, _type, _fl = _RTMSG.unpack_from(data, off)
            a = _attrs(data, off + _RTMSG.size, end)
            if fam != socket.AF_INET or (_u32(a.get(RTA_TABLE)) or tbl) != table:
                continue
            dst = socket.inet_ntoa(a[RTA_DST]) if RTA_DST in a else "0.0.0.0"
            gw = a.get(rawnl.RTA_GATEWAY)
            out.append(Route(ipaddress.IPv4Network(f"{dst}/{dst_len}"), table, proto,
                             socket.inet_ntoa(gw) if gw else ""))
        return out

    # ---- requests -----------------------------------------------------------------

    def bridge_add(self, name: str) -> None:
        """``ip link add <name> type bridge``."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) \
            + _attr(rawnl.IFLA_IFNAME, name.encode() + b"\0") \
            + _attr(rawnl.IFLA_LINKINFO | rawnl.NLA_F_NESTED,
                    _attr(rawnl.IFLA_INFO_KIND, b"bridge\0"))
        self._request(rawnl.RTM_NEWLINK, rawnl.NLM_F_CREATE | rawnl.NLM_F_EXCL, body)

    def set_mtu(self, index: int, mtu: int) -> None:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) \
            + _attr(rawnl.IFLA_MTU, struct.pack("=I", mtu))
        self._request(rawnl.RTM_NEWLINK, 0, body)

    def set_up(self, index: int) -> None:
        self._request(rawnl.RTM_NEWLINK, 0,
                      _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))

    def link_del(self, index: int) -> None:
        self._request(RTM_DELLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0))

    def addr_add_labelled(self, index: int, address: str, prefixlen: int, label: str) -> None:
        a = ipaddress.IPv4Address(address).packed
        body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) \
            + _attr(rawnl.IFA_LOCAL, a) + _attr(rawnl.IFA_ADDRESS, a) \
            + _attr(IFA_LABEL, label.encode() + b"\0")
        self._request(rawnl.RTM_NEWADDR, rawnl.NLM_F_CREATE | rawnl.NLM_F_EXCL, body)

    def addr_del(self, index: int, address: str, prefixlen: int) -> None:
        a = ipaddress.IPv4Address(address).packed
        body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) \
            + _attr(rawnl.IFA_LOCAL, a) + _attr(rawnl.IFA_ADDRESS, a)
        self._request(RTM_DELADDR, 0, body)

    def route_replace(self, dst: ipaddress.IPv4Network, *, proto: int, table: int,
                      gateway: str = "", oif: int = 0,
                      scope: int = rawnl.RT_SCOPE_UNIVERSE) -> None:
        self._request(rawnl.RTM_NEWROUTE, rawnl.NLM_F_CREATE | rawnl.NLM_F_REPLACE,
                      self._route(dst, proto, table, gateway, oif, scope, rawnl.RTN_UNICAST))

    def route_del(self, dst: ipaddress.IPv4Network, *, proto: int, table: int,
                  gateway: str = "") -> None:
        self._request(RTM_DELROUTE, 0,
                      self._route(dst, proto, table, gateway, 0, RT_SCOPE_NOWHERE, 0))

    @staticmethod
    def _route(dst: ipaddress.IPv4Network, proto: int, table: int, gateway: str, oif: int,
               scope: int, rtype: int) -> bytes:
        body = _RTMSG.pack(socket.AF_INET, dst.prefixlen, 0, 0, table, proto, scope, rtype, 0) \
            + _attr(RTA_TABLE, struct.pack("=I", table)) \
            + _attr(RTA_DST, dst.network_address.packed)
        if gateway:
            body += _attr(rawnl.RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
        if oif:
            body += _attr(rawnl.RTA_OIF, struct.pack("=I", oif))
        return body
