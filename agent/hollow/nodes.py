"""The hollow agent's nodes: register them, post their Ready status, renew their
Leases every heartbeat."""

from __future__ import annotations

import asyncio
import time

import grpc

from agent.hollow.state import LEASE_NAMESPACE, HollowNode, HollowState, log, timestamp_now
from proto import api_pb2, core_pb2


class NodeReporter(HollowState):
    """Registration and heartbeats of the fake nodes."""

    async def _register(self, node: HollowNode) -> None:
        async with self._sem:
            obj = api_pb2.Object()
            n = obj.node
            n.metadata.name = node.name
            n.metadata.labels.update({"kubernetes.io/hostname": node.name,
                                      "kubernetes.io/os": "linux",
                                      "corral.dev/hollow": "true", **self.labels})
            try:
                await self.stub.Create(api_pb2.CreateRequest(object=obj))
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
            await self._post_status(node)
            await self._renew(node)

    async def _post_status(self, node: HollowNode) -> None:
        for _ in range(10):
            try:
                cur = await self.stub.Get(api_pb2.GetRequest(resource="nodes", name=node.name))
            except grpc.aio.AioRpcError as e:
                log.warning("node %s: %s", node.name, e.details())
                return
            st = cur.node.status
            st.capacity.clear()
            st.capacity.update(self.capacity)
            st.allocatable.clear()
            st.allocatable.update(self.capacity)
            st.phase = "Running"
            now = timestamp_now()
            old_ready = next((c for c in st.conditions if c.type == "Ready"), None)
            conds = [c for c in st.conditions if c.type != "Ready"]
            ready = core_pb2.NodeCondition(type="Ready", status="True", reason="KubeletReady",
                                           message="hollow agent is posting ready status")
            ready.last_heartbeat_time.CopyFrom(now)
            if old_ready is not None and old_ready.status == "True":
                ready.last_transition_time.CopyFrom(old_ready.last_transition_time)
            else:
                ready.last_transition_time.CopyFrom(now)
            del st.conditions[:]
            st.conditions.extend([*conds, ready])
            del st.addresses[:]
            st.addresses.add(type="InternalIP", address=node.ip)
            st.addresses.add(type="Hostname", address=node.name)
            st.node_info.kubelet_version = "hollow"
            st.node_info.operating_system = "linux"
            st.node_info.architecture = "amd64"
            st.node_info.container_runtime_version = "hollow://0"
            try:
                await self.stub.UpdateStatus(api_pb2.UpdateRequest(object=cur))
                return
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.ABORTED:
                    continue
                log.warning("node %s status: %s", node.name, e.details())
                return

    async def _renew(self, node: HollowNode) -> None:
        for _ in range(5):
            if node.lease is None:
                try:
                    node.lease = await self.stub.Get(api_pb2.GetRequest(
                        resource="leases", namespace=LEASE_NAMESPACE, name=node.name))
                except grpc.aio.AioRpcError as e:
                    if e.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                    obj = api_pb2.Object()
                    ls = obj.lease
                    ls.metadata.name = node.name
                    ls.metadata.namespace = LEASE_NAMESPACE
                    ls.spec.holder_identity = node.name
                    ls.spec.lease_duration_seconds = self.lease_duration
                    ls.spec.acquire_time.CopyFrom(timestamp_now())
                    ls.spec.renew_time.CopyFrom(timestamp_now())
                    try:
                        node.lease = await self.stub.Create(api_pb2.CreateRequest(object=obj))
                        return
                    except grpc.aio.AioRpcError as e2:
                        if e2.code() != grpc.StatusCode.ALREADY_EXISTS:
                            raise
                        continue
            upd = api_pb2.Object()
            upd.CopyFrom(node.lease)
            upd.lease.spec.renew_time.CopyFrom(timestamp_now())
            upd.lease.spec.holder_identity = node.name
            try:
                node.lease = await self.stub.Update(api_pb2.UpdateRequest(object=upd))
                node.heartbeats += 1
                return
            except grpc.aio.AioRpcError as e:
                if e.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND):
                    node.lease = None
                    continue
                raise

    async def _heartbeat_loop(self) -> None:
        beat = 0
        while True:
            start = time.monotonic()
            beat += 1
            live = [n for n in self.nodes.values() if not n.stopped]

            async def one(n: HollowNode, post: bool) -> None:
                async with self._sem:
                    try:
                        await self._renew(n)
                        if post:
                            await self._post_status(n)
                    except Exception as e:
                        log.warning("heartbeat %s: %s", n.name, e)

            post = beat % self.status_every == 0
            await asyncio.gather(*(one(n, post) for n in live))
            await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - start)))

