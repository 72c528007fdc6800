"""The local cluster as a newcomer meets it: up, a Deployment across nodes,
pod-to-pod traffic, chaos, down. Everything through the real CLI."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.e2e.conftest import ROOT, Cluster, down, leftovers, up, wait_for

WEB = str(ROOT / "manifests" / "web-deployment.yaml")


def test_up_down_twice_leaves_nothing(tmp_path: Path) -> None:
    name = "ud" + secrets.token_hex(2)
    for _ in range(2):
        c = up(name, tmp_path, nodes=1)
        try:
            nodes = c.json("get", "nodes")["items"]
            assert [n["metadata"]["name"] for n in nodes] == ["node-1"]
        finally:
            left = down(c)
        assert not left, f"cluster down left: {left}"
    assert not leftovers(name, c.dir)


def test_nodes_ready_and_ls(cluster: Cluster) -> None:
    out = cluster.corral("get", "nodes")
    assert out.count(" Ready ") == 3, out
    assert cluster.name in cluster.corral("cluster", "ls")


def test_deployment_spreads_and_pods_talk_across_nodes(cluster: Cluster) -> None:
    assert "deployment.apps/web created" in cluster.corral("apply", "-f", WEB)
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    nodes = {p["spec"]["nodeName"] for p in pods}
    assert len(nodes) >= 2, f"pods not spread: {nodes}"
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 3 and all(ip.startswith("10.244.") for ip in ips)
    # A page in each pod, fetched from a pod on another node: TCP across nodes.
    for p in pods:
        cluster.corral("exec", p["metadata"]["name"], "--", "sh", "-c",
                       f"echo served-by-{p['metadata']['name']} > /tmp/index.html")
    a = pods[0]
    b = next(p for p in pods if p["spec"]["nodeName"] != a["spec"]["nodeName"])
    # routes to a new node's pod CIDR follow its Node object: allow them a moment,
    # with every attempt bounded (busybox wget's own -T crashes, so `timeout`)
    def fetched() -> str:
        out = cluster.corral("exec", a["metadata"]["name"], "--", "timeout", "5", "wget", "-q",
                             "-O", "-", f"http://{b['status']['podIP']}:8080/index.html",
                             check=False)
        return out if f"served-by-{b['metadata']['name']}" in out else ""
    wait_for(fetched, 60, "a page fetched across nodes", interval=1)
    out = cluster.corral("exec", a["metadata"]["name"], "--", "ping", "-c", "1", "-W", "2",
                         b["status"]["podIP"])
    assert "1 packets received" in out


def test_kill_container_restarts_it(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    victim = pods[0]["metadata"]["name"]
    out = cluster.corral("chaos", "kill-container", victim, "--timeout", "60")
    assert "ready again after" in out, out

    def restarted() -> bool:
        p = cluster.json("get", "pod", victim)
        cs = p["status"]["containerStatuses"][0]
        return bool(cs.get("restartCount", 0) >= 1 and cs.get("ready"))
    wait_for(restarted, 30, f"{victim} restarted and ready")


def test_kill_agent_keeps_containers_and_readopts(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    node = pods[0]["spec"]["nodeName"]
    before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
              for p in pods if p["spec"]["nodeName"] == node}
    out = cluster.corral("chaos", "kill-agent", node, "--timeout", "30")
    assert f"{len(before)}/{len(before)} containers kept running with the same PIDs" in out, out
    after = wait_for(lambda: cluster.running("app=web", 3), 60, "web pods Running again")
    now = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
           for p in after if p["spec"]["nodeName"] == node}
    assert now == before, "the agent's restart changed the containers on its node"


def test_stop_etcd_loses_nothing_and_stops_nothing(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
              for p in pods}
    out = cluster.corral("chaos", "stop-etcd", "4", "--timeout", "60")
    assert "etcd resumed after 4 s" in out and "3/3 ready again after" in out, out
    after = wait_for(lambda: cluster.running("app=web", 3), 60, "web pods Running")
    assert {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
            for p in after} == before, "an etcd outage replaced or restarted pods"
    assert cluster.json("get", "deploy", "web")["spec"]["replicas"] == 3


def test_node_loss_replaces_pods_and_returning_node_has_no_duplicates(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    node = pods[0]["spec"]["nodeName"]
    lost = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == node}
    out = cluster.corral("chaos", "kill-node", node, "--timeout", "90")
    assert "deployment web: 3/3 ready again" in out, out
    now = cluster.running("app=web", 3)
    assert now and not lost & {p["metadata"]["name"] for p in now}
    assert all(p["spec"]["nodeName"] != node for p in now)
    # The node comes back: it must not run the pods that were replaced.
    cluster.corral("chaos", "restart-agent", node, "--timeout", "30")
    wait_for(lambda: " Ready " in cluster.corral("get", "node", node), 30, f"{node} Ready")
    rec = cluster.record()
    data = next(n["data_dir"] for n in rec["nodes"] if n["name"] == node)
    containers = Path(data) / "runtime" / "containers"
    wait_for(lambda: not containers.exists() or not any(containers.iterdir()), 30,
             f"no containers left on {node}")
    assert len(cluster.running("app=web", 3)) == 3
