"""A whole cluster in the test's event loop: real etcd, the API server in-process,
the loops (run_loops) and hollow nodes speaking gRPC to the API server."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.hollow import HollowAgent
from controlplane import profiles
from controlplane.loops import Loops, run_loops
from proto import api_pb2, apps_pb2, core_pb2, meta_pb2
from tests.support.controlplane import ControlPlane

FAST = profiles.DEMO.with_(node_grace_period=2.0, pod_eviction_timeout=1.0,
                           node_monitor_period=0.2, heartbeat_interval=0.5,
                           leader_lease_ttl=3, unschedulable_flush=2.0,
                           schedule_backoff_initial=0.1, schedule_backoff_max=1.0)


class LoopsReplica:
    """One replica's loops (run_loops with leader election) as a task."""

    def __init__(self, registry: Any, identity: str, endpoint: str,
                 profile: profiles.Profile) -> None:
        self.identity = identity
        self.terms: list[Loops] = []
        self.electors: list[Any] = []
        self.task = asyncio.create_task(run_loops(
            registry, identity=identity, profile=profile, store_endpoints=[endpoint],
            on_loops=self.terms.append, elector_out=self.electors))

    @property
    def loops(self) -> Loops:
        return self.terms[-1]

    @property
    def is_leader(self) -> bool:
        return bool(self.electors) and self.electors[0].is_leader

    async def stop(self) -> None:
        self.task.cancel()
        done, _ = await asyncio.wait({self.task}, timeout=15)
        assert done, f"{self.identity}: run_loops did not stop within 15s of cancel"


class Cluster:
    def __init__(self, etcd_endpoint: str, *, nodes: int = 3, prefix: str = "node-",
                 profile: profiles.Profile = FAST, replicas: int = 1,
                 node_cpu: str = "4", node_memory: str = "8Gi", node_pods: str = "110") -> None:
        self.endpoint = etcd_endpoint
        self.profile = profile
        self.n_nodes = nodes
        self.prefix = prefix
        self.n_replicas = replicas
        self.node_res = (node_cpu, node_memory, node_pods)
        self.cp = ControlPlane(etcd_endpoint)
        self.replicas: list[LoopsReplica] = []
        self.agent: HollowAgent | None = None

    @property
    def registry(self) -> Any:
        return self.cp.registry

    async def __aenter__(self) -> Cluster:
        await self.cp.start()
        for i in range(self.n_replicas):
            self.replicas.append(LoopsReplica(self.registry, f"cp-{i}", self.endpoint,
                                              self.profile))
        if self.n_nodes:
            self.agent = HollowAgent(self.cp.address, nodes=self.n_nodes, prefix=self.prefix,
                                     heartbeat=self.profile.heartbeat_interval,
                                     cpu=self.node_res[0], memory=self.node_res[1],
                                     max_pods=self.node_res[2], status_every=4)
            await self.agent.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.agent is not None:
            await self.agent.close()
        for r in self.replicas:
            await r.stop()
        await self.cp.stop()

    def leader(self) -> LoopsReplica | None:
        for r in self.replicas:
            if r.is_leader and r.terms:
                return r
        return None

    async def pods(self, namespace: str = "default", selector: str = "") -> list[core_pb2.Pod]:
        lst = await self.registry.list("pods", namespace, label_selector=selector)
        return [o.pod for o in lst.items]


def deployment(name: str, replicas: int, *, image: str = "nginx:1.25", labels: dict[str, str]
               | None = None, cpu: str = "", memory: str = "", max_surge: int | str = 1,
               max_unavailable: int | str = 0, strategy: str = "RollingUpdate",
               min_ready_seconds: int = 0, history: int | None = None,
               progress_deadline: int | None = None) -> api_pb2.Object:
    labels = labels or {"app": name}
    d = apps_pb2.Deployment()
    d.metadata.name = name
    d.metadata.namespace = "default"
    d.spec.replicas = replicas
    d.spec.selector.match_labels.update(labels)
    d.spec.template.metadata.labels.update(labels)
    c = d.spec.template.spec.containers.add(name="main", image=image)
    if cpu:
        c.resources.requests["cpu"] = cpu
    if memory:
        c.resources.requests["memory"] = memory
    d.spec.strategy.type = strategy
    if strategy == "RollingUpdate":
        ru = d.spec.strategy.rolling_update
        for f, v in (("max_surge", max_surge), ("max_unavailable", max_unavailable)):
            ios: meta_pb2.IntOrString = getattr(ru, f)
            if isinstance(v, int):
                ios.int_val = v
            else:
                ios.str_val = v
    d.spec.min_ready_seconds = min_ready_seconds
    if history is not None:
        d.spec.revision_history_limit = history
    if progress_deadline is not None:
        d.spec.progress_deadline_seconds = progress_deadline
    return api_pb2.Object(deployment=d)


