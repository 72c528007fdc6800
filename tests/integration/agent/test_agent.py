"""The real agent against a real control plane: run, survive kill -9, delete."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc

from controlplane.security import pki
from proto import agent_pb2, agent_pb2_grpc, api_pb2, core_pb2, kinds
from tests.support.refusal import refusal_code

from .conftest import AgentProcess, Cluster, wait_for


def _pod(cluster: Cluster, name: str) -> core_pb2.Pod:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.spec.node_name = cluster.agent.node
    pod.spec.termination_grace_period_seconds = 5
    c = pod.spec.containers.add(name="app", image=cluster.image, image_pull_policy="Never")
    c.command.extend(["sh", "-c", "echo hello from $POD_NAME; echo $POD_NAME > /scratch/f; "
                               "exec sleep 100000"])
    c.volume_mounts.add(name="scratch", mount_path="/scratch")
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    c.env.add(name="POD_NAME").value_from.field_ref.field_path = "metadata.name"
    return pod


def _running(cluster: Cluster, name: str, restarts: int = 0) -> core_pb2.Pod | None:
    cluster.agent.check_alive()
    obj = cluster.get_pod(name)
    if obj is None:
        return None
    p = obj.pod
    if p.status.phase == "Running" and p.status.pod_ip and p.status.container_statuses \
            and p.status.container_statuses[0].state.HasField("running") \
            and p.status.container_statuses[0].restart_count == restarts:
        return p
    return None


def _pid(data_dir: Path, cgroup_root: str, container_id: str) -> int:
    from agent.runtime.runtime import Runtime
    info = Runtime(data_dir / "runtime", cgroup_root).status(container_id)
    assert info.state == "running" and info.pid
    return int(info.pid)


def test_pod_runs_survives_agent_kill_and_is_deleted(cluster: Cluster) -> None:
    agent = cluster.agent
    node = wait_for(lambda: _node(cluster), 60, "node registered with a podCIDR", agent.log)
    assert node.metadata.labels["corral.dev/cgroup-version"] in ("v1", "v2")
    assert node.status.daemon_endpoints.kubelet_endpoint.port > 0

    cluster.api.Create(api_pb2.CreateRequest(object=kinds.wrap(_pod(cluster, "web"))), timeout=5)
    pod = wait_for(lambda: _running(cluster, "web"), 60, "pod Running", agent.log)
    assert pod.status.pod_ip.startswith(node.spec.pod_cidr.rsplit(".", 1)[0])
    assert pod.status.host_ip == agent.netns.ns_ip
    cs = pod.status.container_statuses[0]
    assert cs.container_id.startswith("corral://") and cs.restart_count == 0
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    cid = cs.container_id.removeprefix("corral://")
    pid = _pid(agent.data_dir, agent.cgroup_root, cid)
    port = node.status.daemon_endpoints.kubelet_endpoint.port
    wait_for(lambda: any(o.event.reason == "Started" and o.event.involved_object.name == "web"
                         for o in cluster.api.List(api_pb2.ListRequest(
                             resource="events", namespace="default"), timeout=5).items),
             20, "a Started event", agent.log)
    _check_agent_service(cluster, f"{agent.netns.ns_ip}:{port}")

    # kill -9: the container keeps running; the next agent adopts it
    agent.kill9()
    assert os.path.exists(f"/proc/{pid}")
    agent.start()
    wait_for(lambda: "re-adopted running container app" in agent.log(), 30, "agent back",
             agent.log)
    lease_before = _lease_time(cluster)
    wait_for(lambda: _lease_time(cluster) > lease_before, 30, "lease renewed", agent.log)
    pod = wait_for(lambda: _running(cluster, "web"), 30, "pod still Running", agent.log)
    assert pod.status.container_statuses[0].container_id == f"corral://{cid}"
    assert pod.status.container_statuses[0].restart_count == 0
    assert _pid(agent.data_dir, agent.cgroup_root, cid) == pid

    # delete: stopped with the grace period, cleaned up, confirmed
    cluster.api.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="web"),
                       timeout=5)
    wait_for(lambda: cluster.get_pod("web") is None, 60, "pod deleted", agent.log)
    assert not os.path.exists(f"/proc/{pid}")
    from agent.runtime.runtime import Runtime
    assert Runtime(agent.data_dir / "runtime", agent.cgroup_root).list() == []


def _agent_channel(cluster: Cluster, address: str, kp: pki.KeyPair | None) -> grpc.Channel:
    """A channel to the agent that verifies it is this node; presenting `kp` (None: none)."""
    ca = pki.ClusterCA.load(cluster.cp.dir / "data" / "pki")
    creds = grpc.ssl_channel_credentials(ca.cert_pem, kp.key_pem if kp else None,
                                         kp.cert_pem if kp else None)
    return grpc.secure_channel(address, creds, options=[
        ("grpc.ssl_target_name_override", pki.node_server_name(cluster.agent.node))])


def _refused(ch: grpc.Channel) -> grpc.StatusCode:
    def inputs() -> Iterator[agent_pb2.ExecInput]:
        yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
            namespace="default", pod="web", command=["cat", "/scratch/f"]))
    try:
        list(agent_pb2_grpc.AgentStub(ch).Exec(inputs(), timeout=10))
    except grpc.RpcError as e:
        return refusal_code(e)
    raise AssertionError("the agent ran exec for an unauthorised caller")


def _check_agent_service(cluster: Cluster, address: str) -> None:
    # only the control plane's certificate gets in: not plaintext, not no certificate,
    # not an admin's, not a node's (the agent's own identity, for instance)
    ca = pki.ClusterCA.load(cluster.cp.dir / "data" / "pki")
    with grpc.insecure_channel(address) as ch:
        assert _refused(ch) == grpc.StatusCode.UNAVAILABLE
    with _agent_channel(cluster, address, None) as ch:
        assert _refused(ch) == grpc.StatusCode.UNAVAILABLE
    with _agent_channel(cluster, address, ca.issue_admin()) as ch:
        assert _refused(ch) == grpc.StatusCode.PERMISSION_DENIED
    with _agent_channel(cluster, address, ca.issue_node(cluster.agent.node)) as ch:
        assert _refused(ch) == grpc.StatusCode.PERMISSION_DENIED
    other = pki.ClusterCA.create()      # the right name, from another CA
    with _agent_channel(cluster, address, other.issue_controlplane_client()) as ch:
        assert _refused(ch) == grpc.StatusCode.UNAVAILABLE
    with _agent_channel(cluster, address, ca.issue_controlplane_client()) as ch:
        stub = agent_pb2_grpc.AgentStub(ch)

        def logs() -> bytes:
            return b"".join(c.data for c in stub.Logs(
                agent_pb2.LogsRequest(namespace="default", pod="web"), timeout=10))
        assert wait_for(lambda: b"hello from web\n" in logs(), 10, "the container's log")
        ts = list(stub.Logs(agent_pb2.LogsRequest(namespace="default", pod="web",
                                                  timestamps=True, tail_lines=1), timeout=10))
        assert len(ts) == 1 and ts[0].data.endswith(b"Z hello from web\n")
        assert ts[0].stream == "stdout" and ts[0].container == "app"

        def inputs() -> Iterator[agent_pb2.ExecInput]:
            yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
                namespace="default", pod="web",
                command=["sh", "-c", "cat /scratch/f; echo err >&2; exit 3"]))
        out = list(stub.Exec(inputs(), timeout=20))
        stdout = b"".join(o.stdout for o in out if o.WhichOneof("output") == "stdout")
        stderr = b"".join(o.stderr for o in out if o.WhichOneof("output") == "stderr")
        assert (stdout, stderr) == (b"web\n", b"err\n")
        assert out[-1].exit.exit_code == 3
        # stdin, then close it: cat echoes and exits
        def cat_inputs() -> Iterator[agent_pb2.ExecInput]:
            yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
                namespace="default", pod="web", command=["cat"], stdin=True))
            yield agent_pb2.ExecInput(stdin=b"ping\n")
            yield agent_pb2.ExecInput(close_stdin=True)
        out = list(stub.Exec(cat_inputs(), timeout=20))
        assert b"".join(o.stdout for o in out) == b"ping\n"
        assert out[-1].exit.exit_code == 0

        # a tty: output comes back on stdout, \n as \r\n
        def tty_inputs() -> Iterator[agent_pb2.ExecInput]:
            yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
                namespace="default", pod="web", command=["sh", "-c", "echo tty; exit 4"],
                tty=True, size=agent_pb2.TerminalSize(width=80, height=24)))
        out = list(stub.Exec(tty_inputs(), timeout=20))
        assert b"tty\r\n" in b"".join(o.stdout for o in out)
        assert out[-1].exit.exit_code == 4

        # follow: the existing lines first, then the stream stays open
        follow = stub.Logs(agent_pb2.LogsRequest(namespace="default", pod="web", follow=True),
                           timeout=20)
        first = next(iter(follow))
        assert first.data == b"hello from web\n"
        follow.cancel()

        stats = stub.Stats(agent_pb2.StatsRequest(namespace="default", pod="web"), timeout=10)
        assert [p.name for p in stats.pods] == ["web"]
        assert stats.pods[0].containers[0].memory_usage_bytes > 0
        imgs = stub.ListImages(agent_pb2.ListImagesRequest(), timeout=10)
        assert any(cluster.image in n for i in imgs.images for n in i.names)
        try:
            list(stub.Logs(agent_pb2.LogsRequest(namespace="default", pod="nope"), timeout=10))
            raise AssertionError("no error for a missing pod")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND


def _node(cluster: Cluster) -> core_pb2.Node | None:
    cluster.agent.check_alive()
    try:
        n = cluster.api.Get(api_pb2.GetRequest(resource="nodes", name=cluster.agent.node),
                            timeout=5).node
    except grpc.RpcError:
        return None
    return n if n.spec.pod_cidr else None


def _lease_time(cluster: Cluster) -> int:
    try:
        lease = cluster.api.Get(api_pb2.GetRequest(resource="leases",
                                                   namespace="corral-node-lease",
                                                   name=cluster.agent.node), timeout=5).lease
    except grpc.RpcError:
        return 0
    return int(lease.spec.renew_time.ToNanoseconds())



def test_control_plane_away_nothing_stops(cluster: Cluster) -> None:
    """The control plane goes away, the agent restarts meanwhile: the container
    keeps running, and everything converges when the control plane is back."""
    agent = cluster.agent
    wait_for(lambda: _node(cluster), 60, "node registered with a podCIDR", agent.log)
    cluster.api.Create(api_pb2.CreateRequest(object=kinds.wrap(_pod(cluster, "web"))), timeout=5)
    pod = wait_for(lambda: _running(cluster, "web"), 60, "pod Running", agent.log)
    cid = pod.status.container_statuses[0].container_id.removeprefix("corral://")
    pid = _pid(agent.data_dir, agent.cgroup_root, cid)

    cluster.cp.kill()
    wait_for(lambda: "control plane unreachable" in agent.log(), 30, "the agent noticing",
             agent.log)
    agent.kill9()
    agent.start()
    wait_for(lambda: agent.log().count("re-adopted running container app") >= 1
             and "cannot register node" in agent.log().split("corral-agent corral://")[-1],
             30, "the new agent retrying", agent.log)
    agent.check_alive()
    assert _pid(agent.data_dir, agent.cgroup_root, cid) == pid

    # the container crashes while the control plane is still away: restarted
    os.kill(pid, signal.SIGKILL)
    new_cid = wait_for(lambda: _other_running(agent, cid), 30, "a restarted container",
                       agent.log)

    cluster.cp.start()
    lease_before = _lease_time(cluster)
    wait_for(lambda: _lease_time(cluster) > lease_before, 30, "lease renewed", agent.log)
    pod = wait_for(lambda: _running(cluster, "web", restarts=1), 30, "pod Running, 1 restart",
                   agent.log)
    cs = pod.status.container_statuses[0]
    assert cs.container_id == f"corral://{new_cid}"
    assert cs.last_state.terminated.exit_code == 137
    assert "stopping" not in agent.log()
    cluster.api.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="web"),
                       timeout=5)
    wait_for(lambda: cluster.get_pod("web") is None, 60, "pod deleted", agent.log)


def _other_running(agent: AgentProcess, old: str) -> str | None:
    from agent.runtime.runtime import Runtime
    for c in Runtime(agent.data_dir / "runtime", agent.cgroup_root).list():
        if c.id != old and c.state == "running":
            return c.id
    return None
