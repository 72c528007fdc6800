"""Faults of the cluster's core: etcd and the control plane down for a minute; the
control plane SIGKILLed again and again during rollouts; a node cut off from
the network. One 3-node local cluster for the module; each test makes its own
workloads and removes them, and leaves the control plane running."""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from controlplane.apiserver.validation import validate
from controlplane.store.etcd_store import Store
from corral import credentials as cli_credentials
from localcluster import procs
from localcluster import up as cluster_up
from proto import api_pb2, api_pb2_grpc

from .conftest import (
    Cluster,
    all_nodes_ready,
    api,
    apply,
    cluster_fixture,
    delete_and_wait,
    deployment,
    kill_controlplane,
    list_pods,
    node_of,
    node_ready,
    ready_pods,
    record,
    start_controlplane,
    wait_empty,
    wait_for,
)
from .nodeview import residue, running_pids, runtime_containers

OUTAGE_SECONDS = 60          # the spec: etcd and the control plane down for a minute
KILLS = 8                    # control plane SIGKILLs during rollouts
SLEEP = "while true; do sleep 1; done"
RESOURCES = ("namespaces", "nodes", "deployments", "replicasets", "pods")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster_fixture(tmp_path_factory, "fc") as c:
        yield c


@pytest.fixture
def stub(cluster: Cluster) -> Iterator[api_pb2_grpc.ApiStub]:
    with api(cluster) as s:
        yield s


@pytest.fixture(autouse=True)
def controlplane_left_running(cluster: Cluster) -> Iterator[None]:
    """Whatever a test does, the next one finds the control plane up."""
    yield
    if not procs.alive(record(cluster).controlplane_pid):
        start_controlplane(cluster)


def objects(stub: api_pb2_grpc.ApiStub) -> dict[str, set[tuple[str, str, str]]]:
    out: dict[str, set[tuple[str, str, str]]] = {}
    for res in RESOURCES:
        resp = stub.List(api_pb2.ListRequest(resource=res), timeout=10)
        out[res] = set()
        for item in resp.items:
            m = getattr(item, item.WhichOneof("kind") or "").metadata
            out[res].add((m.namespace, m.name, m.uid))
    return out


def all_pids(c: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in record(c).nodes:
        out.update(running_pids(n))
    return out


# ---- 2. etcd and the control plane down for a minute ----------------------------------------

def test_etcd_and_controlplane_down_for_a_minute_loses_nothing(
        cluster: Cluster, stub: api_pb2_grpc.ApiStub) -> None:
    nodes = [n.name for n in record(cluster).nodes]
    apply(cluster, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kept"}},
                    deployment("steady", 6, SLEEP)])
    try:
        wait_for(lambda: ready_pods(stub, "app=steady", 6), 180, "6 steady pods Ready")
        before = objects(stub)
        pids = all_pids(cluster)
        agents = {n.name: n.agent_pid for n in record(cluster).nodes}
        assert len(pids) >= 6

        kill_controlplane(cluster)
        end = time.monotonic() + OUTAGE_SECONDS

        def still_running() -> list[str]:
            now = all_pids(cluster)
            return [f"container {cid} (PID {pid}) stopped" for cid, pid in pids.items()
                    if now.get(cid) != pid]
        while time.monotonic() < end:      # the outage itself, watched as it goes
            assert not still_running(), still_running()
            assert all(procs.alive(pid) for pid in agents.values()), "an agent died"
            time.sleep(min(2.0, max(0.0, end - time.monotonic())))
        start_controlplane(cluster)

        wait_for(lambda: all_nodes_ready(stub, nodes), 90, "every node Ready again")
        wait_for(lambda: ready_pods(stub, "app=steady", 6), 90, "6 steady pods Ready again")

        def nothing_lost() -> None:
            after = objects(stub)
            for res in RESOURCES:
                assert before[res] <= after[res], \
                    f"{res} lost in the outage: {sorted(before[res] - after[res])}"
            steady = {(p.metadata.namespace, p.metadata.name, p.metadata.uid)
                      for p in list_pods(stub, "app=steady")}
            assert steady <= before["pods"], "steady pods were replaced"
            assert not still_running(), still_running()
            assert all_nodes_ready(stub, nodes)
        # and the node controller, back with fresh clocks, evicts nothing afterwards
        end = time.monotonic() + 10
        while True:
            nothing_lost()
            if time.monotonic() >= end:
                break
            time.sleep(0.5)
        assert {n.name: n.agent_pid for n in record(cluster).nodes} == agents
    finally:
        delete_and_wait(cluster, "deployment", "steady", "app=steady")
        cluster.corral("delete", "namespace", "kept", "--wait=false", check=False)


