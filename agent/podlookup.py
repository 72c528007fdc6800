"""The Agent service's view of the node's pods: a pod's worker by name, the
container a request means, and a container's instances (newest first). Shared by
the Logs, Exec and Attach handlers; answers NOT_FOUND / INVALID_ARGUMENT as the
kubelet does."""

from __future__ import annotations

import grpc

from agent.podsync.manager import PodManager
from agent.podsync.worker import PodWorker
from agent.ports import RUNNING, ContainerInfo, ContainerRuntimePort


class PodLookup:
    def __init__(self, node_name: str, manager: PodManager,
                 runtime: ContainerRuntimePort) -> None:
        self.node_name = node_name
        self.manager = manager
        self.runtime = runtime

    async def worker(self, ctx: grpc.aio.ServicerContext, namespace: str,
                     pod: str) -> PodWorker:
        w = self.manager.worker_by_name(namespace or "default", pod)
        if w is None:
            await ctx.abort(grpc.StatusCode.NOT_FOUND,
                            f'pod "{pod}" not found on node {self.node_name}')
            raise AssertionError("unreachable")
        return w

    async def instances(self, uid: str, name: str) -> list[ContainerInfo]:
        inst = [c for c in await self.runtime.list_containers()
                if c.pod_uid == uid and c.name == name]
        inst.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
        return inst

    async def container_names(self, ctx: grpc.aio.ServicerContext, w: PodWorker,
                              name: str, all_containers: bool) -> list[str]:
        inits = [c.name for c in w.pod.spec.init_containers]
        apps = [c.name for c in w.pod.spec.containers]
        if all_containers:
            return inits + apps
        if name:
            if name not in inits + apps:
                await ctx.abort(grpc.StatusCode.NOT_FOUND,
                                f"container {name} is not valid for pod {w.pod.metadata.name}")
            return [name]
        if len(apps) == 1:
            return apps
        await ctx.abort(grpc.StatusCode.INVALID_ARGUMENT,
                        f"a container name must be specified for pod {w.pod.metadata.name}, "
                        f"choose one of: [{' '.join(apps)}]")
        raise AssertionError("unreachable")

    async def finished(self, container_id: str) -> bool:
        """The container is no longer running (or gone)."""
        for c in await self.runtime.list_containers():
            if c.id == container_id:
                return c.state != RUNNING
        return True
