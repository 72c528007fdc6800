"""`Exec` and `Attach` of the API service: run a command in, or join the stdin and output
of, a running container, proxied to the agent of the pod's node (agent/server.py,
agent/attach.py). Verbs `proxy` (exec) and `attach` on the pod: admins only
(controlplane/security/authz.py), as anyone attached can type into the container.

Takes the ApiService as `svc`; service.py wraps it with its error boundary
(`streaming`), which maps errors to gRPC codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

import grpc

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents, bidi_to_pod
from controlplane.rpc import CallContext
from proto import agent_pb2

if TYPE_CHECKING:
    from proto.agent_pb2_grpc import AgentAsyncStub

Input = TypeVar("Input", agent_pb2.ExecInput, agent_pb2.AttachInput)


class Service(Protocol):
    agents: Agents
    access: Access


async def _relay(svc: Service, request_iterator: AsyncIterator[Input], verb: str, what: str,
                 open_call: Callable[[AgentAsyncStub, AsyncIterator[Input]],
                                     grpc.aio.StreamStreamCall[Input, agent_pb2.ExecOutput]],
                 ) -> AsyncIterator[agent_pb2.ExecOutput]:
    """The first message must be `start` (namespace, pod); check `verb` on that pod, then
    relay the whole stream to its node."""
    first = await anext(aiter(request_iterator), None)
    if first is None or first.WhichOneof("input") != "start":
        raise errors.BadRequest(f"{what}: the first message must be an {what.capitalize()}Start")
    start = first.start
    svc.access.check(verb, "pods", start.namespace, start.pod)
    async for out in bidi_to_pod(svc.agents, start.namespace, start.pod, first,
                                 request_iterator, open_call):
        yield out


def attach(svc: Service, request_iterator: AsyncIterator[agent_pb2.AttachInput],
           context: CallContext) -> AsyncIterator[agent_pb2.ExecOutput]:
    return _relay(svc, request_iterator, "attach", "attach",
                  lambda stub, inputs: stub.Attach(inputs))


def exec_(svc: Service, request_iterator: AsyncIterator[agent_pb2.ExecInput],
          context: CallContext) -> AsyncIterator[agent_pb2.ExecOutput]:
    return _relay(svc, request_iterator, "proxy", "exec",
                  lambda stub, inputs: stub.Exec(inputs))
