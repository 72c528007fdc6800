"""The agent's own gRPC service (`Agent` in proto/agent.proto): logs, exec,
stats and the node's images. The control plane proxies it for the CLI.

SECURITY: for now the service is plain gRPC with no authentication; bind it
to the node's own address (the default, NODE_IP:10250), never to a public
interface. Authenticating the control plane (mTLS) comes with the security
issue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agent import attach, logs
from agent.podsync.manager import PodManager
from agent.podsync.worker import PodWorker
from agent.ports import (
    EXITED,
    RUNNING,
    ContainerInfo,
    ContainerRuntimePort,
    ImagePort,
    ImagePullError,
)
from proto import agent_pb2, agent_pb2_grpc

log = logging.getLogger("corral.agent.server")

AGENT_SERVICE = agent_pb2.DESCRIPTOR.services_by_name["Agent"].full_name  # corral.v1.Agent


def _proc_cpu_ns() -> int:
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
    except OSError:
        return 0
    vals = [int(x) for x in parts]
    busy = sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)
    return busy * 10_000_000     # USER_HZ = 100


def _mem_working_set() -> tuple[int, int]:
    info: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                info[k] = int(v.split()[0]) * 1024
    except OSError:
        return 0, 0
    total = info.get("MemTotal", 0)
    return total - info.get("MemAvailable", 0), total


class AgentService(agent_pb2_grpc.AgentServicer):
    def __init__(self, node_name: str, manager: PodManager, runtime: ContainerRuntimePort,
                 images: ImagePort, cpu_capacity_millis: int = 0) -> None:
        self.node_name = node_name
        self.manager = manager
        self.runtime = runtime
        self.images = images
        self.cpu_capacity_millis = cpu_capacity_millis
        self._cpu_samples: dict[str, tuple[int, float]] = {}

    # ---- helpers -------------------------------------------------------------------

    async def _worker(self, ctx: grpc.aio.ServicerContext, namespace: str,
                      pod: str) -> PodWorker:
        w = self.manager.worker_by_name(namespace or "default", pod)
        if w is None:
            await ctx.abort(grpc.StatusCode.NOT_FOUND,
                            f'pod "{pod}" not found on node {self.node_name}')
            raise AssertionError("unreachable")
        return w

    async def _instances(self, uid: str, name: str) -> list[ContainerInfo]:
        inst = [c for c in await self.runtime.list_containers()
                if c.pod_uid == uid and c.name == name]
        inst.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
        return inst

    async def _container_names(self, ctx: grpc.aio.ServicerContext, w: PodWorker,
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

    # ---- Logs ----------------------------------------------------------------------

    async def Logs(self, request: agent_pb2.LogsRequest,
                   context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.LogChunk]:
        w = await self._worker(context, request.namespace, request.pod)
        names = await self._container_names(context, w, request.container,
                                            request.all_containers)
        since: float | None = None
        if request.HasField("since_seconds"):
            since = time.time() - request.since_seconds
        elif request.HasField("since_time"):
            since = request.since_time.ToNanoseconds() / 1e9
        tail = request.tail_lines if request.HasField("tail_lines") else None
        for name in names:
            inst = await self._instances(w.uid, name)
            if request.previous:
                prev = [i for i in inst[1:] if i.state == EXITED] or (
                    [inst[0]] if inst and inst[0].state == EXITED and len(names) > 1 else [])
                if not prev:
                    if len(names) > 1:
                        continue
                    await context.abort(
                        grpc.StatusCode.NOT_FOUND,
                        f'previous terminated container "{name}" in pod '
                        f'"{w.pod.metadata.name}" not found')
                target = prev[0]
            else:
                if not inst:
                    if len(names) > 1:
                        continue
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f'container "{name}" in pod "{w.pod.metadata.name}" is waiting to '
                        f'start: ContainerCreating')
                target = inst[0]
            follow = request.follow and not request.previous and target.state == RUNNING \
                and len(names) == 1
            if follow:
                cid = target.id

                async def finished(cid: str = cid) -> bool:
                    for c in await self.runtime.list_containers():
                        if c.id == cid:
                            return c.state != RUNNING
                    return True
                async for e in logs.follow(target.log_path, tail, since, finished):
                    yield agent_pb2.LogChunk(data=logs.render(e, request.timestamps),
                                             container=name, stream=e.stream)
            else:
                entries = await asyncio.to_thread(logs.read_log, target.log_path, tail, since)
                for e in entries:
                    yield agent_pb2.LogChunk(data=logs.render(e, request.timestamps),
                                             container=name, stream=e.stream)

    # ---- Exec ------------------------------------------------------------------------

    async def Exec(self, request_iterator: AsyncIterator[agent_pb2.ExecInput],
                   context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.ExecOutput]:
        it = request_iterator.__aiter__()
        try:
            first = await it.__anext__()
        except StopAsyncIteration:
            return
        if first.WhichOneof("input") != "start":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "the first message of Exec must be `start`")
        s = first.start
        if not s.command:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "exec: no command given")
        w = await self._worker(context, s.namespace, s.pod)
        (name,) = await self._container_names(context, w, s.container, False)
        inst = await self._instances(w.uid, name)
        if not inst or inst[0].state != RUNNING:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"container {name} is not running")
        try:
            session = await self.runtime.exec_session(
                inst[0].id, list(s.command), s.tty, s.stdin, s.size.width, s.size.height)
        except Exception as e:
            log.info("exec in %s/%s/%s failed: %s", s.namespace, s.pod, name, e)
            yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=126, error=str(e)))
            return

        pump = asyncio.ensure_future(attach.pump_in(it, session))
        try:
            while True:
                out = await session.read()
                if out is None:
                    break
                stream, data = out
                if stream == "stderr":
                    yield agent_pb2.ExecOutput(stderr=data)
                else:
                    yield agent_pb2.ExecOutput(stdout=data)
            code = await session.wait()
            yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=code))
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await session.kill()

    Attach = attach.attach          # agent/attach.py

    # ---- Stats -----------------------------------------------------------------------

    def _rate(self, key: str, total_ns: int) -> int:
        now = time.monotonic()
        prev = self._cpu_samples.get(key)
        self._cpu_samples[key] = (total_ns, now)
        if prev is None or now <= prev[1]:
            return 0
        return max(int((total_ns - prev[0]) / (now - prev[1])), 0)

    async def Stats(self, request: agent_pb2.StatsRequest,
                    context: grpc.aio.ServicerContext) -> agent_pb2.StatsResponse:
        resp = agent_pb2.StatsResponse()
        resp.timestamp.GetCurrentTime()
        ws, total = _mem_working_set()
        node_ns = _proc_cpu_ns()
        resp.node.CopyFrom(agent_pb2.NodeStats(
            name=self.node_name, cpu_usage_nano_cores=self._rate("@node", node_ns),
            memory_working_set_bytes=ws, memory_capacity_bytes=total,
            cpu_capacity_cores=max(self.cpu_capacity_millis // 1000, 1)))
        running = [c for c in await self.runtime.list_containers() if c.state == RUNNING]
        for w in list(self.manager.workers.values()):
            meta = w.pod.metadata
            if w.removed or (request.namespace and meta.namespace != request.namespace) or (
                    request.pod and meta.name != request.pod):
                continue
            ps = resp.pods.add(namespace=meta.namespace, name=meta.name)
            for c in running:
                if c.pod_uid != w.uid:
                    continue
                try:
                    u = await self.runtime.usage(c.id)
                except Exception as e:
                    log.debug("stats of %s: %s", c.id, e)
                    continue
                ps.containers.add(
                    name=c.name,
                    cpu_usage_core_nano_seconds=u.cpu_usage_core_nano_seconds,
                    cpu_usage_nano_cores=self._rate(c.id, u.cpu_usage_core_nano_seconds),
                    memory_working_set_bytes=u.memory_working_set_bytes,
                    memory_usage_bytes=u.memory_usage_bytes, pids=u.pids)
        return resp

    # ---- images ----------------------------------------------------------------------

    async def ListImages(self, request: agent_pb2.ListImagesRequest,
                         context: grpc.aio.ServicerContext) -> agent_pb2.ListImagesResponse:
        resp = agent_pb2.ListImagesResponse()
        for i in await self.images.list_images():
            s = resp.images.add(names=i.names, id=i.id, size_bytes=i.size_bytes)
            if i.created:
                s.created.FromNanoseconds(int(i.created * 1e9))
        return resp

    async def _progress(self, stream: AsyncIterator[Any],
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.PullProgress]:
        try:
            async for p in stream:
                yield agent_pb2.PullProgress(layer=p.layer, status=p.status,
                                             current=p.current, total=p.total, error=p.error)
        except (ImagePullError, ValueError) as e:
            await context.abort(image_status(e), str(e))

    async def PullImage(self, request: agent_pb2.PullImageRequest,
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.PullProgress]:
        async for p in self._progress(self.images.pull(request.image), context):
            yield p

    async def PushImage(self, request: agent_pb2.PushImageRequest,
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.PullProgress]:
        async for p in self._progress(
                self.images.push(request.image, request.target or request.image), context):
            yield p

    async def LoadImage(self, request_iterator: AsyncIterator[agent_pb2.LoadImageChunk],
                        context: grpc.aio.ServicerContext) -> agent_pb2.LoadImageResponse:
        async def chunks() -> AsyncIterator[bytes]:
            async for c in request_iterator:
                yield c.data
        try:
            names = await self.images.load(chunks())
        except (ValueError, ImagePullError) as e:    # whatever is wrong, the archive is
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        return agent_pb2.LoadImageResponse(names=names)

    async def PruneImages(self, request: agent_pb2.PruneImagesRequest,
                          context: grpc.aio.ServicerContext) -> agent_pb2.PruneImagesResponse:
        keep = {c.image for c in await self.runtime.list_containers()}
        removed, freed = await self.images.prune(keep | images_in_use(self.manager))
        return agent_pb2.PruneImagesResponse(removed=removed, bytes_freed=freed)


def images_in_use(manager: PodManager) -> set[str]:
    """The images of the node's pods (also called from the pulling thread: one snapshot)."""
    keep: set[str] = set()
    for w in list(manager.workers.values()):
        keep.update(c.image for c in w.pod.spec.containers)
        keep.update(c.image for c in w.pod.spec.init_containers)
    return keep


