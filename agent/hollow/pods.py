"""The hollow agent's pods: one watch for all its nodes, and workers that report the
pods bound to them Running and Ready, or confirm their deletion."""

from __future__ import annotations

import asyncio
import random

import grpc

from agent.hollow.state import HollowState, log, timestamp_now
from proto import api_pb2, core_pb2


class PodReporter(HollowState):
    """The pod watch and the workers that report pod status."""

    def _ours(self, pod: core_pb2.Pod) -> bool:
        return pod.spec.node_name.startswith(self.prefix) and pod.spec.node_name in self.nodes

    def _enqueue(self, key: str) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def _observe(self, ev_type: str, pod: core_pb2.Pod) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if ev_type == "DELETED" or not self._ours(pod):
            old = self.pods.pop(key, None)
            if old is not None and old.spec.node_name in self.nodes:
                self.nodes[old.spec.node_name].pods.discard(key)
            return
        self.pods[key] = pod
        self.nodes[pod.spec.node_name].pods.add(key)
        self._enqueue(key)

    async def _watch_loop(self) -> None:
        rv = ""
        backoff = 0.2
        while True:
            try:
                if not rv:
                    lst = await self.stub.List(api_pb2.ListRequest(resource="pods"))
                    fresh = {f"{o.pod.metadata.namespace}/{o.pod.metadata.name}"
                             for o in lst.items if self._ours(o.pod)}
                    for key in [k for k in self.pods if k not in fresh]:
                        self._observe("DELETED", self.pods[key])
                    for o in lst.items:
                        self._observe("ADDED", o.pod)
                    rv = lst.resource_version
                    self.watch_synced.set()
                stream = self.stub.Watch(api_pb2.WatchRequest(resource="pods",
                                                              resource_version=rv))
                async for ev in stream:
                    if ev.resource_version:
                        rv = ev.resource_version
                    if ev.type == "BOOKMARK" or not ev.HasField("object"):
                        continue
                    self._observe(ev.type, ev.object.pod)
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                    rv = ""  # too old: relist
                    continue
                log.info("pod watch ended: %s; retrying", e.code())
            except Exception as e:
                log.warning("pod watch failed: %s", e)
            await asyncio.sleep(backoff * (1 + random.random() * 0.2))
            backoff = min(backoff * 2, 5.0)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self._sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("pod %s: %s", key, e)

    async def _sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        node = self.nodes.get(pod.spec.node_name)
        if node is None or node.stopped:
            return
        ns, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.HasField("deletion_timestamp"):
            try:
                await self.stub.Delete(api_pb2.DeleteRequest(
                    resource="pods", namespace=ns, name=name, grace_period_seconds=0))
                self.confirmed_deletions += 1
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            return
        if _reported(pod) or pod.status.phase in ("Succeeded", "Failed"):
            return      # a finished pod stays finished (a test may finish pods by hand)
        obj = api_pb2.Object()
        obj.pod.CopyFrom(pod)
        st = obj.pod.status
        now = timestamp_now()
        st.phase = "Running"
        st.host_ip = node.ip
        del st.host_ips[:]
        st.host_ips.add(ip=node.ip)
        if not st.pod_ip:
            octets = node.ip.split(".")
            st.pod_ip = f"10.{200 + int(octets[1]) % 50}.{int(octets[3])}.{node.next_pod_ip}"
            node.next_pod_ip = node.next_pod_ip % 250 + 1
            del st.pod_ips[:]
            st.pod_ips.add(ip=st.pod_ip)
        if not st.HasField("start_time"):
            st.start_time.CopyFrom(now)
        conds = {c.type: c for c in st.conditions}
        for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            c = conds.get(t)
            if c is None or c.status != "True":
                nc = core_pb2.PodCondition(type=t, status="True")
                nc.last_transition_time.CopyFrom(now)
                conds[t] = nc
        del st.conditions[:]
        st.conditions.extend(conds[t] for t in ("PodScheduled", "Initialized",
                                                "ContainersReady", "Ready"))
        del st.container_statuses[:]
        for ctr in pod.spec.containers:
            cs = st.container_statuses.add(
                name=ctr.name, ready=True, started=True, restart_count=0, image=ctr.image,
                image_id=f"hollow://{ctr.image}",
                container_id=f"hollow://{pod.metadata.uid}/{ctr.name}")
            cs.state.running.started_at.CopyFrom(now)
        st.qos_class = st.qos_class or "BestEffort"
        try:
            await self.stub.UpdateStatus(api_pb2.UpdateRequest(object=obj))
            self.reported += 1
        except grpc.aio.AioRpcError as e:
            if e.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND):
                return  # a newer version is on its way through the watch
            raise


def _reported(pod: core_pb2.Pod) -> bool:
    if pod.status.phase != "Running":
        return False
    ready = next((c for c in pod.status.conditions if c.type == "Ready"), None)
    return ready is not None and ready.status == "True" and \
        len(pod.status.container_statuses) == len(pod.spec.containers)