# ---- 3. the control plane SIGKILLed between writes and replies, during rollouts -------------

class BindingWatch(threading.Thread):
    """Watches pods across control plane restarts; records every nodeName change."""

    def __init__(self, c: Cluster, selector: str) -> None:
        super().__init__(daemon=True)
        self.c, self.selector = c, selector
        self.bound: dict[str, str] = {}           # pod uid -> node
        self.violations: list[str] = []
        self.events = 0
        self._halt = threading.Event()
        self._call: Any = None

    def stop(self) -> None:
        self._halt.set()
        if self._call is not None:
            self._call.cancel()
        self.join(10)

    def _see(self, pod: Any) -> None:
        uid, node = pod.metadata.uid, pod.spec.node_name
        if not node:
            return
        old = self.bound.setdefault(uid, node)
        if old != node:
            self.violations.append(f"pod {pod.metadata.name} ({uid}) bound to {old}, "
                                   f"then to {node}")

    def run(self) -> None:
        rv = ""
        while not self._halt.is_set():
            rec = record(self.c)
            try:
                with cli_credentials.secure_channel(
                        rec.server, cluster_up.admin_credentials(rec)) as ch:
                    stub = api_pb2_grpc.ApiStub(ch)
                    if not rv:
                        resp = stub.List(api_pb2.ListRequest(
                            resource="pods", namespace="default",
                            label_selector=self.selector), timeout=5)
                        for item in resp.items:
                            self._see(item.pod)
                        rv = resp.resource_version
                    self._call = stub.Watch(api_pb2.WatchRequest(
                        resource="pods", namespace="default", label_selector=self.selector,
                        resource_version=rv))
                    for ev in self._call:
                        self.events += 1
                        rv = ev.resource_version or rv
                        if ev.type in ("ADDED", "MODIFIED", "DELETED"):
                            self._see(ev.object.pod)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                    rv = ""
                self._halt.wait(0.2)    # reconnect pacing while the control plane is down


def _stored_objects_valid(c: Cluster) -> list[str]:
    """Read every object straight from etcd: each must decode and validate."""
    port = cluster_up.etcd_ports(record(c))[0]

    async def read() -> list[str]:
        store = Store(f"127.0.0.1:{port}")
        bad = []
        try:
            for res in RESOURCES:
                items, _ = await store.list(res)      # decodes every value
                for o in items:
                    errs = validate(o, None)
                    if errs:
                        m = getattr(o, o.WhichOneof("kind") or "").metadata
                        bad.append(f"{res} {m.namespace}/{m.name}: {errs}")
        finally:
            await store.close()
        return bad
    return asyncio.run(asyncio.wait_for(read(), 60))


