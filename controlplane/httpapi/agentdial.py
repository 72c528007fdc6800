"""The PodDialer (podconn.py) of pods/portforward and pods/proxy: a TCP connection to a
port of a pod through the agent of the pod's node, over the agent's `PortForward`
stream (agent/portforward.py), the path `corral port-forward` takes through the gRPC
API (controlplane/apiserver/portforward.py).

    dial = AgentDialer(agents)
    conn = await dial("default", "web-0", 8080)     # the agent reached the port
    await conn.write(b"GET / HTTP/1.0\\r\\n\\r\\n"); await conn.close_write()
    while data := await conn.read(): ...

The caller checked the verb (`proxy` on the pod); the dialer only reaches it. An agent
that cannot reach the port answers its error, raised here as Unavailable.
"""

from __future__ import annotations

import grpc

from controlplane import errors
from controlplane.apiserver.agents import Agents, agent_call
from proto import agent_pb2


class AgentConn:
    """One PortForward stream to an agent, as a PodConn."""

    def __init__(self, call: grpc.aio.StreamStreamCall[agent_pb2.PortForwardInput,
                                                      agent_pb2.PortForwardOutput],
                 where: tuple[str, str]) -> None:
        self.call, self.where = call, where
        self._eof = False

    async def read(self) -> bytes:
        while not self._eof:
            with agent_call(*self.where):
                msg = await self.call.read()
            if not isinstance(msg, agent_pb2.PortForwardOutput):    # grpc.aio.EOF
                break
            kind = msg.WhichOneof("output")
            if kind == "data" and msg.data:
                return msg.data
            if kind == "error":
                self._eof = True
                raise errors.Unavailable(msg.error)
        self._eof = True
        return b""

    async def write(self, data: bytes) -> None:
        with agent_call(*self.where):
            await self.call.write(agent_pb2.PortForwardInput(data=data))

    async def close_write(self) -> None:
        with agent_call(*self.where):
            await self.call.write(agent_pb2.PortForwardInput(close_write=True))
            await self.call.done_writing()

    async def close(self) -> None:
        self.call.cancel()


class AgentDialer:
    """A PodDialer that reaches pods through their nodes' agents."""

    def __init__(self, agents: Agents) -> None:
        self.agents = agents

    async def __call__(self, namespace: str, pod: str, port: int) -> AgentConn:
        stub, addr, obj = await self.agents.stub_for_pod(namespace, pod)
        where = (obj.pod.spec.node_name, addr)
        call = stub.PortForward()
        conn = AgentConn(call, where)
        try:
            with agent_call(*where):
                await call.write(agent_pb2.PortForwardInput(
                    start=agent_pb2.PortForwardStart(namespace=namespace, pod=pod, port=port)))
                first = await call.read()
            if not isinstance(first, agent_pb2.PortForwardOutput):  # grpc.aio.EOF
                raise errors.Unavailable(f"the agent of node {where[0]} ended the connection")
            if first.WhichOneof("output") == "error":
                raise errors.Unavailable(first.error)
            if first.WhichOneof("output") != "connected":
                raise errors.Unavailable(f"the agent of node {where[0]} did not connect")
        except BaseException:
            call.cancel()
            raise
        return conn
