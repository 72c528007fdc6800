"""`Attach` of the API service: join a running container's stdin and output, proxied to
the agent of the pod's node (agent/attach.py). Verb `attach` on the pod: admins only
(controlplane/security/authz.py), as anyone attached can type into the container.

Takes the ApiService as `svc`; service.py wraps it with its error boundary
(`streaming`), which maps errors to gRPC codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents, bidi_to_pod
from proto import agent_pb2


class Service(Protocol):
    agents: Agents
    access: Access


async def attach(svc: Service, request_iterator: AsyncIterator[agent_pb2.AttachInput],
                 context: Any) -> AsyncIterator[agent_pb2.ExecOutput]:
    first = await anext(aiter(request_iterator), None)
    if first is None or first.WhichOneof("input") != "start":
        raise errors.BadRequest("attach: the first message must be an AttachStart")
    start = first.start
    svc.access.check("attach", "pods", start.namespace, start.pod)
    async for out in bidi_to_pod(svc.agents, start.namespace, start.pod, first,
                                 request_iterator, lambda stub, inputs: stub.Attach(inputs)):
        yield out
