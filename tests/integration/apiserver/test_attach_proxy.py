"""Attach is proxied to the pod's node's agent (a small real gRPC agent), both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest

from proto import agent_pb2, agent_pb2_grpc, api_pb2, api_pb2_grpc
from tests.integration.apiserver.test_api import pod, uniq
from tests.support.aio import run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


class AttachAgent(agent_pb2_grpc.AgentServicer):
    def __init__(self) -> None:
        self.starts: list[agent_pb2.AttachStart] = []

    async def Attach(self, request_iterator: Any, context: Any,
                     ) -> AsyncIterator[agent_pb2.ExecOutput]:
        async for msg in request_iterator:
            which = msg.WhichOneof("input")
            if which == "start":
                self.starts.append(msg.start)
            elif which == "stdin":
                yield agent_pb2.ExecOutput(stdout=msg.stdin.upper())
            elif which == "resize":
                yield agent_pb2.ExecOutput(stderr=f"{msg.resize.width}x{msg.resize.height}"
                                           .encode())
            elif which == "close_stdin":
                yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=5))
                return


def test_attach_is_proxied_to_the_agent(etcd: EtcdProcess) -> None:
    async def main() -> None:
        node_name = uniq()
        agent_server = grpc.aio.server()
        agent = AttachAgent()
        agent_pb2_grpc.add_AgentServicer_to_server(cast(Any, agent), agent_server)
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

                start = agent_pb2.AttachStart(namespace="default", pod="p", container="c",
                                              stdin=True, tty=True)
                call = api.Attach()                 # not scheduled yet: nothing to reach
                await call.write(agent_pb2.AttachInput(start=start))
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await call.read()
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "not scheduled" in (e.value.details() or "")

                await api.Bind(api_pb2.BindRequest(namespace="default", name="p",
                                                   node_name=node_name))
                call = api.Attach()
                await call.write(agent_pb2.AttachInput(start=start))
                await call.write(agent_pb2.AttachInput(stdin=b"abc"))
                assert (await call.read()).stdout == b"ABC"
                await call.write(agent_pb2.AttachInput(
                    resize=agent_pb2.TerminalSize(width=120, height=40)))
                assert (await call.read()).stderr == b"120x40"
                await call.write(agent_pb2.AttachInput(close_stdin=True))
                assert (await call.read()).exit.exit_code == 5
                await call.done_writing()
                assert [(s.pod, s.container, s.stdin, s.tty) for s in agent.starts] == [
                    ("p", "c", True, True)]

                call = api.Attach()                 # the first message must be the start
                await call.write(agent_pb2.AttachInput(stdin=b"x"))
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await call.read()
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            await agent_server.stop(0)

    run(main())
