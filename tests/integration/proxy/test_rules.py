"""The service proxy's nftables rules on real kernels' netfilter, in namespaces of
our own (tests/integration/proxy/netenv.py): load balancing across nodes, hairpin,
reject without endpoints, node ports from outside, UDP and its stale flows,
ClientIP affinity, partial updates that leave nothing stale."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from agent.network import servicenet
from agent.proxy.conntrack import ConntrackCommand
from agent.proxy.model import service_ports
from agent.proxy.nft import NftCommand
from agent.proxy.proxier import stale_udp_flows
from agent.proxy.rules import NodeNet, Ruleset, desired
from agent.proxy.transaction import transaction
from proto import api_pb2
from tests.integration.proxy.netenv import (
    NetEnv,
    Server,
    in_netns,
    tcp_call,
    udp_call,
    udp_socket,
)

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("nft") is None or shutil.which("conntrack")
                                 is None, reason="needs nft and conntrack")]


def service(name: str, ip: str, port: int = 80, *, proto: str = "TCP", node_port: int = 0,
            affinity: bool = False) -> api_pb2.Object:
    obj = api_pb2.Object()
    s = obj.service
    s.metadata.name, s.metadata.namespace = name, "default"
    s.spec.cluster_ip = ip
    s.spec.type = "NodePort" if node_port else "ClusterIP"
    s.spec.ports.add(port=port, protocol=proto, node_port=node_port)
    if affinity:
        s.spec.session_affinity = "ClientIP"
        s.spec.session_affinity_config.client_ip.timeout_seconds = 60
    return obj


def slice_(service_name: str, ips: list[str], port: int = 8080,
           proto: str = "TCP") -> api_pb2.Object:
    obj = api_pb2.Object()
    es = obj.endpoint_slice
    es.metadata.name, es.metadata.namespace = f"{service_name}-x", "default"
    es.metadata.labels["kubernetes.io/service-name"] = service_name
    es.address_type = "IPv4"
    es.ports.add(name="", protocol=proto, port=port)
    for ip in ips:
        es.endpoints.add(addresses=[ip]).conditions.ready = True
    return obj


class Node:
    """One node's proxy state: what was applied last (for partial transactions)."""

    def __init__(self, ns: str, pod_cidr: str) -> None:
        # the agent routes the service CIDR through the pod bridge (agent/network/servicenet)
        in_netns(ns, lambda: servicenet.ensure_route("10.96.0.0/12", "br0"))
        self.nft = NftCommand(netns=ns)
        self.conntrack = ConntrackCommand(netns=ns)
        self.net = NodeNet(pod_cidr=pod_cidr, cluster_cidr="10.244.0.0/16",
                           service_cidr="10.96.0.0/12", dns_ip="10.96.0.10")
        self.have: Ruleset | None = None
        self.ports: dict = {}

    def sync(self, services: list, slices: list, *, full: bool = False) -> None:
        ports = service_ports(services, slices)
        want = desired(ports, self.net)

        async def go() -> None:
            if full or self.have is None:
                await self.nft.apply(transaction(want, None, await self.nft.existing()))
            else:
                await self.nft.apply(transaction(want, self.have))
            new = {p.key: p for p in ports}
            for dst, port, nat in stale_udp_flows(self.ports, new):
                await self.conntrack.flush_udp(dst, port, nat)
            self.ports = new
        asyncio.run(go())
        self.have = want


@pytest.fixture
def env():
    with NetEnv() as e:
        servers = [Server(e.p1, "p1"), Server(e.p2, "p2"), Server(e.p3, "p3")]
        try:
            yield e
        finally:
            for s in servers:
                s.close()


def test_cluster_ip_node_port_hairpin_reject_affinity_and_udp(env: NetEnv) -> None:
    p1, p2, p3 = (env.pod_ips[p] for p in (env.p1, env.p2, env.p3))
    services = [service("web", "10.96.0.50", node_port=30080),
                service("self", "10.96.0.51"),
                service("empty", "10.96.0.52"),
                service("sticky", "10.96.0.53", affinity=True),
                service("dgram", "10.96.0.54", 53, proto="UDP")]
    slices = [slice_("web", [p2, p3]), slice_("self", [p1]), slice_("sticky", [p2, p3]),
              slice_("dgram", [p3], proto="UDP")]
    n1, n2 = Node(env.node1, "10.244.1.0/24"), Node(env.node2, "10.244.2.0/24")
    for n in (n1, n2):
        n.sync(services, slices)

    # a pod on node1 reaches both endpoints (one on its node, one on node2)
    seen = {tcp_call(env.p1, "10.96.0.50", 80) for _ in range(40)}
    assert seen == {"p2", "p3"}
    # hairpin: a pod reaching itself through its own Service
    assert tcp_call(env.p1, "10.96.0.51", 80) == "p1"
    # no endpoints: refused at once, not a timeout
    assert tcp_call(env.p1, "10.96.0.52", 80, timeout=5) == "refused"
    # a cluster IP on a port no Service has: refused too
    assert tcp_call(env.p1, "10.96.0.50", 81, timeout=5) == "refused"
    # the node port on every node, from a host outside the pod network
    for node_ip in env.node_ips.values():
        assert {tcp_call(env.host, node_ip, 30080) for _ in range(12)} <= {"p2", "p3"}
        assert tcp_call(env.host, node_ip, 30080) in ("p2", "p3")
    # ClientIP affinity: one client keeps its endpoint
    assert len({tcp_call(env.p1, "10.96.0.53", 80) for _ in range(20)}) == 1
    # UDP
    sock = udp_socket(env.p1, 40000)
    try:
        assert udp_call(sock, "10.96.0.54", 53) == "p3"
        # the endpoint moves to p2: the client's flow (same 5-tuple) follows once the
        # stale conntrack entry is gone
        n1.sync(services, [*slices[:3], slice_("dgram", [p2], proto="UDP")])
        assert udp_call(sock, "10.96.0.54", 53) == "p2"
    finally:
        sock.close()


def test_partial_syncs_leave_nothing_stale_and_removal(env: NetEnv) -> None:
    p2, p3 = env.pod_ips[env.p2], env.pod_ips[env.p3]
    n1 = Node(env.node1, "10.244.1.0/24")
    services = [service(f"s{i}", f"10.96.1.{i}") for i in range(1, 6)]
    slices = [slice_(f"s{i}", [p2, p3]) for i in range(1, 6)]
    n1.sync(services, slices)
    # partial: one Service loses an endpoint, one goes, one has none left
    services2 = services[:4]
    slices2 = [slice_("s1", [p2]), slice_("s2", [p2, p3]), slice_("s3", [])]
    n1.sync(services2, slices2)
    assert {tcp_call(env.p1, "10.96.1.1", 80) for _ in range(10)} == {"p2"}
    assert tcp_call(env.p1, "10.96.1.3", 80, timeout=5) == "refused"
    # a cluster IP no Service has (any more) is dropped
    assert tcp_call(env.p1, "10.96.1.5", 80, timeout=1) == "timeout"
    got = asyncio.run(n1.nft.existing())
    assert got is not None
    assert n1.have is not None
    wanted = set(n1.have.chains)
    assert got.chains == wanted, got.chains ^ wanted
    # a full sync from what the kernel has converges to the same
    n1.sync(services2, slices2, full=True)
    assert asyncio.run(n1.nft.existing()).chains == got.chains
    # removal: the table goes, nothing of ours is left in the namespace
    asyncio.run(n1.nft.delete_table())
    assert asyncio.run(n1.nft.existing()) is None
