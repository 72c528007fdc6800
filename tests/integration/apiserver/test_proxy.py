"""Logs, Exec, Top and NodeImages are proxied to the node's agent (a small real gRPC agent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import grpc

from proto import agent_pb2, agent_pb2_grpc, api_pb2, api_pb2_grpc
from tests.integration.apiserver.test_api import pod, uniq
from tests.support.aio import run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


class FakeAgent(agent_pb2_grpc.AgentServicer):
    def __init__(self, node: str) -> None:
        self.node = node

    async def Logs(self, request: Any, context: Any) -> AsyncIterator[agent_pb2.LogChunk]:
        for line in (b"hello\n", b"world\n"):
            yield agent_pb2.LogChunk(data=line, container="c", stream="stdout")

    async def Exec(self, request_iterator: Any, context: Any,
                   ) -> AsyncIterator[agent_pb2.ExecOutput]:
        async for msg in request_iterator:
            which = msg.WhichOneof("input")
            if which == "start":
                yield agent_pb2.ExecOutput(stdout=" ".join(msg.start.command).encode())
            elif which == "stdin":
                yield agent_pb2.ExecOutput(stdout=msg.stdin.upper())
            elif which == "close_stdin":
                yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=3))
                return

    async def Stats(self, request: Any, context: Any) -> agent_pb2.StatsResponse:
        return agent_pb2.StatsResponse(
            node=agent_pb2.NodeStats(name=self.node, cpu_usage_nano_cores=5),
            pods=[agent_pb2.PodStats(namespace=request.namespace or "default",
                                     name=request.pod or "any")])

    async def ListImages(self, request: Any, context: Any) -> agent_pb2.ListImagesResponse:
        return agent_pb2.ListImagesResponse(images=[agent_pb2.ImageSummary(names=["busybox"])])


def test_proxy_to_agent(etcd: EtcdProcess) -> None:
    async def main() -> None:
        node_name = uniq()
        agent_server = grpc.aio.server()
        # only the calls the proxy makes; the rest answer UNIMPLEMENTED
        agent = cast(Any, FakeAgent)(node_name)
        agent_pb2_grpc.add_AgentServicer_to_server(agent, agent_server)
        port = agent_server.add_insecure_port("127.0.0.1:0")
        await agent_server.start()
        try:
            async with ControlPlane(etcd.endpoint) as cp, \
                    grpc.aio.insecure_channel(cp.address) as ch:
                api: Any = api_pb2_grpc.ApiStub(ch)
                node = api_pb2.Object()
                node.node.metadata.name = node_name
                node = await api.Create(api_pb2.CreateRequest(object=node))
                node.node.status.addresses.add(type="InternalIP", address="127.0.0.1")
                node.node.status.daemon_endpoints.kubelet_endpoint.port = port
                await api.UpdateStatus(api_pb2.UpdateRequest(object=node))
                await api.Create(api_pb2.CreateRequest(object=pod("p", "default")))
                await api.Bind(api_pb2.BindRequest(namespace="default", name="p",
                                                   node_name=node_name))

                chunks = [c.data async for c in api.Logs(
                    agent_pb2.LogsRequest(namespace="default", pod="p"))]
                assert b"".join(chunks) == b"hello\nworld\n"

                call = api.Exec()
                await call.write(agent_pb2.ExecInput(start=agent_pb2.ExecStart(
                    namespace="default", pod="p", command=["echo", "hi"])))
                assert (await call.read()).stdout == b"echo hi"
                await call.write(agent_pb2.ExecInput(stdin=b"abc"))
                assert (await call.read()).stdout == b"ABC"
                await call.write(agent_pb2.ExecInput(close_stdin=True))
                assert (await call.read()).exit.exit_code == 3
                await call.done_writing()

                top = await api.Top(api_pb2.TopRequest(resource="pods", namespace="default",
                                                       name="p"))
                assert [(p.namespace, p.name) for p in top.pods] == [("default", "p")]
                tn = await api.Top(api_pb2.TopRequest(resource="nodes", name=node_name))
                assert tn.nodes[0].name == node_name and tn.nodes[0].cpu_usage_nano_cores == 5
                imgs = await api.NodeImages(api_pb2.NodeImagesRequest(node=node_name))
                assert imgs.nodes[0].node == node_name
                assert list(imgs.nodes[0].images[0].names) == ["busybox"]
        finally:
            await agent_server.stop(0)

    run(main())
