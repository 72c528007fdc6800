"""The local cluster as a newcomer meets it: up, a Deployment across nodes,
pod-to-pod traffic, chaos, down. Everything through the real CLI."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import ROOT, Cluster, down, leftovers, up, wait_for
from tests.faults.nodeview import pod_processes

WEB = str(ROOT / "manifests" / "web-deployment.yaml")
# The README's web Deployment, whose pods tolerate a node that is unreachable or
# not ready for 15 s, as Kubernetes' default tolerations do for 300 s: an agent
# restart on a loaded machine can outlast the demo profile's grace and eviction
# (2 s + 1 s), and the kill-agent test is about the agent, not eviction; a node
# that stays lost still has its pods replaced after 15 s.
TOLERATE_S = 15


def web_manifest(tmp: Path) -> str:
    doc = yaml.safe_load(Path(WEB).read_text())
    doc["spec"]["template"]["spec"]["tolerations"] = [
        {"key": key, "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": TOLERATE_S}
        for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    out = tmp / "web-deployment.yaml"
    out.write_text(yaml.safe_dump(doc))
    return str(out)


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


def test_deployment_spreads_and_pods_talk_across_nodes(cluster: Cluster,
                                                       tmp_path: Path) -> None:
    assert "deployment.apps/web created" in cluster.corral("apply", "-f", web_manifest(tmp_path))
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


# ---- chaos, observed independently of the chaos command's own report -------------------------
# (the processes from the host's /proc, readiness from the API)

def _started(pid: int) -> tuple[int, int] | None:
    """(PID, start time) of a live process (not a zombie); None if there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (pid, int(fields[19]))


def host_processes(pod_uids: set[str]) -> set[tuple[int, int]]:
    """(PID, start time) of every live host process in these pods' cgroups (a PID
    reused after a kill has another start time)."""
    return {s for pid, _ in pod_processes(pod_uids) if (s := _started(pid)) is not None}


def alive(procs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    return {p for p in procs if _started(p[0]) == p}


def uids(pods: list[dict[str, Any]]) -> set[str]:
    return {p["metadata"]["uid"] for p in pods}


def test_kill_container_restarts_it(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    victim = pods[0]
    before = host_processes({victim["metadata"]["uid"]})
    assert before, "no process of the victim seen in the host's /proc"
    cluster.corral("chaos", "kill-container", victim["metadata"]["name"], "--timeout", "60")

    def restarted() -> bool:
        p = cluster.json("get", "pod", victim["metadata"]["name"])
        cs = p["status"]["containerStatuses"][0]
        return bool(cs.get("restartCount", 0) >= 1 and cs.get("ready"))
    wait_for(restarted, 30, f"{victim['metadata']['name']} restarted and ready")
    assert not alive(before), "the killed container's processes still run"
    assert host_processes({victim["metadata"]["uid"]}), "no new container process"


def test_kill_agent_keeps_containers_and_readopts(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    node = pods[0]["spec"]["nodeName"]
    on_node = [p for p in pods if p["spec"]["nodeName"] == node]
    before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
              for p in on_node}
    procs = host_processes(uids(on_node))
    agent = next(n["agent_pid"] for n in cluster.record()["nodes"] if n["name"] == node)
    cluster.corral("chaos", "kill-agent", node, "--timeout", "30")
    new_agent = next(n["agent_pid"] for n in cluster.record()["nodes"] if n["name"] == node)
    assert new_agent != agent and _started(agent) is None, "the agent was not killed"
    assert _started(new_agent) is not None, "the agent was not restarted"
    after = wait_for(lambda: cluster.running("app=web", 3), 60, "web pods Running again")
    now = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
           for p in after if p["spec"]["nodeName"] == node}
    assert now == before, "the agent's restart changed the containers on its node"
    assert alive(procs) == procs, "container processes died with the agent"


def etcd_of(cluster: Cluster) -> int:
    """The embedded etcd: the control plane's child process named etcd (host /proc)."""
    cp = cluster.record()["controlplane_pid"]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                status = dict(ln.split(":\t", 1) for ln in
                              (d / "status").read_text().splitlines() if ":\t" in ln)
            except OSError:
                continue
            if status.get("PPid") == str(cp) and status.get("Name") == "etcd":
                return int(d.name)
    raise AssertionError("no etcd process under the control plane")


def state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_stop_etcd_loses_nothing_and_stops_nothing(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
              for p in pods}
    procs = host_processes(uids(pods))
    etcd = etcd_of(cluster)
    chaos = subprocess.Popen([sys.executable, "-m", "corral.cli.main", "chaos", "stop-etcd",
                              "4", "--timeout", "60"], env=cluster.env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        states = set()
        while chaos.poll() is None:               # the outage, seen from the host
            states.add(state_of(etcd))
            time.sleep(0.2)
        out = chaos.communicate()[0]
    finally:
        if chaos.poll() is None:
            chaos.kill()
            chaos.wait()
    assert chaos.returncode == 0, out
    assert "T" in states, f"etcd was never stopped (states seen: {states})"
    assert state_of(etcd) not in ("T", "gone") and etcd_of(cluster) == etcd, "etcd not resumed"
    after = wait_for(lambda: cluster.running("app=web", 3), 60, "web pods Running")
    assert {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
            for p in after} == before, "an etcd outage replaced or restarted pods"
    assert alive(procs) == procs, "an etcd outage stopped container processes"
    assert cluster.json("get", "deploy", "web")["spec"]["replicas"] == 3


def test_node_loss_replaces_pods_and_returning_node_has_no_duplicates(cluster: Cluster) -> None:
    pods = wait_for(lambda: cluster.running("app=web", 3), 60, "3 web pods Running")
    node = pods[0]["spec"]["nodeName"]
    lost = [p for p in pods if p["spec"]["nodeName"] == node]
    cluster.corral("chaos", "kill-node", node, "--timeout", "90")
    assert not host_processes(uids(lost)), "the lost node's containers still run"

    def replaced() -> list[dict[str, Any]]:
        now = cluster.running("app=web", 3)
        ok = now and not uids(lost) & uids(now) and \
            all(p["spec"]["nodeName"] != node for p in now)
        return now if ok else []
    wait_for(replaced, 90, f"3 web pods ready again, none on {node}")
    # The node comes back: it must not run the pods that were replaced.
    cluster.corral("chaos", "restart-agent", node, "--timeout", "30")
    wait_for(lambda: " Ready " in cluster.corral("get", "node", node), 30, f"{node} Ready")
    rec = cluster.record()
    data = next(n["data_dir"] for n in rec["nodes"] if n["name"] == node)
    containers = Path(data) / "runtime" / "containers"
    wait_for(lambda: not containers.exists() or not any(containers.iterdir()), 30,
             f"no containers left on {node}")
    assert not host_processes(uids(lost)), "a replaced pod runs again on its old node"
    assert len(cluster.running("app=web", 3)) == 3