def test_controlplane_killed_again_and_again_during_rollouts(
        cluster: Cluster, stub: api_pb2_grpc.ApiStub) -> None:
    replicas = 6
    apply(cluster, deployment("roll", replicas, SLEEP))
    watch = BindingWatch(cluster, "app=roll")
    images = ["docker.io/library/demo:latest", "demo:latest"]
    rng = random.Random(3)
    try:
        wait_for(lambda: ready_pods(stub, "app=roll", replicas), 180, "6 roll pods Ready")
        watch.start()
        for k in range(KILLS):
            image = images[k % 2]
            cluster.corral("set", "image", "deployment/roll", f"app={image}")
            # the fault: SIGKILL while the scheduler and controllers are mid-write
            time.sleep(rng.uniform(0.2, 2.0))
            kill_controlplane(cluster)
            start_controlplane(cluster)
        final = images[(KILLS - 1) % 2]

        def done() -> bool:
            with api(cluster) as s:
                d = s.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                             name="roll"), timeout=5).deployment
                pods = ready_pods(s, "app=roll", replicas)
            st = d.status
            return bool(pods) and st.updated_replicas == replicas \
                and st.ready_replicas == replicas and st.replicas == replicas \
                and st.observed_generation >= d.metadata.generation \
                and all(p.spec.containers[0].image == final for p in pods)
        wait_for(done, 240, "the last rollout complete")
        out = cluster.corral("rollout", "status", "deployment/roll", "--timeout", "60s")
        assert "successfully rolled out" in out, out
        watch.stop()
        assert watch.events > 0
        assert not watch.violations, watch.violations
        # every pod's Scheduled events name one node
        evs = stub.List(api_pb2.ListRequest(resource="events", namespace="default"),
                        timeout=10)
        nodes_of: dict[str, set[str]] = {}
        for item in evs.items:
            e = item.event
            if e.reason == "Scheduled" and e.involved_object.name.startswith("roll-"):
                m = re.search(r" to (\S+)", e.message)
                target = m.group(1) if m else e.message
                nodes_of.setdefault(e.involved_object.uid or e.involved_object.name,
                                    set()).add(target)
        assert nodes_of, "no Scheduled events"
        twice = {k: v for k, v in nodes_of.items() if len(v) > 1}
        assert not twice, f"pods scheduled to two nodes: {twice}"
        assert _stored_objects_valid(cluster) == []
    finally:
        watch.stop() if watch.is_alive() else None
        if not procs.alive(record(cluster).controlplane_pid):
            start_controlplane(cluster)
        delete_and_wait(cluster, "deployment", "roll", "app=roll")


# ---- 6. a node cut off from the network -------------------------------------------------------

def test_partitioned_node_is_replaced_and_stops_its_stale_pods_after_healing(
        cluster: Cluster, stub: api_pb2_grpc.ApiStub) -> None:
    replicas = 3
    apply(cluster, deployment("part", replicas, SLEEP))
    victim = ""
    try:
        pods = wait_for(lambda: ready_pods(stub, "app=part", replicas), 180, "3 pods Ready")
        counts: dict[str, int] = {}
        for p in pods:
            counts[p.spec.node_name] = counts.get(p.spec.node_name, 0) + 1
        victim = max(counts, key=lambda k: counts[k])
        stale = {p.metadata.uid for p in pods if p.spec.node_name == victim}
        cluster.corral("chaos", "partition", victim, "--timeout", "90", check=False)
        wait_for(lambda: not node_ready(stub, victim), 60, f"{victim} NotReady")

        def replaced() -> list[Any]:
            now = ready_pods(stub, "app=part", replicas)
            if now and all(p.spec.node_name != victim for p in now):
                return now
            return []
        now = wait_for(replaced, 120, "3 replacement pods Ready on other nodes")
        assert not stale & {p.metadata.uid for p in now}

        cluster.corral("chaos", "heal", victim, "--timeout", "60", check=False)
        wait_for(lambda: node_ready(stub, victim), 90, f"{victim} Ready again")
        n = node_of(cluster, victim)
        wait_empty(lambda: residue(n, stale), 90, f"the stale pods stopped on {victim}")
        # exact replica counts: 3 in the API, 3 containers running on the nodes
        final = wait_for(lambda: ready_pods(stub, "app=part", replicas), 60, "3 pods Ready")
        uids = {p.metadata.uid for p in final}
        running = [ct["pod_uid"] for m in record(cluster).nodes for ct in runtime_containers(m)
                   if ct.get("pod_uid") in uids | stale and ct["id"] in running_pids(m)]
        assert sorted(running) == sorted(uids), f"running copies: {running}, pods {uids}"
    finally:
        if victim:
            cluster.corral("chaos", "heal", victim, "--timeout", "5", check=False)
        delete_and_wait(cluster, "deployment", "part", "app=part")
