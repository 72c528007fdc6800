"""The DNS wire format for the queries the cluster DNS server answers itself (RFC 1035,
RFC 6891's OPT, RFC 7830/8467 padding): a query in, a response out.

It does what the server needs of dnspython, byte for byte as dnspython renders it
(names compressed the same way, the OPT record as `dns.message.make_response` adds it,
the truncated answer as `to_wire(max_size)` would refuse it), without importing
dnspython, whose `dns.name` alone pulls in importlib.metadata, email, zipfile and
idna (~3.4 MB of an idle agent). dnspython stays for forwarding names upstream.

    q = parse(wire)                    # Query, or raises BadMessage
    q.name_text()                      # "web.default.svc.cluster.local." (as dnspython)
    out = Response(q, AA | RA)
    out.add(ANSWER, q.labels, A, ttl, a_rdata("10.96.0.20"))
    out.to_wire(limit)                 # the response; None when it does not fit in limit
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
QUERY = 0
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 1, 2, 3, 4
A, CNAME, SOA, PTR, SRV, OPT, TSIG, ANY = 1, 5, 6, 12, 33, 41, 250, 255
ANSWER, AUTHORITY, ADDITIONAL = 0, 1, 2
PADDING = 12            # the EDNS option (RFC 7830)
PAD_BLOCK = 468         # RFC 8467: a padded query gets a response padded to a multiple
OUR_PAYLOAD = 8192      # the EDNS payload a response advertises (dnspython's default)
_ESCAPED = frozenset(b'"().;\\@$')

Labels = tuple[bytes, ...]
Rdata = Callable[["_Out"], None]


class BadMessage(ValueError):
    """Not a DNS query the server can read: no answer is sent (as dnspython's errors)."""


@dataclass
class Query:
    id: int
    flags: int
    questions: list[tuple[Labels, int, int]]        # (name, type, class)
    edns: int = -1                                  # the OPT's version; -1: no OPT
    payload: int = 0                                # the OPT's UDP payload size
    padded: bool = False                            # the OPT carried a padding option

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def labels(self) -> Labels:
        return self.questions[0][0]

    @property
    def qtype(self) -> int:
        return self.questions[0][1]

    def name_text(self) -> str:
        """The first question's name as dnspython's Name.to_text() writes it."""
        return name_text(self.labels)


def name_text(labels: Labels) -> str:
    if not labels:
        return "."
    return "".join(_label_text(label) + "." for label in labels)


def _label_text(label: bytes) -> str:
    out = []
    for c in label:
        if c in _ESCAPED:
            out.append("\\" + chr(c))
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    return "".join(out)


def text_labels(name: str) -> Labels:
    """The labels of an absolute name in the zone's form ("a.b.", lowercase, no escapes)."""
    return () if name == "." else tuple(p.encode() for p in name.rstrip(".").split("."))


def parse(wire: bytes) -> Query:
    """A query from the wire; BadMessage for anything dnspython would not read (short,
    bad names or pointers, trailing bytes, a misplaced or second OPT, TSIG) or a response."""
    if len(wire) < 12:
        raise BadMessage("short header")
    qid, flags, qd, an, ns, ar = struct.unpack_from("!6H", wire)
    if flags & QR:
        raise BadMessage("a response, not a query")
    pos, questions = 12, []
    for _ in range(qd):
        labels, pos = _read_name(wire, pos)
        if pos + 4 > len(wire):
            raise BadMessage("short question")
        qtype, qclass = struct.unpack_from("!HH", wire, pos)
        questions.append((labels, qtype, qclass))
        pos += 4
    q = Query(qid, flags, questions)
    for i in range(an + ns + ar):
        labels, pos = _read_name(wire, pos)
        if pos + 10 > len(wire):
            raise BadMessage("short record")
        rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", wire, pos)
        pos += 10
        end = pos + rdlen
        if end > len(wire):
            raise BadMessage("short rdata")
        if rtype == TSIG:
            raise BadMessage("TSIG: no keys here")
        if rtype == OPT:
            if i < an + ns or labels or q.edns >= 0:
                raise BadMessage("misplaced OPT")
            q.edns, q.payload = (ttl >> 16) & 0xFF, rclass
            q.padded = _has_padding(wire[pos:end])
        pos = end
    if pos != len(wire):
        raise BadMessage("trailing bytes")
    return q


def _has_padding(options: bytes) -> bool:
    pos, found = 0, False
    while pos < len(options):
        if pos + 4 > len(options):
            raise BadMessage("bad EDNS option")
        code, length = struct.unpack_from("!HH", options, pos)
        pos += 4 + length
        if pos > len(options):
            raise BadMessage("bad EDNS option")
        found = found or code == PADDING
    return found


def _read_name(wire: bytes, pos: int) -> tuple[Labels, int]:
    labels: list[bytes] = []
    end = -1            # where the name ends in place (after its first pointer)
    limit = pos         # a pointer must point before the last one
    size = 1
    while True:
        if pos >= len(wire):
            raise BadMessage("short name")
        n = wire[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 2 > len(wire):
                raise BadMessage("short pointer")
            target = ((n & 0x3F) << 8) | wire[pos + 1]
            if target >= limit:
                raise BadMessage("bad pointer")
            if end < 0:
                end = pos + 2
            pos = limit = target
            continue
        if n & 0xC0:
            raise BadMessage("bad label type")
        label = wire[pos + 1:pos + 1 + n]
        if len(label) != n:
            raise BadMessage("short label")
        size += n + 1
        if size > 255:
            raise BadMessage("name too long")
        labels.append(label)
        pos += 1 + n
    return tuple(labels), (end if end >= 0 else pos)


class _Out:
    """A message being written: the bytes, and the offsets of the names for compression."""

    def __init__(self) -> None:
        self.buf = bytearray(12)
        self.names: dict[Labels, int] = {}

    def name(self, labels: Labels, compress: bool = True) -> None:
        for i in range(len(labels)):
            suffix = tuple(label.lower() for label in labels[i:])
            if compress:
                at = self.names.get(suffix)
                if at is not None:
                    self.buf += struct.pack("!H", 0xC000 | at)
                    return
                if len(self.buf) <= 0x3FFF:
                    self.names[suffix] = len(self.buf)
            self.buf.append(len(labels[i]))
            self.buf += labels[i]
        self.buf.append(0)


def a_rdata(ip: str) -> Rdata:
    raw = socket.inet_pton(socket.AF_INET, ip)
    return lambda out: out.buf.extend(raw)


def name_rdata(name: str) -> Rdata:        # CNAME, PTR: compressed (RFC 1035)
    labels = text_labels(name)
    return lambda out: out.name(labels)


def srv_rdata(priority: int, weight: int, port: int, target: str) -> Rdata:
    labels = text_labels(target)

    def write(out: _Out) -> None:
        out.buf += struct.pack("!HHH", priority, weight, port)
        out.name(labels, compress=False)    # RFC 2782: the target is not compressed
    return write


def soa_rdata(mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int,
              minimum: int) -> Rdata:
    names = text_labels(mname), text_labels(rname)

    def write(out: _Out) -> None:
        out.name(names[0])
        out.name(names[1])
        out.buf += struct.pack("!5I", serial, refresh, retry, expire, minimum)
    return write


@dataclass
class Response:
    """The response to `query` (its ID, RD, opcode and questions; QR and `flags` set)."""

    query: Query
    flags: int = 0
    rcode: int = NOERROR
    sections: tuple[list[tuple[Labels, int, int, Rdata]], ...] = field(
        default_factory=lambda: ([], [], []))

    def add(self, section: int, owner: Labels, rtype: int, ttl: int, rdata: Rdata) -> None:
        self.sections[section].append((owner, rtype, ttl, rdata))

    def to_wire(self, limit: int = 0) -> bytes | None:
        """The response in at most `limit` bytes (0: the query's payload, else 65535;
        never under 512); None when it does not fit (dnspython's TooBig)."""
        q = self.query
        if limit == 0:
            limit = q.payload if q.edns >= 0 and q.payload else 65535
        limit = min(max(limit, 512), 65535)
        sections = self.sections
        out = _Out()
        for labels, qtype, qclass in q.questions:
            out.name(labels)
            out.buf += struct.pack("!HH", qtype, qclass)
        for records in sections:
            for owner, rtype, ttl, rdata in records:
                out.name(owner)
                out.buf += struct.pack("!HHIH", rtype, 1, ttl, 0)
                start = len(out.buf)
                rdata(out)
                struct.pack_into("!H", out.buf, start - 2, len(out.buf) - start)
        opt_size = (11 + (4 if q.padded else 0)) if q.edns >= 0 else 0
        if len(out.buf) + opt_size > limit:
            return None
        counts = [len(s) for s in sections]
        if q.edns >= 0:
            options = b""
            if q.padded:
                rest = (len(out.buf) + opt_size) % PAD_BLOCK
                pad = PAD_BLOCK - rest if rest else 0
                options = struct.pack("!HH", PADDING, pad) + bytes(pad)
            out.buf += b"\0" + struct.pack("!HHIH", OPT, OUR_PAYLOAD, 0, len(options)) + options
            counts[2] += 1
        flags = QR | (q.flags & RD) | (q.opcode << 11) | self.flags | (self.rcode & 0xF)
        struct.pack_into("!6H", out.buf, 0, q.id, flags, len(q.questions), *counts)
        return bytes(out.buf)