# what an image failure means to a caller
_IMAGE_CODES = {"invalid": grpc.StatusCode.INVALID_ARGUMENT,
                "not_found": grpc.StatusCode.NOT_FOUND,
                "denied": grpc.StatusCode.PERMISSION_DENIED,
                "failed": grpc.StatusCode.FAILED_PRECONDITION}


def image_status(e: Exception) -> grpc.StatusCode:
    """The status of a failed pull or push (ImagesAdapter sets `kind` on its errors)."""
    if isinstance(e, ValueError):
        return grpc.StatusCode.INVALID_ARGUMENT
    return _IMAGE_CODES.get(getattr(e, "kind", ""), grpc.StatusCode.FAILED_PRECONDITION)


async def serve(service: AgentService, listen: str,
                credentials: grpc.ServerCredentials | None = None,
                interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                ) -> tuple[grpc.aio.Server, int]:
    """Serve the Agent service: with `credentials` (TLS requiring the cluster CA's client
    certificates) and `interceptors` (agent/security.py's ControlPlaneOnly) normally;
    plaintext and open only for --insecure on loopback (agent/config.py checks that)."""
    server = grpc.aio.server(interceptors=list(interceptors) or None)
    agent_pb2_grpc.add_AgentServicer_to_server(service, server)
    # standard gRPC health checking: "" and "corral.v1.Agent" answer SERVING while we run
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = (server.add_secure_port(listen, credentials) if credentials is not None
            else server.add_insecure_port(listen))
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    for name in ("", AGENT_SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if credentials is None:
        log.warning("Agent service listening on %s (port %d) in PLAINTEXT without "
                    "authentication (--insecure)", listen, port)
    else:
        log.info("Agent service listening on %s (port %d; TLS, only the control plane's "
                 "certificate is accepted)", listen, port)
    return server, port
