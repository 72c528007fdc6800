"""A highly available local cluster (`corral cluster up --control-planes 3`, three nodes)
losing control-plane members: the loops move, writes resume, a minority refuses, a rolling
restart restarts no pod, quorum loss stops the API but no container.

One cluster for the module (demo timings); each test leaves all three members healthy.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from localcluster import netns, procs, state
from proto import api_pb2

from .conftest import (
    Cluster,
    all_nodes_ready,
    api,
    apply,
    cluster_fixture,
    delete_and_wait,
    deployment,
    ready_pods,
    record,
    running_pids,
    runtime_containers,
    wait_for,
)
from .haops import (
    all_healthy,
    code_of,
    direct,
    etcd_pid,
    kill_member,
    leaders,
    lease,
    listing,
    member,
    start_member,
)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster_fixture(tmp_path_factory, "ha", nodes=3, control_planes=3) as c:
        yield c


# ---- the faults -----------------------------------------------------------------------

def test_leader_killed_during_a_rolling_update(ha: Cluster) -> None:
    """The loops' leader dies mid-rollout: another member takes the loops over, the
    rollout completes, every pod was bound once and runs once."""
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    apply(ha, deployment("roll", 4, "sleep 3600"))
    with api(ha) as stub:
        wait_for(lambda: ready_pods(stub, "app=roll", 4), 90, "4 pods of roll")
    leader, _ = leaders(ha)
    ha.corral("set", "image", "deploy/roll", "app=demo:v2")
    with api(ha) as stub:
        wait_for(lambda: len(stub.List(api_pb2.ListRequest(
            resource="replicasets", namespace="default", label_selector="app=roll"),
            timeout=5).items) == 2, 30, "the new ReplicaSet")
    killed_at = time.time()
    kill_member(ha, leader)
    try:
        new = wait_for(lambda: (lst := listing(ha)) is not None and lst.loops_leader
                       not in ("", leader) and lst.loops_leader, 60, "another loops leader")
        with api(ha) as stub:
            pods = wait_for(lambda: [p for p in ready_pods(stub, "app=roll", 4)
                                     if p.spec.containers[0].image == "demo:v2"]
                            if len(ready_pods(stub, "app=roll", 4)) == 4 else [], 120,
                            "the rollout completed")
            assert len(pods) == 4, pods
            events = stub.List(api_pb2.ListRequest(resource="events", namespace="default"),
                               timeout=10).items
        for p in pods:
            bound = sum(max(e.event.count, 1) for e in events
                        if e.event.involved_object.uid == p.metadata.uid
                        and e.event.reason == "Scheduled")
            # events are best effort (as in Kubernetes): a pod the killed leader bound may
            # have lost its "Scheduled" event with that process; one made after the kill
            # was bound by the new leader, which is alive to record it
            if p.metadata.creation_timestamp.ToNanoseconds() > killed_at * 1e9:
                assert bound == 1, f"{p.metadata.name} scheduled {bound} times"
            else:
                assert bound <= 1, f"{p.metadata.name} scheduled {bound} times"
        uids = {p.metadata.uid for p in pods}
        with api(ha) as stub:
            everything = {o.pod.metadata.uid for o in stub.List(api_pb2.ListRequest(
                resource="pods"), timeout=10).items}
        live = {ctr.get("pod_uid") for n in record(ha).nodes for ctr in _running(n)}
        assert uids <= live, f"pods of roll without a running container: {uids - live}"
        assert live <= everything, f"containers of pods the API does not have: " \
            f"{live - everything}"
        assert new != leader
    finally:
        start_member(ha, leader)
        wait_for(lambda: all_healthy(ha), 90, "the killed member back")
        delete_and_wait(ha, "deployment", "roll", "app=roll")


def _running(node: state.NodeRecord) -> list[dict[str, Any]]:
    pids = running_pids(node)
    return [ctr for ctr in runtime_containers(node) if ctr["id"] in pids]


def test_etcd_leader_killed_writes_resume_nothing_acknowledged_lost(ha: Cluster) -> None:
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    _, etcd_leader = leaders(ha)
    acked: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    killed_at: list[float] = []
    first_after: list[float] = []

    def writer() -> None:
        with api(ha) as stub:
            i = 0
            while not stop.is_set():
                i += 1
                name = f"w-{i}"
                try:
                    stub.Create(api_pb2.CreateRequest(object=lease(name)), timeout=10)
                    acked.append(name)
                    if killed_at and not first_after:
                        first_after.append(time.monotonic())
                except grpc.RpcError as e:
                    failures.append(e.code().name)
                time.sleep(0.05)     # the writer's pace

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        wait_for(lambda: len(acked) >= 20, 30, "writes before the fault")
        pid = etcd_pid(member(ha, etcd_leader))
        killed_at.append(time.monotonic())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: first_after, 30, "a write after the etcd leader died")
        n = len(acked)
        wait_for(lambda: len(acked) >= n + 20, 30, "writes flowing again")
    finally:
        stop.set()
        t.join(30)
    wait_for(lambda: all_healthy(ha), 60, "the etcd member restarted and healthy")
    assert first_after[0] - killed_at[0] < 15, "writes resumed"
    with api(ha) as stub:
        have = {o.lease.metadata.name for o in stub.List(api_pb2.ListRequest(
            resource="leases", namespace="default"), timeout=10).items}
        missing = [a for a in acked if a not in have]
        assert not missing, f"acknowledged writes lost: {missing[:10]}"
        for name in have:
            if name.startswith("w-"):
                stub.Delete(api_pb2.DeleteRequest(resource="leases", namespace="default",
                                                  name=name), timeout=10)


def test_partitioned_member_steps_down_and_refuses(ha: Cluster) -> None:
    """The loops' leader is cut off from the other members (its clients still reach it):
    it stops leading before its lease could have ended, another member leads, and it
    refuses reads and writes instead of answering from what it last saw."""
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    leader, _ = leaders(ha)
    rec = record(ha)
    m = member(ha, leader)
    others = [o for o in rec.controlplanes if o.name != leader]
    cut = dt.datetime.now(dt.UTC)
    netns.set_blackholes(m.netns, [o.ip for o in others], on=True)
    for o in others:
        netns.set_blackholes(o.netns, [m.ip], on=True)
    try:
        new = wait_for(lambda: (lst := listing(ha)) is not None and lst.loops_leader
                       not in ("", leader) and lst.loops_leader, 60, "another loops leader")
        assert new in {o.name for o in others}
        log = Path(rec.dir) / "logs" / f"controlplane-{leader}.log"
        stepped = wait_for(lambda: [line for line in log.read_text().splitlines()
                                    if "stepping down" in line or "lost leadership" in line],
                           30, "the partitioned leader stepping down")
        when = dt.datetime.fromisoformat(stepped[-1].split()[0].replace("Z", "+00:00"))
        ttl = 3     # the demo profile's leader lease
        assert (when - cut).total_seconds() < ttl, f"stepped down {when - cut} after the cut"
        with api(ha) as stub:     # the majority goes on
            stub.Create(api_pb2.CreateRequest(object=lease("during-partition")), timeout=10)
        with direct(ha, leader) as stub:
            wait_for(lambda: code_of(lambda: stub.Get(api_pb2.GetRequest(
                resource="leases", namespace="default", name="during-partition"),
                timeout=10)) == "UNAVAILABLE", 30, "the minority refusing reads")
            assert code_of(lambda: stub.Create(api_pb2.CreateRequest(
                object=lease("minority-write")), timeout=10)) == "UNAVAILABLE"
    finally:
        netns.set_blackholes(m.netns, [o.ip for o in others], on=False)
        for o in others:
            netns.set_blackholes(o.netns, [m.ip], on=False)
    wait_for(lambda: all_healthy(ha), 60, "the member healed")
    with direct(ha, leader) as stub:
        wait_for(lambda: code_of(lambda: stub.Get(api_pb2.GetRequest(
            resource="leases", namespace="default", name="during-partition"),
            timeout=10)) == "OK", 30, "the healed member serving the majority's write")
        assert code_of(lambda: stub.Get(api_pb2.GetRequest(
            resource="leases", namespace="default", name="minority-write"),
            timeout=10)) == "NOT_FOUND"
        stub.Delete(api_pb2.DeleteRequest(resource="leases", namespace="default",
                                          name="during-partition"), timeout=10)


def _pods_and_pids(ha: Cluster) -> tuple[dict[str, tuple[str, int]], dict[str, int]]:
    with api(ha) as stub:
        pods = ready_pods(stub, "app=steady", 3)
    assert pods, "3 ready pods of steady"
    restarts = {p.metadata.uid: (p.metadata.name, sum(cs.restart_count for cs in
                                                      p.status.container_statuses))
                for p in pods}
    pids = {k: v for n in record(ha).nodes for k, v in running_pids(n).items()}
    return restarts, pids


def test_restart_all_three_one_after_another_restarts_no_pod(ha: Cluster) -> None:
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    apply(ha, deployment("steady", 3, "sleep 3600"))
    with api(ha) as stub:
        wait_for(lambda: ready_pods(stub, "app=steady", 3), 90, "3 pods of steady")
    before, pids = _pods_and_pids(ha)
    try:
        for m in record(ha).controlplanes:
            procs.stop(m.pid, timeout=15)          # SIGTERM, like systemctl restart
            start_member(ha, m.name)
            wait_for(lambda: all_healthy(ha), 90, f"{m.name} back and all healthy")
        after, pids_after = _pods_and_pids(ha)
        assert after == before, "same pods, no container restarted"
        assert {k: v for k, v in pids_after.items() if k in pids} == pids
    finally:
        delete_and_wait(ha, "deployment", "steady", "app=steady")


def test_quorum_lost_then_back(ha: Cluster) -> None:
    """Two members down: the API says Unavailable, containers keep running; one member
    back and everything works again."""
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    apply(ha, deployment("keep", 2, "sleep 3600"))
    with api(ha) as stub:
        wait_for(lambda: ready_pods(stub, "app=keep", 2), 90, "2 pods of keep")
    pids = {k: v for n in record(ha).nodes for k, v in running_pids(n).items()}
    down = [m.name for m in record(ha).controlplanes][:2]
    for name in down:
        kill_member(ha, name)
    try:
        out = ha.corral("get", "pods", "--request-timeout", "20s", check=False)
        assert "ServiceUnavailable" in out or "Unavailable" in out or "refused" in out, out
        with api(ha) as stub:
            assert code_of(lambda: stub.Create(api_pb2.CreateRequest(
                object=lease("no-quorum")), timeout=20)) in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
        still = {k: v for n in record(ha).nodes for k, v in running_pids(n).items()}
        assert {k: still.get(k) for k in pids} == pids, "containers kept running"
        start_member(ha, down[0])
        with api(ha) as stub:
            wait_for(lambda: code_of(lambda: stub.Create(api_pb2.CreateRequest(
                object=lease("quorum-back")), timeout=10)) in ("OK", "ALREADY_EXISTS"),
                90, "writes again")
    finally:
        for name in down:
            if not procs.alive(member(ha, name).pid):
                start_member(ha, name)
    wait_for(lambda: all_healthy(ha), 90, "all three back")
    with api(ha) as stub:
        wait_for(lambda: ready_pods(stub, "app=keep", 2), 60, "keep ready")
        stub.Delete(api_pb2.DeleteRequest(resource="leases", namespace="default",
                                          name="quorum-back"), timeout=10)
    delete_and_wait(ha, "deployment", "keep", "app=keep")


def test_agents_and_the_cli_fail_over_when_a_member_dies(ha: Cluster) -> None:
    """Agents and `corral` name every member: with one member SIGKILLed (not the loops'
    leader, so the loops stay put), the CLI keeps answering, every agent renews its node
    lease through another member, and a DaemonSet made afterwards runs a pod on every node
    (each agent's pod watch moved to a live member)."""
    wait_for(lambda: all_healthy(ha), 60, "three healthy members")
    leader, _ = leaders(ha)
    victim = next(m.name for m in record(ha).controlplanes if m.name != leader)
    nodes = sorted(n.name for n in record(ha).nodes)
    kill_member(ha, victim)
    killed = dt.datetime.now(dt.UTC)
    try:
        for _ in range(6):      # several processes: round-robin would also pick the dead one
            out = ha.corral("get", "nodes", "--request-timeout", "15s")
            assert all(n in out for n in nodes), out
        with api(ha) as stub:
            def renewed() -> bool:
                items = stub.List(api_pb2.ListRequest(
                    resource="leases", namespace="corral-node-lease"), timeout=5).items
                when = {o.lease.metadata.name:
                        o.lease.spec.renew_time.ToDatetime().replace(tzinfo=dt.UTC)
                        for o in items}
                return all(when.get(n, killed) > killed + dt.timedelta(seconds=2)
                           for n in nodes)

            wait_for(renewed, 30, "every node's lease renewed after the kill")
            ds = deployment("everywhere", 0, "sleep 3600")
            ds["kind"] = "DaemonSet"
            del ds["spec"]["replicas"]
            apply(ha, ds)
            pods = wait_for(lambda: ready_pods(stub, "app=everywhere", len(nodes)), 90,
                            "a pod of everywhere on every node")
            assert sorted(p.spec.node_name for p in pods) == nodes
            assert all_nodes_ready(stub, nodes)
    finally:
        start_member(ha, victim)
        wait_for(lambda: all_healthy(ha), 90, "the killed member back")
        delete_and_wait(ha, "daemonset", "everywhere", "app=everywhere")
