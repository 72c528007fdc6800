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
    return await client.update(obj)
