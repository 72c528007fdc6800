"""The node-local DNS server: UDP and TCP on the cluster DNS address. Its own names are
answered with agent/dns/wire.py; names forwarded upstream go through dnspython.

    server = DnsServer([("10.96.0.10", 53)], upstreams=["192.168.1.1"])
    server.start()                 # its own thread and event loop; returns once bound
    server.zone = build_zone(...)  # swapped whole whenever Services change
    server.stop()

Names in the cluster domain (and PTRs of cluster addresses) are answered from
the current Zone, authoritatively (NXDOMAIN or NODATA with the zone's SOA);
other names are forwarded to `upstreams` (the node's resolvers) or, with none,
answered NXDOMAIN at once (the local cluster: nothing leaves the machine).
The server runs on a thread of its own so that busy pod workers do not delay
answers; it only reads `zone`, which the agent replaces (never mutates).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from agent.dns import wire as dnswire
from agent.dns.zone import Records, Zone

if TYPE_CHECKING:
    import dns.message

log = logging.getLogger("corral.agent.dns")
T = TypeVar("T")

TTL = 5
CACHE_SIZE = 10000
PORT_ZERO_TRIES = 10     # tests listen on port 0: UDP picks, TCP must get the same
REVERSE = ".in-addr.arpa."


class DnsServer:
    def __init__(self, listen: Sequence[tuple[str, int]], upstreams: Sequence[str] = (), *,
                 zone: Zone | None = None, reverse_nets: Sequence[str] = (),
                 ttl: int = TTL) -> None:
        self.listen = list(listen)
        self.upstreams = list(upstreams)
        self.zone = zone or Zone("cluster.local.")
        self.reverse_nets = tuple(n.lower() for n in reverse_nets)   # "10.in-addr.arpa."...
        self.ttl = ttl
        self.queries = 0
        self.cache_hits = 0
        # answers by query (all but its ID) for the zone they came from: a query asked
        # again is answered by patching the ID in (Services change rarely, names are
        # asked often); dropped whenever a new zone comes in
        self._cache: dict[tuple[bool, bytes], bytes] = {}
        self._cache_zone: Zone | None = None
        self.bound: list[tuple[str, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ---- lifecycle ----------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> None:
        self._thread = threading.Thread(target=self._main, name="dns", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the DNS server did not start")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:
            self._error = e
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        transports: list[asyncio.BaseTransport] = []
        servers: list[asyncio.Server] = []
        try:
            for host, port in self.listen:
                for attempt in range(PORT_ZERO_TRIES if port == 0 else 1):
                    t, _ = await self._loop.create_datagram_endpoint(
                        lambda: _Udp(self), local_addr=(host, port))
                    sock = t.get_extra_info("sockname")
                    try:
                        servers.append(await asyncio.start_server(self._tcp, host, sock[1]))
                    except OSError:     # port 0: UDP's pick may be taken for TCP; pick again
                        t.close()
                        if attempt + 1 == (PORT_ZERO_TRIES if port == 0 else 1):
                            raise
                        continue
                    transports.append(t)
                    self.bound.append((sock[0], sock[1]))
                    break
            self._ready.set()
            await self._stop.wait()
        finally:
            for tr in transports:
                tr.close()
            for s in servers:
                s.close()

    # ---- answering ----------------------------------------------------------------

    async def handle(self, wire: bytes, tcp: bool = False) -> bytes | None:
        """The answer to one query (None: not a DNS message, no answer)."""
        out = self.answer(wire, tcp)
        if isinstance(out, Forward):
            return await self._forward(out, tcp)
        return out

    def answer(self, wire: bytes, tcp: bool = False) -> bytes | Forward | None:
        """The answer, without waiting; a query to send upstream comes back as a Forward."""
        self.queries += 1
        zone = self.zone
        if self._cache_zone is not zone or len(self._cache) > CACHE_SIZE:
            self._cache, self._cache_zone = {}, zone
        key = (tcp, wire[2:])
        hit = self._cache.get(key)
        if hit is not None:
            self.cache_hits += 1
            return wire[:2] + hit
        try:
            q = dnswire.parse(wire)
        except dnswire.BadMessage:
            return None
        if q.opcode != dnswire.QUERY or len(q.questions) != 1:
            return dnswire.Response(q, rcode=dnswire.NOTIMP if q.opcode != dnswire.QUERY
                                    else dnswire.FORMERR).to_wire()
        qname = q.name_text().lower()
        if zone.covers(qname) or (qname.endswith(REVERSE) and (
                zone.lookup(qname) is not None or qname.endswith(self.reverse_nets))):
            resp = self._local(q, zone, qname)
        elif self.upstreams:
            return Forward(q, wire)
        else:
            resp = dnswire.Response(q, rcode=dnswire.NXDOMAIN)
        out = _wire(resp, tcp)
        if out is not None:
            self._cache[key] = out[2:]
        return out

    def _local(self, q: dnswire.Query, zone: Zone, qname: str) -> dnswire.Response:
        resp = dnswire.Response(q, dnswire.AA | dnswire.RA)
        rec = zone.lookup(qname)
        if rec is None:
            exists = qname == zone.domain or zone.has_subdomain(qname)
            if not exists:
                resp.rcode = dnswire.NXDOMAIN
            self._soa(resp, zone)
            return resp
        if not self._answers(resp, q.labels, rec, q.qtype):
            self._soa(resp, zone)
        if q.qtype in (dnswire.SRV, dnswire.ANY):
            for _, _, _, target in rec.srv:
                t = zone.lookup(target)
                if t is not None and t.a:
                    for ip in _rrset(t.a):
                        resp.add(dnswire.ADDITIONAL, dnswire.text_labels(target), dnswire.A,
                                 self.ttl, dnswire.a_rdata(ip))
        return resp

    def _answers(self, resp: dnswire.Response, owner: dnswire.Labels, rec: Records,
                 qtype: int) -> int:
        """Adds the answers of `rec` to `qtype` (a CNAME whatever the type); how many."""
        out: list[tuple[int, dnswire.Rdata]] = []
        if rec.cname:
            out.append((dnswire.CNAME, dnswire.name_rdata(rec.cname)))
        else:
            if rec.a and qtype in (dnswire.A, dnswire.ANY):
                out += [(dnswire.A, dnswire.a_rdata(ip)) for ip in _rrset(rec.a)]
            if rec.srv and qtype in (dnswire.SRV, dnswire.ANY):
                out += [(dnswire.SRV, dnswire.srv_rdata(*srv)) for srv in _rrset(rec.srv)]
            if rec.ptr and qtype in (dnswire.PTR, dnswire.ANY):
                out.append((dnswire.PTR, dnswire.name_rdata(rec.ptr)))
        for rtype, rdata in out:
            resp.add(dnswire.ANSWER, owner, rtype, self.ttl, rdata)
        return len(out)

    def _soa(self, resp: dnswire.Response, zone: Zone) -> None:
        resp.add(dnswire.AUTHORITY, dnswire.text_labels(zone.domain), dnswire.SOA, self.ttl,
                 dnswire.soa_rdata(f"ns.dns.{zone.domain}", f"hostmaster.{zone.domain}",
                                   1, 7200, 1800, 86400, self.ttl))

    async def _forward(self, fwd: Forward, tcp: bool) -> bytes | None:
        # the first name outside the cluster loads dnspython's client side
        import dns.asyncquery
        import dns.exception
        import dns.message
        try:
            q = dns.message.from_wire(fwd.wire)
        except dns.exception.DNSException:
            return None
        for upstream in self.upstreams:
            host, _, port = upstream.partition(":")     # "IP" or "IP:PORT"
            where = int(port or 53)
            try:
                if tcp:
                    resp = await dns.asyncquery.tcp(q, host, timeout=2.0, port=where)
                else:
                    resp = await dns.asyncquery.udp(q, host, timeout=2.0, port=where,
                                                    ignore_trailing=True)
                return _forwarded_wire(resp, q, tcp)
            except (dns.exception.DNSException, OSError) as e:
                log.debug("forwarding %s to %s: %s", q.question[0].name, upstream, e)
        return dnswire.Response(fwd.query, rcode=dnswire.SERVFAIL).to_wire()

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                wire = await reader.readexactly(struct.unpack("!H", head)[0])
                out = await self.handle(wire, tcp=True)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _rrset(items: Sequence[T]) -> list[T]:
    """An RRset's records as dnspython writes one: each once, in a random order."""
    out = list(dict.fromkeys(items))
    random.shuffle(out)
    return out


