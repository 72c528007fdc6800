"""PodNetwork on real namespaces: each node's agent code runs inside its node netns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.network.conftest import (
    Cluster,
    corral_routes,
    links,
    make_node,
    ns_exec,
    our_netns,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

PING = ["busybox", "ping"] if shutil.which("ping") is None else ["ping"]

SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7777)); s.listen(1); s.settimeout(30)
print("ready", flush=True)
c, peer = s.accept(); c.settimeout(10)
data = c.recv(1024)
c.sendall(b"echo:" + data + b" from:" + peer[0].encode())
c.close(); s.close()
"""

CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], 7777), timeout=10)
c.sendall(b"hello"); print(c.recv(1024).decode()); c.close()
"""


def ping(pod_ns: str, ip: str) -> bool:
    return ns_exec(pod_ns, *PING, "-c1", "-W2", ip).returncode == 0


def veths(netns: str) -> list[str]:
    return sorted(str(x["ifname"]) for x in links(netns) if x["kind"] == "veth")


def setup_nodes(c: Cluster) -> None:
    for n in c.nodes:
        n.ok(["ensure_node"], ["sync_routes", c.node_routes()])


def teardown_all(c: Cluster, uids: dict[str, list[str]]) -> None:
    """Tear every pod down and drop the routes, then check nothing of ours is left."""
    for n in c.nodes:
        n.ok(*[["teardown_pod", u] for u in uids.get(n.name, [])], ["sync_routes", []])
        assert veths(n.netns) == ["eth0"], "a pod veth is left"
        assert corral_routes(n.netns) == {}
        assert not [x for x in our_netns(c.token) if x.startswith(n.prefix)]


def host_ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def test_pod_to_pod_same_node_and_across_nodes(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    host_forward = host_ip_forward()
    setup_nodes(cluster)
    assert host_ip_forward() == host_forward  # only the nodes' namespaces changed
    for n in cluster.nodes:
        assert ns_exec(n.netns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    a, b = n1.ok(["setup_pod", "uid-a", "default", "a"], ["setup_pod", "uid-b", "default", "b"])
    (c,) = n2.ok(["setup_pod", "uid-c", "default", "c"])
    assert a["ip"] == "10.124.1.2" and b["ip"] == "10.124.1.3" and c["ip"] == "10.124.2.2"
    assert a["gateway"] == "10.124.1.1" and a["netns_path"] == f"/var/run/netns/{a['netns_name']}"
    # the pod netns are visible from outside the agent's mount namespace
    assert {a["netns_name"], b["netns_name"], c["netns_name"]} <= set(our_netns(cluster.token))
    # routes: each node points at the other's pod CIDR
    assert corral_routes(n1.netns) == {"10.124.2.0/24": n2.ip}
    assert corral_routes(n2.netns) == {"10.124.1.0/24": n1.ip}
    # eth0 in the pod: address, up, MTU of the node uplink
    pod_links = {x["ifname"]: x for x in links(a["netns_name"])}
    assert pod_links["eth0"]["state"] == "up" and pod_links["eth0"]["mtu"] == 1500
    assert pod_links["lo"]["state"] == "up"
    # the host end: labelled with the pod uid, hairpin on (a pod reaching itself via a Service)
    host_end = json.loads(subprocess.run(
        ["ip", "-n", n1.netns, "-d", "-j", "link", "show", a["host_veth"]],
        capture_output=True, text=True, check=True).stdout)[0]
    assert host_end["ifalias"] == "corral:uid-a"
    assert host_end["linkinfo"]["info_slave_data"]["hairpin"] is True

    assert ping(a["netns_name"], b["ip"])  # same node, over the bridge
    assert ping(a["netns_name"], "10.124.1.1")  # the gateway
    assert ping(a["netns_name"], c["ip"])  # across nodes, host-gw
    assert ping(c["netns_name"], b["ip"])

    # TCP echo across nodes: server in pod c (node 2), client in pod a (node 1)
    server = subprocess.Popen(
        ["ip", "netns", "exec", c["netns_name"], sys.executable, "-c", SERVER],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = ns_exec(a["netns_name"], sys.executable, "-c", CLIENT, c["ip"])
        assert client.returncode == 0, client.stderr
        # no NAT anywhere: the server sees the client's pod IP
        assert client.stdout.strip() == f"echo:hello from:{a['ip']}"
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    teardown_all(cluster, {"n1": ["uid-a", "uid-b"], "n2": ["uid-c"]})
    assert ns_exec(a["netns_name"], "true").returncode != 0  # the netns is gone


def test_setup_is_idempotent_and_repairs(cluster: Cluster) -> None:
    n1, _ = cluster.nodes
    n1.ok(["ensure_node"], ["ensure_node"])
    first, again = n1.ok(["setup_pod", "uid-x", "default", "x"],
                         ["setup_pod", "uid-x", "default", "x"])
    assert first == again
    # break it: delete the host veth (which takes eth0 along); setup repairs it
    from pyroute2 import IPRoute

    with IPRoute(netns=n1.netns, flags=0) as ipr:
        ipr.link("del", index=ipr.link_lookup(ifname=first["host_veth"])[0])
    (repaired,) = n1.ok(["setup_pod", "uid-x", "default", "x"])
    assert repaired == first
    assert ping(first["netns_name"], "10.124.1.1")
    teardown_all(cluster, {"n1": ["uid-x"]})
    # teardown twice is fine
    n1.ok(["teardown_pod", "uid-x"])


def test_addresses_reused_after_deletion(cluster: Cluster, tmp_path: Path) -> None:
    token = cluster.token
    node = make_node(token, 3, "10.125.0.0/29", tmp_path, None)  # 5 pod addresses
    node.ok(["ensure_node"])
    uids = [f"u{i}" for i in range(5)]
    infos = node.ok(*[["setup_pod", u, "default", u] for u in uids])
    ips = [i["ip"] for i in infos]
    assert len(set(ips)) == 5
    node.ok(["teardown_pod", "u1"], ["teardown_pod", "u3"])
    new = node.ok(["setup_pod", "v1", "default", "v1"], ["setup_pod", "v2", "default", "v2"])
    assert sorted(i["ip"] for i in new) == sorted([ips[1], ips[3]])
    status = node.ok(["status"])[0]
    assert len(set(status["allocated"])) == 5 and status["free"] == 0
    live = ["u0", "u2", "u4", "v1", "v2"]
    node.ok(*[["teardown_pod", u] for u in live])
    assert veths(node.netns) == []
    assert not [x for x in our_netns(token) if x.startswith(node.prefix)]


def test_exhausted_cidr_leaves_nothing_half_made(token: str, tmp_path: Path) -> None:
    node = make_node(token, 4, "10.126.0.0/30", tmp_path, None)  # room for one pod
    node.ok(["ensure_node"], ["setup_pod", "one", "default", "one"])
    out = node.run(["setup_pod", "two", "default", "web-1"])
    assert out["error"] == "IPAMExhausted"
    assert out["message"] == "no free IP in 10.126.0.0/30 for pod default/web-1"
    pods = [x for x in our_netns(token) if x.startswith(node.prefix)]
    assert len(pods) == 1 and len(veths(node.netns)) == 1
    # the race path too: an address looked free, but allocate() (after the netns
    # and veth exist) finds none: what was made is rolled back
    node.ok(["teardown_pod", "one"])
    out = node.run(["exhaust_allocate"], ["setup_pod", "two", "default", "web-1"])
    assert out["error"] == "IPAMExhausted"
    assert veths(node.netns) == []
    assert not [x for x in our_netns(token) if x.startswith(node.prefix)]


def test_node_removed_from_sync_loses_its_route(cluster: Cluster, tmp_path: Path) -> None:
    n1, n2 = cluster.nodes
    n3 = make_node(cluster.token, 3, "10.124.3.0/24", tmp_path, cluster.cluster_ns)
    cluster.nodes.append(n3)
    setup_nodes(cluster)
    assert corral_routes(n1.netns) == {"10.124.2.0/24": n2.ip, "10.124.3.0/24": n3.ip}
    # a route that is not ours, which sync must never touch
    from pyroute2 import IPRoute

    with IPRoute(netns=n1.netns, flags=0) as ipr:
        ipr.route("add", dst="10.124.9.0/24", gateway=n2.ip)
    res = n1.ok(["sync_routes", [(n1.pod_cidr, n1.ip), (n2.pod_cidr, n2.ip)]])[0]
    assert res["removed"] == [f"10.124.3.0/24 via {n3.ip}"]
    assert corral_routes(n1.netns) == {"10.124.2.0/24": n2.ip}
    # a node IP change is a replace
    res = n1.ok(["sync_routes", [(n2.pod_cidr, n3.ip)]])[0]
    assert res["replaced"] == [f"10.124.2.0/24 via {n3.ip}"]
    # a clash with a foreign route is reported, not overwritten
    res = n1.ok(["sync_routes", [("10.124.9.0/24", n3.ip)]])[0]
    assert res["conflicts"] and corral_routes(n1.netns) == {}
    with IPRoute(netns=n1.netns, flags=0) as ipr:
        kept = [r for r in ipr.get_routes(family=2, table=254)
                if r.get("dst") == "10.124.9.0"]
        assert len(kept) == 1 and kept[0].get("gateway") == n2.ip
    # an off-link node IP fails with a clear error, the others are still programmed
    out = n1.run(["sync_routes", [("10.124.5.0/24", "10.77.0.1"), (n2.pod_cidr, n2.ip)]])
    assert out["error"] == "RouteError" and "10.124.5.0/24 via 10.77.0.1" in out["message"]
    assert corral_routes(n1.netns) == {"10.124.2.0/24": n2.ip}
    out = n1.run(["sync_routes", [("10.124.7.0/33", n2.ip)]])
    assert out["error"] == "InvalidNetworkConfig" and "10.124.7.0/33" in out["message"]
    teardown_all(cluster, {})


def test_orphans_cleaned_after_crash_between_veth_and_ipam(cluster: Cluster) -> None:
    n1, _ = cluster.nodes
    n1.ok(["ensure_node"])
    (keep,) = n1.ok(["setup_pod", "uid-keep", "default", "keep"])
    n1.run(["crash_in_setup", "uid-crash"], expect_exit=17)
    pods = [x for x in our_netns(cluster.token) if x.startswith(n1.prefix)]
    assert len(pods) == 2 and len(veths(n1.netns)) == 3  # eth0 + keep + crash debris
    # a restarted agent that sets the crashed pod up again reuses the debris
    n1.run(["crash_in_setup", "uid-crash2"], expect_exit=17)
    (redo,) = n1.ok(["setup_pod", "uid-crash2", "default", "crashy2"])
    assert ping(redo["netns_name"], keep["ip"])
    assert len(veths(n1.netns)) == 4
    # a leaked address with no pod (e.g. a crash after the record, before status)
    (Path(n1.data_dir) / "ipam" / "10.124.1.0_24" / "10.124.1.200").write_text("uid-gone\n")
    (removed,) = n1.ok(["cleanup_orphans", ["uid-keep"]])
    assert "10.124.1.200" in removed
    assert [x for x in our_netns(cluster.token) if x.startswith(n1.prefix)] == [
        keep["netns_name"]
    ]
    assert len(veths(n1.netns)) == 2  # eth0 + keep
    assert ping(keep["netns_name"], "10.124.1.1")
    # a crash-restarted setup for the crashed pod just works
    (again,) = n1.ok(["setup_pod", "uid-crash", "default", "crashy"])
    assert again["ip"] != keep["ip"]
    teardown_all(cluster, {"n1": ["uid-keep", "uid-crash"]})


def test_host_network_pod_reports_node_ip(cluster: Cluster) -> None:
    n1, _ = cluster.nodes
    (info,) = n1.ok(["setup_pod", "uid-h", "default", "h", {"host_network": True}])
    assert info["ip"] == n1.ip and info["netns_name"] == ""
    assert veths(n1.netns) == ["eth0"]


def test_agent_entering_only_the_netns_and_mtu_follows_uplink(cluster: Cluster) -> None:
    """Like Vagrant: the agent shares the host's mount namespace. MTU from the uplink."""
    from pyroute2 import IPRoute

    n1, n2 = cluster.nodes
    for n in cluster.nodes:
        n.enter = "nsenter"
        with IPRoute(netns=n.netns, flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="eth0")[0], mtu=1400)
    setup_nodes(cluster)
    (a,) = n1.ok(["setup_pod", "uid-a", "default", "a"])
    (b,) = n2.ok(["setup_pod", "uid-b", "default", "b"])
    status = n1.ok(["status"])[0]
    assert status["mountNamespace"] == "own" and status["mtu"] == 1400
    assert {x["ifname"]: x["mtu"] for x in links(a["netns_name"])}["eth0"] == 1400
    node_links = {x["ifname"]: x for x in links(n1.netns)}
    assert node_links[a["host_veth"]]["mtu"] == 1400
    assert node_links["corral0"]["mtu"] == 1400
    assert ping(a["netns_name"], b["ip"])
    teardown_all(cluster, {"n1": ["uid-a"], "n2": ["uid-b"]})


