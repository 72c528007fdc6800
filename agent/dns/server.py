"""The node-local DNS server: UDP and TCP on the cluster DNS address, with dnspython.

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
import struct
import threading
from collections.abc import Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from agent.dns.zone import Records, Zone

log = logging.getLogger("corral.agent.dns")

TTL = 5
CACHE_SIZE = 10000
PORT_ZERO_TRIES = 10     # tests listen on port 0: UDP picks, TCP must get the same
REVERSE = ".in-addr.arpa."
R = dns.rdatatype


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
        if isinstance(out, dns.message.Message):
            return await self._forward(out, tcp)
        return out

    def answer(self, wire: bytes, tcp: bool = False) -> bytes | dns.message.Message | None:
        """The answer, without waiting; a query to forward comes back as its Message."""
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
            q = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if q.opcode() != dns.opcode.QUERY or len(q.question) != 1:
            resp = dns.message.make_response(q)
            resp.set_rcode(dns.rcode.NOTIMP if q.opcode() != dns.opcode.QUERY
                           else dns.rcode.FORMERR)
            return resp.to_wire()
        qname = q.question[0].name.to_text().lower()
        if zone.covers(qname) or (qname.endswith(REVERSE) and (
                zone.lookup(qname) is not None or qname.endswith(self.reverse_nets))):
            resp = self._local(q, zone, qname)
        elif self.upstreams:
            return q
        else:
            resp = dns.message.make_response(q)
            resp.set_rcode(dns.rcode.NXDOMAIN)
        out = _wire(resp, q, tcp)
        self._cache[key] = out[2:]
        return out

    def _local(self, q: dns.message.Message, zone: Zone, qname: str) -> dns.message.Message:
        resp = dns.message.make_response(q)
        resp.flags |= dns.flags.AA | dns.flags.RA
        rdtype = q.question[0].rdtype
        name = q.question[0].name
        rec = zone.lookup(qname)
        if rec is None:
            exists = qname == zone.domain or zone.has_subdomain(qname)
            if not exists:
                resp.set_rcode(dns.rcode.NXDOMAIN)
            resp.authority.append(self._soa(zone))
            return resp
        answers = self._answers(name, rec, rdtype)
        if not answers:
            resp.authority.append(self._soa(zone))
        resp.answer.extend(answers)
        if rdtype in (R.SRV, R.ANY):
            for _, _, _, target in rec.srv:
                t = zone.lookup(target)
                if t is not None and t.a:
                    resp.additional.append(dns.rrset.from_text_list(
                        target, self.ttl, "IN", "A", t.a))
        return resp

    def _answers(self, name: dns.name.Name, rec: Records, rdtype: int) -> list[dns.rrset.RRset]:
        out = []
        text = name.to_text()
        if rec.cname:
            return [dns.rrset.from_text(text, self.ttl, "IN", "CNAME", rec.cname)]
        if rec.a and rdtype in (R.A, R.ANY):
            out.append(dns.rrset.from_text_list(text, self.ttl, "IN", "A", rec.a))
        if rec.srv and rdtype in (R.SRV, R.ANY):
            out.append(dns.rrset.from_text_list(
                text, self.ttl, "IN", "SRV", [f"{p} {w} {port} {t}" for p, w, port, t in rec.srv]))
        if rec.ptr and rdtype in (R.PTR, R.ANY):
            out.append(dns.rrset.from_text(text, self.ttl, "IN", "PTR", rec.ptr))
        return out

    def _soa(self, zone: Zone) -> dns.rrset.RRset:
        return dns.rrset.from_text(zone.domain, self.ttl, "IN", "SOA",
                                   f"ns.dns.{zone.domain} hostmaster.{zone.domain} "
                                   f"1 7200 1800 86400 {self.ttl}")

    async def _forward(self, q: dns.message.Message, tcp: bool) -> bytes | None:
        import dns.asyncquery  # the first name outside the cluster loads the client side
        for upstream in self.upstreams:
            host, _, port = upstream.partition(":")     # "IP" or "IP:PORT"
            where = int(port or 53)
            try:
                if tcp:
                    resp = await dns.asyncquery.tcp(q, host, timeout=2.0, port=where)
                else:
                    resp = await dns.asyncquery.udp(q, host, timeout=2.0, port=where,
                                                    ignore_trailing=True)
                return _wire(resp, q, tcp)
            except (dns.exception.DNSException, OSError) as e:
                log.debug("forwarding %s to %s: %s", q.question[0].name, upstream, e)
        resp = dns.message.make_response(q)
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp.to_wire()

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


def _wire(resp: dns.message.Message, q: dns.message.Message, tcp: bool) -> bytes:
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
        if isinstance(out, dns.message.Message):     # to forward: wait off this path
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
