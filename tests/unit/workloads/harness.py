"""Running one controller over the in-memory Client, and playing the nodes' part: pods
are marked Running, Succeeded or Failed as a kubelet would report them."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from controlplane.apiserver.defaults import apply_defaults
from controlplane.events import EventRecorder
from controlplane.informer import InformerFactory
from controlplane.objects import now_ts
from controlplane.tasks import cancel_and_wait
from proto import api_pb2, codec, core_pb2
from tests.unit.controllers.memclient import MemClient


class Runnable(Protocol):
    async def run(self) -> None: ...


Make = Callable[[MemClient, InformerFactory, EventRecorder], Runnable]


@asynccontextmanager
async def running(client: MemClient, make: Make, component: str = "test-controller"
                  ) -> AsyncIterator[Runnable]:
    """The controller `make` builds, with its own informers, until the block ends."""
    factory = InformerFactory(client, resync_period=60)
    recorder = EventRecorder(client, component)
    ctrl = make(client, factory, recorder)
    factory.start()
    task = asyncio.create_task(ctrl.run())
    try:
        yield ctrl
    finally:
        await cancel_and_wait([task], 5.0)
        await factory.stop()
        await recorder.flush()
        await recorder.close()


async def pods(client: MemClient, namespace: str = "default", selector: str = ""
               ) -> list[core_pb2.Pod]:
    return [o.pod for o in (await client.list("pods", namespace, selector)).items]


async def set_phase(client: MemClient, pod: core_pb2.Pod, phase: str, exit_code: int = 0,
                    ready: bool = False, restarts: int = 0) -> None:
    """Report a pod's phase as its node would (containers terminated with exit_code)."""
    cur = await client.get("pods", pod.metadata.namespace, pod.metadata.name)
    st = cur.pod.status
    st.phase = phase
    del st.container_statuses[:]
    del st.conditions[:]
    for c in cur.pod.spec.containers:
        cs = st.container_statuses.add(name=c.name, restart_count=restarts, ready=ready)
        if phase in ("Succeeded", "Failed"):
            cs.state.terminated.exit_code = exit_code
            cs.state.terminated.finished_at.CopyFrom(now_ts())
        else:
            cs.state.running.started_at.CopyFrom(now_ts())
    c = st.conditions.add(type="Ready", status="True" if ready else "False")
    c.last_transition_time.CopyFrom(now_ts())
    await client.update_status(cur)


async def event_reasons(client: MemClient, namespace: str = "default") -> list[str]:
    return [e.event.reason for e in (await client.list("events", namespace)).items]


async def create(client: MemClient, doc: dict[str, Any]) -> api_pb2.Object:
    """Create a manifest as the API server would: defaults applied with its uid."""
    obj = await client.create(codec.decode(copy.deepcopy(doc)))
    apply_defaults(obj)
    out = await client.update(obj)
    field = obj.WhichOneof("kind") or ""
    if "status" in getattr(obj, field).DESCRIPTOR.fields_by_name:
        # the defaulted status (an update keeps the stored one)
        getattr(out, field).status.CopyFrom(getattr(obj, field).status)
        out = await client.update_status(out)
    return out


def node(name: str, labels: dict[str, str] | None = None,
         taints: list[tuple[str, str]] = ()) -> api_pb2.Object:  # type: ignore[assignment]
    n = core_pb2.Node(api_version="v1", kind="Node")
    n.metadata.name = name
    n.metadata.labels["kubernetes.io/hostname"] = name
    n.metadata.labels.update(labels or {})
    for key, effect in taints:
        n.spec.taints.add(key=key, effect=effect)
    n.status.conditions.add(type="Ready", status="True")
    return api_pb2.Object(node=n)


@asynccontextmanager
async def kubelets(client: MemClient, *, ready: bool = True, default_node: str = ""
                   ) -> AsyncIterator[None]:
    """Play every node: a pending pod pinned to a node by its affinity (or nodeName, or
    else `default_node`) is bound there and reported Running (and Ready); a pod being
    deleted goes."""
    async def loop() -> None:
        while True:
            for p in await pods(client, ""):
                target = p.spec.node_name or _pinned(p) or default_node
                if p.metadata.HasField("deletion_timestamp"):
                    if not len(p.metadata.finalizers):
                        try:
                            await client.delete("pods", p.metadata.namespace, p.metadata.name)
                        except Exception:
                            pass
                    continue
                if target and not p.status.phase:
                    try:
                        if not p.spec.node_name:
                            await client.bind(p.metadata.namespace, p.metadata.name, target)
                            p = (await client.get("pods", p.metadata.namespace,
                                                  p.metadata.name)).pod
                        await set_phase(client, p, "Running", ready=ready)
                    except Exception:
                        pass
            await asyncio.sleep(0.02)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        await cancel_and_wait([task], 5.0)


def _pinned(p: core_pb2.Pod) -> str:
    req = p.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    for t in req.node_selector_terms:
        for r in t.match_fields:
            if r.key == "metadata.name" and len(r.values) == 1:
                return r.values[0]
    return ""