class Forward(NamedTuple):
    """A query for a name outside the cluster, to send upstream (as it came)."""
    query: dnswire.Query
    wire: bytes


def _wire(resp: dnswire.Response, tcp: bool) -> bytes | None:
    q = resp.query
    out = resp.to_wire(65535 if tcp else max(q.payload if q.edns >= 0 else 512, 512))
    if out is None:     # too big: the bare response with TC (the client asks over TCP)
        out = dnswire.Response(q, dnswire.TC | (resp.flags & dnswire.AA)).to_wire()
    return out


def _forwarded_wire(resp: dns.message.Message, q: dns.message.Message, tcp: bool) -> bytes:
    import dns.exception
    import dns.flags
    import dns.message
    limit = 65535 if tcp else max(q.payload if q.edns >= 0 else 512, 512)
    try:
        return resp.to_wire(max_size=limit)
    except dns.exception.TooBig:
        short = dns.message.make_response(q)
        short.flags |= dns.flags.TC | (resp.flags & dns.flags.AA)
        return short.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        out = self.server.answer(data)
        if isinstance(out, Forward):     # to forward: wait off this path
            task = asyncio.ensure_future(self.server._forward(out, False))
            task.add_done_callback(lambda t: self._reply(t, addr))
        elif out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def _reply(self, task: asyncio.Future[bytes | None], addr: tuple[str, int]) -> None:
        if task.cancelled() or task.exception() is not None or self.transport is None:
            return
        out = task.result()
        if out is not None:
            self.transport.sendto(out, addr)