def pod(name: str, *, cpu: str = "", memory: str = "", node_selector: dict[str, str] | None = None,
        labels: dict[str, str] | None = None) -> api_pb2.Object:
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = "default"
    p.metadata.labels.update(labels or {})
    c = p.spec.containers.add(name="main", image="busybox")
    if cpu:
        c.resources.requests["cpu"] = cpu
    if memory:
        c.resources.requests["memory"] = memory
    if node_selector:
        p.spec.node_selector.update(node_selector)
    return api_pb2.Object(pod=p)


def is_ready(p: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)


def active(p: core_pb2.Pod) -> bool:
    return not p.metadata.HasField("deletion_timestamp") and \
        p.status.phase not in ("Succeeded", "Failed")


class PodMonitor:
    """Watches pods from a resourceVersion and checks bounds after every event."""

    def __init__(self, registry: Any, namespace: str = "default", selector: str = "") -> None:
        self.registry = registry
        self.namespace = namespace
        self.selector = selector
        self.pods: dict[str, core_pb2.Pod] = {}
        self.max_active = 0
        self.min_ready: int | None = None
        self.node_of: dict[str, str] = {}      # uid -> first node it was bound to
        self.rebinds: list[str] = []           # uids whose nodeName changed
        self.events = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        lst = await self.registry.list("pods", self.namespace, label_selector=self.selector)
        for o in lst.items:
            self._see(o.pod)
        self._check()
        self._task = asyncio.create_task(self._run(lst.resource_version))

    async def _run(self, rv: str) -> None:
        async for ev in self.registry.watch("pods", self.namespace,
                                            label_selector=self.selector, resource_version=rv):
            self.events += 1
            if ev.type == "DELETED":
                self.pods.pop(ev.object.pod.metadata.uid, None)
            else:
                self._see(ev.object.pod)
            self._check()

    def _see(self, p: core_pb2.Pod) -> None:
        uid = p.metadata.uid
        self.pods[uid] = p
        if p.spec.node_name:
            first = self.node_of.setdefault(uid, p.spec.node_name)
            if first != p.spec.node_name:
                self.rebinds.append(uid)

    def active(self) -> list[core_pb2.Pod]:
        return [p for p in self.pods.values() if active(p)]

    def _check(self) -> None:
        act = self.active()
        self.max_active = max(self.max_active, len(act))
        ready = sum(1 for p in act if is_ready(p))
        self.min_ready = ready if self.min_ready is None else min(self.min_ready, ready)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)


async def deployment_done(registry: Any, name: str, replicas: int, image: str | None = None,
                          namespace: str = "default") -> bool:
    """The rollout finished: exactly `replicas` active pods, all ready, all of the
    current template (and image), status says so."""
    d = (await registry.get("deployments", namespace, name)).deployment
    st = d.status
    if not (st.observed_generation >= d.metadata.generation and st.updated_replicas == replicas
            and st.available_replicas == replicas and st.replicas == replicas):
        return False
    sel = ",".join(f"{k}={v}" for k, v in d.spec.selector.match_labels.items())
    pods = [o.pod for o in (await registry.list("pods", namespace, label_selector=sel)).items]
    act = [p for p in pods if active(p)]
    if len(act) != replicas or not all(is_ready(p) for p in act):
        return False
    want = image or d.spec.template.spec.containers[0].image
    return all(p.spec.containers[0].image == want for p in act)
