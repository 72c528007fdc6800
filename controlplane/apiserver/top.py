"""CPU and memory use of pods or nodes, asked of the agents of the nodes concerned
(verb `proxy`), for both doors: `Top` of the API service (`top`: it takes the ApiService
as `svc`; service.py wraps it with its error boundary) and metrics.k8s.io of the
Kubernetes API (`stats`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import AgentError, Agents, agent_call
from controlplane.apiserver.registry import Registry
from controlplane.rpc import CallContext
from proto import agent_pb2, api_pb2

if TYPE_CHECKING:
    from proto.agent_pb2_grpc import AgentAsyncStub

log = logging.getLogger(__name__)
T = TypeVar("T")


class Service(Protocol):
    registry: Registry
    agents: Agents
    access: Access


async def node_names(registry: Registry, name: str) -> list[str]:
    if name:
        return [name]
    lst = await registry.list("nodes")
    return [n.node.metadata.name for n in lst.items]


async def each_node(agents: Agents, nodes: list[str],
                    call: Callable[[AgentAsyncStub], Awaitable[T]]) -> list[tuple[str, T]]:
    """Ask every node's agent; skip the silent ones, Unavailable if none answers."""
    async def one(node: str) -> tuple[str, T]:
        stub, addr = await agents.stub_for_node(node)
        with agent_call(node, addr):
            return node, await call(stub)

    results = await asyncio.gather(*(one(n) for n in nodes), return_exceptions=True)
    answers = [r for r in results if not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    for f in failures:
        if not isinstance(f, errors.Unavailable | errors.NotFound | AgentError):
            raise f
    if failures and (not answers or len(nodes) == 1):
        raise failures[0]
    for f in failures:
        log.info("skipping a node: %s", f)
    return answers


async def stats(registry: Registry, agents: Agents, resource: str, namespace: str,
                name: str) -> api_pb2.TopResponse:
    """resource "nodes" (one, or all when name is "") or "pods" (one, a namespace's, all)."""
    stats_req = agent_pb2.StatsRequest()
    if resource == "nodes":
        nodes = await node_names(registry, name)
    elif resource == "pods":
        stats_req.namespace, stats_req.pod = namespace, name
        if name:
            _, _, pod = await agents.stub_for_pod(namespace, name)
            nodes = [pod.pod.spec.node_name]
        else:
            nodes = await node_names(registry, "")
    else:
        raise errors.BadRequest(f"top: {resource!r} is not pods or nodes")
    answers = await each_node(agents, nodes, lambda stub: stub.Stats(stats_req, timeout=10))
    resp = api_pb2.TopResponse()
    for node, st in answers:
        if resource == "nodes":
            ns = resp.nodes.add()
            ns.CopyFrom(st.node)
            ns.name = ns.name or node
        else:
            resp.pods.extend(st.pods)
    return resp


async def top(svc: Service, request: api_pb2.TopRequest,
              context: CallContext) -> api_pb2.TopResponse:
    kind = o.kind_named(request.resource).resource if request.resource else "pods"
    svc.access.check("proxy", kind, request.namespace, request.name)
    return await stats(svc.registry, svc.agents, kind, request.namespace, request.name)
