"""`PortForward` of the API service: one TCP connection to a port of a pod, relayed to
the agent of the pod's node (agent/portforward.py), like `kubectl port-forward`.
Verb `proxy` on the pod, as for exec (controlplane/security/authz.py): admins only.

Takes the ApiService as `svc`; service.py wraps it with its error boundary.
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


async def port_forward(svc: Service, request_iterator: AsyncIterator[agent_pb2.PortForwardInput],
                       context: Any) -> AsyncIterator[agent_pb2.PortForwardOutput]:
    first = await anext(aiter(request_iterator), None)
    if first is None or first.WhichOneof("input") != "start":
        raise errors.BadRequest("port-forward: the first message must be a PortForwardStart")
    start = first.start
    if not 1 <= start.port <= 65535:
        raise errors.BadRequest(f"port-forward: port {start.port} is not between 1 and 65535")
    svc.access.check("proxy", "pods", start.namespace, start.pod)
    async for out in bidi_to_pod(svc.agents, start.namespace, start.pod, first,
                                 request_iterator, lambda stub, inputs: stub.PortForward(inputs)):
        yield out