def vtep_state(netns: str) -> dict[str, object]:
    from pyroute2 import IPRoute

    with IPRoute(netns=netns, flags=0) as ipr:
        idx = ipr.link_lookup(ifname="corral.1")[0]
        link = ipr.get_links(idx)[0]
        routes_on = sorted(
            f"{r.get('dst')}/{r.get('dst_len')}"
            for r in ipr.get_routes(family=2, table=254)
            if r.get("oif") == idx and r.get("proto") == 0x43
        )
        return {
            "tx": link.get("stats64")["tx_packets"],
            "mac": link.get("address"),
            "routes": routes_on,
            "neigh": sorted(
                str(n.get("NDA_DST")) for n in ipr.get_neighbours(family=2, ifindex=idx)
            ),
            "fdb": sorted(str(f.get("NDA_DST")) for f in ipr.fdb("dump", ifindex=idx)),
        }


def test_vxlan_backend(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    for n in cluster.nodes:
        n.ok(["ensure_node"], ["sync_routes", cluster.node_routes()], backend="vxlan")
    (a,) = n1.ok(["setup_pod", "uid-a", "default", "a"], backend="vxlan")
    (b,) = n2.ok(["setup_pod", "uid-b", "default", "b"], backend="vxlan")
    st1 = vtep_state(n1.netns)
    assert st1["mac"] == "0e:43:0a:7b:00:0b"  # from 10.123.0.11
    assert st1["routes"] == ["10.124.2.0/24"]
    assert st1["neigh"] == ["10.124.2.0"] and st1["fdb"] == [n2.ip]
    assert {x["ifname"]: x["mtu"] for x in links(a["netns_name"])}["eth0"] == 1450
    assert ping(a["netns_name"], b["ip"])
    after = vtep_state(n1.netns)
    assert isinstance(after["tx"], int) and isinstance(st1["tx"], int)
    assert after["tx"] > st1["tx"]  # the traffic went through the VTEP
    # node 2 disappears: its route, neighbour and FDB entry go
    res = n1.ok(["sync_routes", [(n1.pod_cidr, n1.ip)]], backend="vxlan")[0]
    assert res["removed"] == ["10.124.2.0/24 via 10.124.2.0"]
    gone = vtep_state(n1.netns)
    assert gone["routes"] == [] and gone["neigh"] == [] and gone["fdb"] == []
    teardown_all(cluster, {"n1": ["uid-a"], "n2": ["uid-b"]})
