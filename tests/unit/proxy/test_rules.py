"""The service proxy's pure parts: which endpoints a Service port uses, the rules
wanted, the transactions from one state to another, the stale UDP flows."""

from __future__ import annotations

from agent.proxy.model import Endpoint, ServicePort, service_ports
from agent.proxy.proxier import stale_udp_flows
from agent.proxy.rules import (
    NodeNet,
    RenderCache,
    affinity_set,
    desired,
    endpoint_chain,
    service_chain,
)
from agent.proxy.transaction import Existing, transaction
from proto import api_pb2

NET = NodeNet(pod_cidr="10.244.1.0/24", cluster_cidr="10.244.0.0/16",
              service_cidr="10.96.0.0/12", dns_ip="10.96.0.10")


def svc(name: str, ip: str = "10.96.0.5", *, type_: str = "ClusterIP", node_port: int = 0,
        proto: str = "TCP", affinity: bool = False, port_name: str = "") -> api_pb2.Object:
    o = api_pb2.Object()
    s = o.service
    s.metadata.name, s.metadata.namespace = name, "ns"
    s.spec.cluster_ip, s.spec.type = ip, type_
    s.spec.ports.add(name=port_name, port=80, protocol=proto, node_port=node_port)
    if affinity:
        s.spec.session_affinity = "ClientIP"
        s.spec.session_affinity_config.client_ip.timeout_seconds = 600
    return o


def eps(service: str, *endpoints: tuple[str, bool, bool, bool], port: int = 8080,
        proto: str = "TCP", port_name: str = "") -> api_pb2.Object:
    """endpoints: (ip, ready, serving, terminating)."""
    o = api_pb2.Object()
    es = o.endpoint_slice
    es.metadata.name, es.metadata.namespace = f"{service}-x", "ns"
    es.metadata.labels["kubernetes.io/service-name"] = service
    es.address_type = "IPv4"
    es.ports.add(name=port_name, protocol=proto, port=port)
    for ip, ready, serving, terminating in endpoints:
        e = es.endpoints.add(addresses=[ip])
        e.conditions.ready, e.conditions.serving, e.conditions.terminating = \
            ready, serving, terminating
    return o


READY = (True, True, False)


def test_ready_endpoints_then_terminating_serving_as_fallback() -> None:
    ports = service_ports([svc("a")], [eps("a", ("10.244.1.2", *READY),
                                           ("10.244.2.2", False, True, True),
                                           ("10.244.3.2", False, False, False))])
    assert ports[0].endpoints == (Endpoint("10.244.1.2", 8080),)
    ports = service_ports([svc("a")], [eps("a", ("10.244.2.2", False, True, True),
                                           ("10.244.3.2", False, False, False))])
    assert ports[0].endpoints == (Endpoint("10.244.2.2", 8080),)
    # headless and ExternalName Services are not proxied; slices of other ports ignored
    assert service_ports([svc("h", "None"), svc("e", "", type_="ExternalName")], []) == []
    ports = service_ports([svc("a", port_name="web")],
                          [eps("a", ("10.244.1.2", *READY), port_name="other")])
    assert ports[0].endpoints == ()


def test_desired_rules_dnat_masquerade_reject_nodeport_affinity() -> None:
    ports = service_ports(
        [svc("web", type_="NodePort", node_port=30080, affinity=True),
         svc("none", "10.96.0.6")],
        [eps("web", ("10.244.1.2", *READY), ("10.244.2.2", *READY), ("10.0.0.9", *READY))])
    rs = desired(ports, NET)
    web = ports[1] if ports[1].name == "web" else ports[0]
    chain = service_chain(web)
    assert rs.maps["service-ips"]["10.96.0.5 . tcp . 80"] == f"goto {chain}"
    assert rs.maps["no-endpoint-services"]["10.96.0.6 . tcp . 80"] == "goto reject-chain"
    assert "tcp . 30080" in rs.maps["service-nodeports"]
    assert rs.ips == {"10.96.0.5", "10.96.0.6"}
    svc_rules = rs.chains[chain]
    assert svc_rules[-1].startswith("numgen random mod 3 vmap {")
    assert any("@affinity-" in r for r in svc_rules)
    local = rs.chains[endpoint_chain(web, Endpoint("10.244.1.2", 8080))]
    remote = rs.chains[endpoint_chain(web, Endpoint("10.244.2.2", 8080))]
    outside = rs.chains[endpoint_chain(web, Endpoint("10.0.0.9", 8080))]
    assert "ip saddr 10.244.1.2 jump mark-for-masquerade" in local            # hairpin
    assert "ip saddr 10.244.1.0/24 jump mark-for-masquerade" in local        # same bridge
    assert "ip saddr 10.244.1.0/24 jump mark-for-masquerade" not in remote
    assert "jump mark-for-masquerade" in outside                              # API servers
    assert local[-1] == "meta l4proto tcp dnat to 10.244.1.2:8080"
    assert rs.sets[affinity_set(web, Endpoint("10.244.1.2", 8080))].endswith("timeout 600s;")
    assert "ip daddr != 10.96.0.10 ip daddr 10.96.0.0/12 drop" in rs.chains["cluster-ips-check"]


