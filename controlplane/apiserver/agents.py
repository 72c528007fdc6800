"""Reaching a node's agent (logs, exec, stats, images) for the API service.

How a channel to an agent is made is the caller's: `Agents(registry, channel_factory)`
with `channel_factory(address, node_name, options) -> grpc.aio.Channel`. The secure
control plane passes controlplane/security/setup.py's `agent_channel` (its
system:controlplane client certificate; only the node's own certificate is accepted
from the agent); without one, plaintext (an --insecure control plane on loopback).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import grpc

from controlplane import errors
from controlplane.apiserver.registry import Registry
from controlplane.rpc import ChannelFactory, ChannelOptions
from proto import agent_pb2_grpc, api_pb2

if TYPE_CHECKING:
    from proto.agent_pb2_grpc import AgentAsyncStub

__all__ = ["AgentError", "Agents", "ChannelFactory", "agent_address", "agent_call",
           "bidi_to_pod", "plaintext_channel"]

In = TypeVar("In")
Out = TypeVar("Out")

log = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 1024 * 1024

def plaintext_channel(address: str, node_name: str,
                      options: ChannelOptions = ()) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=list(options))


def agent_address(node: api_pb2.Object) -> str:
    """host:port of a node's agent: its InternalIP and kubelet endpoint port."""
    st = node.node.status
    port = st.daemon_endpoints.kubelet_endpoint.port
    host = next((a.address for a in st.addresses if a.type == "InternalIP"), "")
    host = host or next((a.address for a in st.addresses if a.type == "Hostname"), "")
    name = node.node.metadata.name
    if not host or not port:
        raise errors.Unavailable(f'node "{name}" has not reported its agent address yet '
                                 "(status.addresses InternalIP and daemonEndpoints)")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Agents:
    """A channel per agent address, reused across requests."""

    def __init__(self, registry: Registry,
                 channel_factory: ChannelFactory | None = None) -> None:
        self.registry = registry
        self.channel_factory = channel_factory or plaintext_channel
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    async def stub_for_node(self, node_name: str) -> tuple[AgentAsyncStub, str]:
        node = await self.registry.get("nodes", "", node_name)
        addr = agent_address(node)
        key = (addr, node_name)   # the node's name is part of whom the channel trusts
        ch = self._channels.get(key)
        if ch is None:
            ch = self.channel_factory(addr, node_name, [
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE)])
            self._channels[key] = ch
        return agent_pb2_grpc.AgentStub(ch), addr   # an AgentAsyncStub on an aio channel

    async def stub_for_pod(self, namespace: str, pod: str,
                           ) -> tuple[AgentAsyncStub, str, api_pb2.Object]:
        obj = await self.registry.get("pods", namespace, pod)
        node = obj.pod.spec.node_name
        if not node:
            raise errors.BadRequest(f'pod "{namespace}/{pod}" is not scheduled on a node yet')
        stub, addr = await self.stub_for_node(node)
        return stub, addr, obj

    async def close(self) -> None:
        for ch in self._channels.values():
            with contextlib.suppress(Exception):
                await ch.close()
        self._channels.clear()


class AgentError(Exception):
    """An agent answered with an error status: passed on to the client as is."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@contextlib.contextmanager
def agent_call(node: str, addr: str) -> Iterator[None]:
    """Translate an agent's gRPC failure: unreachable -> Unavailable, else AgentError."""
    try:
        yield
    except grpc.aio.AioRpcError as e:
        if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise errors.Unavailable(
                f'the agent of node "{node}" at {addr} does not answer: {e.details()}') from e
        raise AgentError(e.code(), f'node "{node}": {e.details()}') from e


async def bidi_to_pod(agents: Agents, namespace: str, pod: str, first: In,
                      rest: AsyncIterator[In],
                      open_call: Callable[[AgentAsyncStub, AsyncIterator[In]],
                                          grpc.aio.StreamStreamCall[In, Out]],
                      ) -> AsyncIterator[Out]:
    """Relay a client-and-server streaming call (`first`, then `rest`) to the agent of the
    pod's node: `open_call(stub, inputs)` starts it; the answers are passed back as they
    come. The agent's call is cancelled when the client goes away."""
    stub, addr, obj = await agents.stub_for_pod(namespace, pod)

    async def inputs() -> AsyncIterator[In]:
        yield first
        async for msg in rest:
            yield msg

    call = open_call(stub, inputs())
    try:
        with agent_call(obj.pod.spec.node_name, addr):
            async for out in call:
                yield out
    finally:
        call.cancel()
