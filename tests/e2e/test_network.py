"""Pod networking on a local 3-node cluster: hostNetwork pods, and a removed
node's routes. Everything through the real CLI; the module's cluster is torn
down (and checked to leave no netns, link, mount or cgroup) at the end."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cluster, wait_for

PORT = 18081


def _pod(name: str, node: str, command: list[str], host_network: bool = False) -> str:
    lines = [
        "apiVersion: v1", "kind: Pod", f"metadata: {{name: {name}, labels: {{net: e2e}}}}",
        "spec:", f"  hostNetwork: {str(host_network).lower()}",
        "  terminationGracePeriodSeconds: 1",
        f"  nodeSelector: {{kubernetes.io/hostname: {node}}}",
        "  containers:", "  - name: app", "    image: demo:latest",
        "    imagePullPolicy: IfNotPresent", f"    command: {command!r}",
    ]
    if host_network:
        lines += ["    ports:", f"    - containerPort: {PORT}"]
    return "\n".join(lines) + "\n"


def _node(cluster: Cluster, name: str) -> dict[str, Any]:
    return next(n for n in cluster.record()["nodes"] if n["name"] == name)


def _routes(netns: str) -> str:
    return subprocess.run(["ip", "-n", netns, "route", "show", "proto", "67"],
                          capture_output=True, text=True).stdout


def _fetch(cluster: Cluster, pod: str, url: str) -> str:
    out = cluster.corral("exec", pod, "--", "timeout", "5", "wget", "-q", "-O", "-", url,
                         check=False)
    return out if "host-served" in out else ""


def test_host_network_pod_reached_at_its_node_ip_from_both_nodes(cluster: Cluster,
                                                                  tmp_path: Path) -> None:
    node1 = _node(cluster, "node-1")
    serve = f"mkdir -p /tmp/w && echo host-served > /tmp/w/index.html && " \
            f"exec httpd -f -p {PORT} -h /tmp/w"
    sleep = ["sleep", "100000"]
    manifest = tmp_path / "pods.yaml"
    manifest.write_text("---\n".join([
        _pod("hostweb", "node-1", ["sh", "-c", serve], host_network=True),
        _pod("near", "node-1", sleep), _pod("far", "node-2", sleep)]))
    cluster.corral("apply", "-f", str(manifest))
    try:
        pods = wait_for(lambda: cluster.running("net=e2e", 3), 90, "3 pods Running")
        by_name = {p["metadata"]["name"]: p for p in pods}
        host = by_name["hostweb"]["status"]
        assert host["podIP"] == host["hostIP"] == node1["ip"], host
        assert by_name["near"]["status"]["podIP"] != node1["ip"]
        url = f"http://{node1['ip']}:{PORT}/index.html"
        # from a pod on the same node, then across nodes (host-gw routes carry the reply)
        wait_for(lambda: _fetch(cluster, "near", url), 60, "fetch on one node", interval=1)
        wait_for(lambda: _fetch(cluster, "far", url), 60, "fetch across nodes", interval=1)
        # the server listens in node-1's own namespace, beside the agent
        listening = subprocess.run(["ip", "netns", "exec", node1["netns"], "ss", "-ltnH"],
                                   capture_output=True, text=True).stdout
        assert f":{PORT} " in listening, listening
    finally:
        cluster.corral("delete", "-f", str(manifest), check=False)
    wait_for(lambda: not cluster.pods("net=e2e"), 60, "pods deleted")
    # pod netns of node-1 gone (the agent names them <node netns>-<hash>), the node's own kept
    def pod_netns() -> list[str]:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [ln.split()[0] for ln in out.splitlines() if ln.startswith(f"{node1['netns']}-")]
    wait_for(lambda: not pod_netns(), 30, "no pod netns left on node-1")
    addrs = subprocess.run(["ip", "-n", node1["netns"], "-o", "addr"], capture_output=True,
                           text=True).stdout
    assert f"{node1['ip']}/" in addrs


def test_removed_node_loses_its_routes_on_the_others(cluster: Cluster) -> None:
    """Last in this module: node-3 goes for good."""
    node3 = _node(cluster, "node-3")
    cidr = wait_for(lambda: cluster.json("get", "node", "node-3")["spec"].get("podCIDR"), 30,
                    "node-3 podCIDR")
    others = [_node(cluster, n)["netns"] for n in ("node-1", "node-2")]
    for ns in others:
        wait_for(lambda ns=ns: f"{cidr} via {node3['ip']}" in _routes(ns), 30,
                 f"a route to {cidr} in {ns}")
    cluster.corral("chaos", "kill-node", "node-3")
    cluster.corral("delete", "node", "node-3")
    for ns in others:
        wait_for(lambda ns=ns: cidr not in _routes(ns), 30, f"the route to {cidr} gone in {ns}")
    # the other nodes keep their routes to each other
    cidr1 = cluster.json("get", "node", "node-1")["spec"]["podCIDR"]
    assert f"{cidr1} via {_node(cluster, 'node-1')['ip']}" in _routes(others[1])
