"""The cluster DNS: the names Kubernetes' DNS specification asks for, answered by the
server over real UDP and TCP sockets on loopback (dnspython as the client)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from agent.dns.server import DnsServer
from agent.dns.zone import build_zone, reverse_zones
from proto import api_pb2


def service(name: str, ip: str, *ports: tuple[str, int, str], type_: str = "ClusterIP",
            external: str = "") -> api_pb2.Object:
    o = api_pb2.Object()
    s = o.service
    s.metadata.name, s.metadata.namespace = name, "default"
    s.spec.cluster_ip, s.spec.type, s.spec.external_name = ip, type_, external
    for pname, port, proto in ports:
        s.spec.ports.add(name=pname, port=port, protocol=proto)
    return o


def endpoints(svc: str, *eps: tuple[str, str, bool]) -> api_pb2.Object:
    o = api_pb2.Object()
    es = o.endpoint_slice
    es.metadata.name, es.metadata.namespace = f"{svc}-abc", "default"
    es.metadata.labels["kubernetes.io/service-name"] = svc
    es.address_type = "IPv4"
    es.ports.add(name="db", protocol="TCP", port=5432)
    for ip, host, ready in eps:
        e = es.endpoints.add(addresses=[ip])
        e.conditions.ready = ready
        if host:
            e.hostname = host
    return o


@pytest.fixture(scope="module")
def server():
    srv = DnsServer([("127.0.0.1", 0)], reverse_nets=reverse_zones("10.96.0.0/12"))
    srv.zone = build_zone(
        [service("web", "10.96.0.20", ("http", 80, "TCP"), ("", 81, "TCP")),
         service("db", "None", ("db", 5432, "TCP")),
         service("ext", "", type_="ExternalName", external="example.com.")],
        [endpoints("db", ("10.244.1.5", "db-0", True), ("10.244.2.5", "", True),
                   ("10.244.3.5", "db-2", False))])
    srv.start()
    yield srv
    srv.stop()


def ask(srv: DnsServer, name: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
    host, port = srv.bound[0]
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(q, host, port=port, timeout=2)
    return dns.query.udp(q, host, port=port, timeout=2)


def answers(r: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def test_service_names(server: DnsServer) -> None:
    r = ask(server, "web.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NOERROR and answers(r) == ["10.96.0.20"]
    assert r.flags & dns.flags.AA
    assert answers(ask(server, "WEB.Default.svc.cluster.local.", tcp=True)) == ["10.96.0.20"]
    # an existing name without that type: NODATA (resolvers ask AAAA too), not NXDOMAIN
    r = ask(server, "web.default.svc.cluster.local", "AAAA")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
    r = ask(server, "nope.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.authority[0].rdtype == dns.rdatatype.SOA
    # names above a Service's (empty non-terminals) exist: NODATA
    for name in ("default.svc.cluster.local", "svc.cluster.local", "_tcp.web.default.svc."
                 "cluster.local"):
        r = ask(server, name)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, name
    assert ask(server, "efault.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
    # SRV for named ports only
    r = ask(server, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert answers(r) == ["0 100 80 web.default.svc.cluster.local."]
    assert ask(server, "20.0.96.10.in-addr.arpa", "PTR").answer[0][0].to_text() == \
        "web.default.svc.cluster.local."


def test_headless_pod_names_and_external_name(server: DnsServer) -> None:
    # headless: the ready endpoints, each under its hostname (or its dashed IP)
    assert answers(ask(server, "db.default.svc.cluster.local")) == ["10.244.1.5", "10.244.2.5"]
    assert answers(ask(server, "db-0.db.default.svc.cluster.local")) == ["10.244.1.5"]
    assert ask(server, "db-2.db.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
    r = ask(server, "_db._tcp.db.default.svc.cluster.local", "SRV")
    assert answers(r) == ["0 100 5432 10-244-2-5.db.default.svc.cluster.local.",
                          "0 100 5432 db-0.db.default.svc.cluster.local."]
    assert {rrset.name.to_text() for rrset in r.additional} == {
        "db-0.db.default.svc.cluster.local.", "10-244-2-5.db.default.svc.cluster.local."}
    assert answers(ask(server, "ext.default.svc.cluster.local")) == ["example.com."]
    assert answers(ask(server, "10-244-9-9.default.pod.cluster.local")) == ["10.244.9.9"]


def test_outside_the_cluster_and_the_answer_cache(server: DnsServer) -> None:
    # no upstream (the local cluster): NXDOMAIN at once, nothing leaves the machine
    assert ask(server, "example.org").rcode() == dns.rcode.NXDOMAIN
    assert ask(server, "5.0.0.10.in-addr.arpa", "PTR").rcode() == dns.rcode.NXDOMAIN
    hits = server.cache_hits
    for _ in range(3):
        assert answers(ask(server, "web.default.svc.cluster.local")) == ["10.96.0.20"]
    assert server.cache_hits >= hits + 3
    # a new zone replaces the cached answers
    old = server.zone
    server.zone = build_zone([service("web", "10.96.0.21")], [])
    try:
        assert answers(ask(server, "web.default.svc.cluster.local")) == ["10.96.0.21"]
    finally:
        server.zone = old


def test_forwarding_to_an_upstream(server: DnsServer) -> None:
    host, port = server.bound[0]
    fwd = DnsServer([("127.0.0.1", 0)], upstreams=[f"{host}:{port}"])
    fwd.zone = build_zone([], [], "other.local")
    fwd.start()
    try:
        r = ask(fwd, "web.default.svc.cluster.local")
        assert answers(r) == ["10.96.0.20"]
        assert answers(ask(fwd, "web.default.svc.cluster.local", tcp=True)) == ["10.96.0.20"]
    finally:
        fwd.stop()