def test_full_transaction_declares_everything_and_deletes_what_is_stale() -> None:
    rs = desired(service_ports([svc("web")], [eps("web", ("10.244.1.2", *READY))]), NET)
    script = transaction(rs, None, Existing(chains={"endpoint-OLD-ns/gone/tcp/__1.2.3.4/80",
                                                    "services"},
                                            sets={"affinity-OLD"}))
    lines = script.splitlines()
    assert lines[0] == "add table ip corral-proxy"
    assert "flush map ip corral-proxy service-ips" in lines
    assert lines.index("flush chain ip corral-proxy endpoint-OLD-ns/gone/tcp/__1.2.3.4/80") < \
        lines.index("delete chain ip corral-proxy endpoint-OLD-ns/gone/tcp/__1.2.3.4/80")
    assert "delete set ip corral-proxy affinity-OLD" in lines
    assert "delete chain ip corral-proxy services" not in lines
    assert any(ln.startswith("add chain ip corral-proxy nat-prerouting { type nat hook "
                             "prerouting") for ln in lines)


def test_partial_transaction_touches_only_what_changed() -> None:
    before = desired(service_ports([svc("a"), svc("b", "10.96.0.6")],
                                   [eps("a", ("10.244.1.2", *READY), ("10.244.1.3", *READY)),
                                    eps("b", ("10.244.1.4", *READY))]), NET)
    assert transaction(before, before) == ""
    after = desired(service_ports([svc("a"), svc("b", "10.96.0.6")],
                                  [eps("a", ("10.244.1.2", *READY)),
                                   eps("b", ("10.244.1.4", *READY))]), NET)
    script = transaction(after, before)
    lines = script.splitlines()
    a = service_ports([svc("a")], [])[0]
    gone = endpoint_chain(a, Endpoint("10.244.1.3", 8080))
    assert f"flush chain ip corral-proxy {service_chain(a)}" in lines
    assert lines[-1] == f"delete chain ip corral-proxy {gone}"
    assert not any("-ns/b/" in ln for ln in lines)            # Service b is untouched
    assert not any("map" in ln and "element" in ln for ln in lines)   # same verdicts
    # the last endpoint goes: the map entry moves to the no-endpoint map
    empty = desired(service_ports([svc("a"), svc("b", "10.96.0.6")],
                                  [eps("b", ("10.244.1.4", *READY))]), NET)
    lines = transaction(empty, after).splitlines()
    assert "delete element ip corral-proxy service-ips { 10.96.0.5 . tcp . 80 }" in lines
    assert ("add element ip corral-proxy no-endpoint-services { 10.96.0.5 . tcp . 80 : "
            "goto reject-chain }") in lines


def test_render_cache_reuses_unchanged_ports_and_matches_a_fresh_render() -> None:
    cache: RenderCache = {}
    objs = [svc("a"), svc("b", "10.96.0.6", type_="NodePort", node_port=30080, affinity=True)]
    first = [eps("a", ("10.244.1.2", *READY)), eps("b", ("10.244.2.4", *READY))]
    one = desired(service_ports(objs, first), NET, cache)
    assert one == desired(service_ports(objs, first), NET)
    kept = {k: v for k, v in cache.items() if k[0].name == "b"}
    second = [eps("a", ("10.244.1.3", *READY)), first[1]]
    two = desired(service_ports(objs, second), NET, cache)
    assert two == desired(service_ports(objs, second), NET)
    assert len(cache) == 2                                   # the old "a" was dropped
    assert all(cache[k] is v for k, v in kept.items())        # "b" was not rendered again
    other_net = NodeNet(pod_cidr="10.244.2.0/24", cluster_cidr=NET.cluster_cidr)
    assert desired(service_ports(objs, second), other_net, cache) == \
        desired(service_ports(objs, second), other_net)


def sp(eps_: tuple[str, ...], proto: str = "udp", node_port: int = 0) -> ServicePort:
    return ServicePort("ns", "dns", "", proto, "10.96.0.53", 53, node_port, 0,
                       tuple(Endpoint(ip, 53) for ip in eps_))


def test_stale_udp_flows() -> None:
    old = {"k": sp(("10.244.1.2", "10.244.1.3"), node_port=30053)}
    new = {"k": sp(("10.244.1.2",), node_port=30053)}
    assert stale_udp_flows(old, new) == [("10.96.0.53", 53, "10.244.1.3"),
                                         ("", 30053, "10.244.1.3")]
    # from no endpoints to some: every flow of the port goes (ICMP-rejected ones)
    assert stale_udp_flows({"k": sp(())}, {"k": sp(("10.244.1.2",))}) == \
        [("10.96.0.53", 53, "")]
    # TCP needs none: a reset ends the connection
    assert stale_udp_flows({"k": sp(("10.244.1.2",), "tcp")}, {}) == []
