"""The agent's own gRPC service (`Agent` in proto/agent.proto): logs, exec,
attach, stats and the node's images. The control plane proxies it for the CLI.

The handlers live beside it: agent/podlookup.py (which pod and container a request
means), agent/attach.py, agent/nodestats.py, agent/imagerpc.py. `serve` binds it
with TLS that admits only the control plane's certificate (agent/security), or
plaintext for --insecure on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agent import attach, logs, portforward
from agent.buildrpc import BuildCalls
from agent.imagerpc import ImageCalls, image_status, images_in_use
from agent.nodestats import NodeStats
from agent.podlookup import PodLookup
from agent.podsync.manager import PodManager
from agent.ports import EXITED, RUNNING, ContainerRuntimePort, ImagePort
from proto import agent_pb2, agent_pb2_grpc, build_pb2

__all__ = ["AgentService", "image_status", "images_in_use", "serve"]

log = logging.getLogger("corral.agent.server")

AGENT_SERVICE = agent_pb2.DESCRIPTOR.services_by_name["Agent"].full_name  # corral.v1.Agent


class AgentService(agent_pb2_grpc.AgentServicer):
    def __init__(self, node_name: str, manager: PodManager, runtime: ContainerRuntimePort,
                 images: ImagePort, cpu_capacity_millis: int = 0,
                 dial_pod: portforward.PodDialer | None = None) -> None:
        self.node_name = node_name
        self.dial_pod = dial_pod      # port-forward: a connection inside a pod's netns
        self.manager = manager
        self.runtime = runtime
        self.images = images
        self.pods = PodLookup(node_name, manager, runtime)
        self.node_stats = NodeStats(node_name, manager, runtime, cpu_capacity_millis)
        self.image_calls = ImageCalls(images, runtime, manager)
        self.builds: BuildCalls | None = None        # agent/buildrpc.py; None: no builder

    # ---- Logs ----------------------------------------------------------------------

    async def Logs(self, request: agent_pb2.LogsRequest,
                   context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.LogChunk]:
        w = await self.pods.worker(context, request.namespace, request.pod)
        names = await self.pods.container_names(context, w, request.container,
                                            request.all_containers)
        since: float | None = None
        if request.HasField("since_seconds"):
            since = time.time() - request.since_seconds
        elif request.HasField("since_time"):
            since = request.since_time.ToNanoseconds() / 1e9
        tail = request.tail_lines if request.HasField("tail_lines") else None
        for name in names:
            inst = await self.pods.instances(w.uid, name)
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
                    return await self.pods.finished(cid)
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
        w = await self.pods.worker(context, s.namespace, s.pod)
        (name,) = await self.pods.container_names(context, w, s.container, False)
        inst = await self.pods.instances(w.uid, name)
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

    # ---- Attach (agent/attach.py) ------------------------------------------------------

    async def Attach(self, request_iterator: AsyncIterator[agent_pb2.AttachInput],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.ExecOutput]:
        async for out in attach.attach(self.pods, request_iterator, context):
            yield out

    # ---- PortForward (agent/portforward.py) ----------------------------------------------

    async def PortForward(self, request_iterator: AsyncIterator[agent_pb2.PortForwardInput],
                          context: grpc.aio.ServicerContext,
                          ) -> AsyncIterator[agent_pb2.PortForwardOutput]:
        async for out in portforward.port_forward(self.pods, self.dial_pod, request_iterator,
                                                  context):
            yield out

    # ---- Stats (agent/nodestats.py) ------------------------------------------------------

    async def Stats(self, request: agent_pb2.StatsRequest,
                    context: grpc.aio.ServicerContext) -> agent_pb2.StatsResponse:
        return await self.node_stats.stats(request)

    # ---- images (agent/imagerpc.py) ------------------------------------------------------

    async def ListImages(self, request: agent_pb2.ListImagesRequest,
                         context: grpc.aio.ServicerContext) -> agent_pb2.ListImagesResponse:
        return await self.image_calls.list()

    async def PullImage(self, request: agent_pb2.PullImageRequest,
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.PullProgress]:
        async for p in self.image_calls.progress(self.images.pull(request.image), context):
            yield p

    async def PushImage(self, request: agent_pb2.PushImageRequest,
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.PullProgress]:
        async for p in self.image_calls.progress(
                self.images.push(request.image, request.target or request.image), context):
            yield p

    async def LoadImage(self, request_iterator: AsyncIterator[agent_pb2.LoadImageChunk],
                        context: grpc.aio.ServicerContext) -> agent_pb2.LoadImageResponse:
        return await self.image_calls.load(request_iterator, context)

    async def PruneImages(self, request: agent_pb2.PruneImagesRequest,
                          context: grpc.aio.ServicerContext) -> agent_pb2.PruneImagesResponse:
        return await self.image_calls.prune()

    # ---- builds (agent/buildrpc.py) ---------------------------------------------------------

    async def _builder(self, context: grpc.aio.ServicerContext) -> BuildCalls:
        if self.builds is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                f"node {self.node_name} cannot build images")
        assert self.builds is not None
        return self.builds

    async def Build(self, request_iterator: AsyncIterator[build_pb2.BuildInput],
                    context: grpc.aio.ServicerContext) -> AsyncIterator[build_pb2.BuildEvent]:
        async for ev in (await self._builder(context)).build(request_iterator, context):
            yield ev

    async def SaveImage(self, request: build_pb2.SaveImageRequest,
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[agent_pb2.LoadImageChunk]:
        async for chunk in (await self._builder(context)).save(request, context):
            yield chunk

    async def TagImage(self, request: agent_pb2.TagImageRequest,
                       context: grpc.aio.ServicerContext) -> agent_pb2.TagImageResponse:
        return await self.image_calls.tag(request, context)


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
