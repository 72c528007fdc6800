"""The server's own wire codec (agent/dns/wire.py) as a resolver sees it: a big answer
over UDP is truncated (TC) and whole over TCP, EDNS payloads and padding are honoured,
compressed names and case come back as asked, and what is not a query gets no answer."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from agent.dns.server import DnsServer
from agent.dns.zone import build_zone
from tests.unit.dns.test_dns import endpoints, service

BIG = "big.default.svc.cluster.local."


@pytest.fixture(scope="module")
def server():
    srv = DnsServer([("127.0.0.1", 0)])
    srv.zone = build_zone(
        [service("big", "None", ("db", 5432, "TCP")), service("web", "10.96.0.20")],
        [endpoints("big", *[(f"10.244.1.{i}", f"h{i}", True) for i in range(1, 61)])])
    srv.start()
    yield srv
    srv.stop()


def _udp(srv: DnsServer, q: dns.message.Message) -> dns.message.Message:
    host, port = srv.bound[0]
    return dns.query.udp(q, host, port=port, timeout=2, ignore_trailing=True)


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp(server: DnsServer) -> None:
    r = _udp(server, dns.message.make_query(BIG, "A"))
    assert r.flags & dns.flags.TC and r.flags & dns.flags.AA and not r.answer
    host, port = server.bound[0]
    r = dns.query.tcp(dns.message.make_query(BIG, "A"), host, port=port, timeout=2)
    assert not r.flags & dns.flags.TC
    assert sorted(rd.to_text() for rd in r.answer[0]) == sorted(
        f"10.244.1.{i}" for i in range(1, 61))
    # an EDNS payload large enough: the whole answer over UDP, with our own OPT
    r = _udp(server, dns.message.make_query(BIG, "A", use_edns=0, payload=4096))
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 60 and r.edns == 0
    # SRV: one record per endpoint, their A records in the additional section
    r = _udp(server, dns.message.make_query("_db._tcp." + BIG, "SRV", use_edns=0,
                                            payload=8192))
    assert len(r.answer[0]) == 60 and len(r.additional) == 60


def test_case_padding_and_rcode(server: DnsServer) -> None:
    r = _udp(server, dns.message.make_query("WeB.default.SVC.cluster.local.", "A"))
    assert r.answer[0].name.to_text() == "WeB.default.SVC.cluster.local."
    assert [rd.to_text() for rd in r.answer[0]] == ["10.96.0.20"]
    assert r.flags & dns.flags.RD and r.flags & dns.flags.RA
    q = dns.message.make_query("web.default.svc.cluster.local.", "A", use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.OptionType.PADDING,
                                                               b"")])
    r = _udp(server, q)
    assert len(r.to_wire()) % 468 == 0 and r.answer
    r = _udp(server, dns.message.make_query("no.default.svc.cluster.local.", "A"))
    assert r.rcode() == dns.rcode.NXDOMAIN and r.authority[0].rdtype == dns.rdatatype.SOA


@pytest.mark.parametrize("wire", [
    b"", b"\x00" * 11,
    bytes.fromhex("12340100000100000000000003776562"),            # a name cut short
    bytes.fromhex("123401000001000000000000c00c00010001"),        # a pointer to itself
    bytes.fromhex("123481000001000000000000037765620000010001"),  # a response (QR)
])
def test_what_is_not_a_query_gets_no_answer(server: DnsServer, wire: bytes) -> None:
    assert server.answer(wire) is None


def test_a_trailing_byte_or_two_questions(server: DnsServer) -> None:
    q = dns.message.make_query("web.default.svc.cluster.local.", "A").to_wire()
    assert server.answer(q + b"\x00") is None
    two = bytearray(q)
    two[5] = 2
    two += q[12:]
    out = server.answer(bytes(two))
    assert isinstance(out, bytes)
    assert dns.message.from_wire(out).rcode() == dns.rcode.FORMERR
