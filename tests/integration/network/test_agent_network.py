"""The pod network as the real agent drives it: hostNetwork pods, an exhausted pod CIDR.

A real control plane and agent (the ``cluster`` fixture of tests/integration/agent,
which leaves no pod netns, mount or cgroup behind); the agent runs in a network
namespace the test made, which is "the node".
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from agent.network.pod import host_veth_name, netns_name
from proto import api_pb2, core_pb2, kinds
from tests.integration.agent.conftest import Cluster, cluster, ip, wait_for

__all__ = ["cluster"]   # the fixture


def _pod(cluster: Cluster, name: str, script: str, host_network: bool = False) -> api_pb2.Object:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.spec.node_name = cluster.agent.node
    pod.spec.host_network = host_network
    pod.spec.termination_grace_period_seconds = 1
    c = pod.spec.containers.add(name="app", image=cluster.image, image_pull_policy="Never")
    c.command.extend(["sh", "-c", script])
    return kinds.wrap(pod)


def _create(cluster: Cluster, obj: api_pb2.Object) -> None:
    cluster.api.Create(api_pb2.CreateRequest(object=obj), timeout=10)


def _delete(cluster: Cluster, name: str) -> None:
    cluster.api.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name=name),
                       timeout=10)


def _get(cluster: Cluster, name: str) -> core_pb2.Pod | None:
    cluster.agent.check_alive()
    obj = cluster.get_pod(name)
    return obj.pod if obj is not None else None


def _running(cluster: Cluster, name: str) -> core_pb2.Pod | None:
    p = _get(cluster, name)
    if p is not None and p.status.phase == "Running" and p.status.pod_ip \
            and p.status.container_statuses \
            and p.status.container_statuses[0].state.HasField("running"):
        return p
    return None


def _node_cidr(cluster: Cluster) -> str:
    try:
        n = cluster.api.Get(api_pb2.GetRequest(resource="nodes", name=cluster.agent.node),
                            timeout=5).node
    except grpc.RpcError:
        return ""
    return n.spec.pod_cidr


def _prefix(cluster: Cluster) -> str:
    return f"corral-{cluster.agent.node}-"


def _pod_netns(cluster: Cluster) -> list[str]:
    out = ip("netns", "list").stdout.split("\n")
    return [line.split()[0] for line in out if line.startswith(_prefix(cluster))]


def _pod_veths(cluster: Cluster) -> list[str]:
    out = ip("-n", cluster.agent.netns.name, "-o", "link", "show", "type", "veth").stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    return [n for n in names if n.startswith("veth")]


def _log(cluster: Cluster, pod_uid: str) -> str:
    from agent.runtime.runtime import Runtime
    agent = cluster.agent
    for c in Runtime(agent.data_dir / "runtime", agent.cgroup_root).list():
        if c.pod_uid == pod_uid and c.log_path is not None and Path(c.log_path).exists():
            return Path(c.log_path).read_text(errors="replace")
    return ""


def _netns_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def _container_pid(cluster: Cluster, pod_uid: str) -> int:
    from agent.runtime.runtime import Runtime
    agent = cluster.agent
    pids = [c.pid for c in Runtime(agent.data_dir / "runtime", agent.cgroup_root).list()
            if c.pod_uid == pod_uid and c.pid]
    return int(pids[0]) if pids else 0


def _gone(cluster: Cluster, *names: str) -> bool:
    return all(_get(cluster, n) is None for n in names)


def test_host_network_pod_shares_the_node_namespace(cluster: Cluster) -> None:
    agent = cluster.agent
    wait_for(lambda: _node_cidr(cluster), 60, "a podCIDR", agent.log)
    _create(cluster, _pod(cluster, "hostweb", "mkdir -p /www && echo host-served > "
                          "/www/index.html && exec httpd -f -p 18080 -h /www", True))
    host = wait_for(lambda: _running(cluster, "hostweb"), 60, "hostweb Running", agent.log)
    assert host.status.pod_ip == host.status.host_ip == agent.netns.ns_ip
    assert [i.ip for i in host.status.pod_ips] == [agent.netns.ns_ip]
    # its container is in the node's (the agent's) network namespace; no pod netns made
    assert agent.proc is not None
    pid = _container_pid(cluster, host.metadata.uid)
    assert pid and _netns_of(pid) == _netns_of(agent.proc.pid)
    assert _pod_netns(cluster) == [] and _pod_veths(cluster) == []

    # an ordinary pod on the node reaches it at the node IP
    _create(cluster, _pod(cluster, "client", "until wget -q -O /tmp/got "
                          f"http://{agent.netns.ns_ip}:18080/index.html; do sleep 0.2; "
                          "done; cat /tmp/got; exec sleep 100000"))
    client = wait_for(lambda: _running(cluster, "client"), 60, "client Running", agent.log)
    assert client.status.pod_ip != agent.netns.ns_ip
    wait_for(lambda: "host-served" in _log(cluster, client.metadata.uid), 60,
             "the client fetching from the hostNetwork pod", agent.log)
    assert len(_pod_netns(cluster)) == 1 and len(_pod_veths(cluster)) == 1

    _delete(cluster, "hostweb")
    _delete(cluster, "client")
    wait_for(lambda: _gone(cluster, "hostweb", "client"), 60, "pods deleted", agent.log)
    wait_for(lambda: not _pod_netns(cluster) and not _pod_veths(cluster), 30,
             "no pod netns or veth left", agent.log)
    # tearing the hostNetwork pod down left the node's own namespace alone
    addrs = ip("-n", agent.netns.name, "-o", "addr", "show", "dev", agent.netns.ns_if).stdout
    assert f"{agent.netns.ns_ip}/30" in addrs
    assert "UP" in ip("-n", agent.netns.name, "link", "show", "lo").stdout
    agent.check_alive()


def _events(cluster: Cluster, name: str) -> list[core_pb2.Event]:
    items = cluster.api.List(api_pb2.ListRequest(resource="events", namespace="default"),
                             timeout=5).items
    return [o.event for o in items if o.event.involved_object.name == name]


def _waiting(cluster: Cluster, name: str) -> str:
    p = _get(cluster, name)
    if p is None or not p.status.container_statuses:
        return ""
    w = p.status.container_statuses[0].state.waiting
    return f"{w.reason}: {w.message}" if w.reason else ""


# a /30 holds one pod: .1 is the bridge, .2 the pod, .3 the broadcast address
@pytest.mark.parametrize("cluster", ["10.244.250.0/30"], indirect=True)
def test_exhausted_pod_cidr_waits_with_an_event_then_starts(cluster: Cluster) -> None:
    agent = cluster.agent
    sleep = "exec sleep 100000"
    _create(cluster, _pod(cluster, "first", sleep))
    first = wait_for(lambda: _running(cluster, "first"), 60, "first Running", agent.log)
    assert first.status.pod_ip == "10.244.250.2"

    _create(cluster, _pod(cluster, "second", sleep))
    ev = wait_for(lambda: [e for e in _events(cluster, "second")
                           if e.reason == "FailedCreatePodSandBox"], 60,
                  "a FailedCreatePodSandBox event", agent.log)[0]
    assert ev.type == "Warning" and "no free IP in 10.244.250.0/30" in ev.message, ev
    waiting = wait_for(lambda: _waiting(cluster, "second"), 30, "a waiting reason")
    assert waiting.startswith("ContainerCreating: ") and "no free IP" in waiting, waiting
    second = _get(cluster, "second")
    assert second is not None and second.status.phase == "Pending"
    assert not second.status.pod_ip
    # nothing half-made for it: no netns, no veth, no address record
    uid = second.metadata.uid
    assert netns_name(_prefix(cluster), uid) not in _pod_netns(cluster)
    assert _pod_veths(cluster) == [host_veth_name(first.metadata.uid)]
    records = agent.data_dir / "network" / "ipam" / "10.244.250.0_30"
    assert sorted(p.name for p in records.iterdir() if p.name[0].isdigit()) \
        == ["10.244.250.2"]
    assert not (agent.data_dir / "runtime" / "pods" / uid).exists()

    # the address is freed: the waiting pod starts with it
    _delete(cluster, "first")
    second = wait_for(lambda: _running(cluster, "second"), 90, "second Running", agent.log)
    assert second.status.pod_ip == "10.244.250.2"
    _delete(cluster, "second")
    wait_for(lambda: _gone(cluster, "first", "second"), 60, "pods deleted", agent.log)
    wait_for(lambda: not _pod_netns(cluster) and not _pod_veths(cluster), 30,
             "no pod netns or veth left", agent.log)
