"""`Build` of the API service: a Dockerfile build relayed to one node's agent, the image
then copied to the other nodes when asked.

The first message (ImageBuildStart) names the node (empty: the first Ready node by
name) and carries the BuildSpec; the context pieces that follow are passed to the
agent's Build call as they come (agent/buildrpc.py), and its events come back tagged
with the node. With `all_nodes`, once the build succeeded, the image is streamed from
the building node's SaveImage into every other node's LoadImage, all at once; a node
that fails to take it is reported (`error` of its event) while the others carry on.

Building changes what a node stores: verb `manage_images` on nodes, admins only, like
load and push (controlplane/security/authz.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents, agent_call
from controlplane.apiserver.images import VERB, failure_text
from controlplane.apiserver.registry import Registry
from controlplane.rpc import CallContext
from proto import agent_pb2, build_pb2


class Service(Protocol):
    agents: Agents
    access: Access
    registry: Registry


def _ready(node: object) -> bool:
    conds = getattr(getattr(getattr(node, "node", None), "status", None), "conditions", [])
    return any(c.type == "Ready" and c.status == "True" for c in conds)


async def _nodes(svc: Service) -> list[tuple[str, bool]]:
    lst = await svc.registry.list("nodes")
    return sorted((o.node.metadata.name, _ready(o)) for o in lst.items)


async def _copy(svc: Service, src: str, dst: str, names: list[str]) -> build_pb2.NodeBuildEvent:
    """SaveImage on src piped into LoadImage on dst."""
    try:
        src_stub, src_addr = await svc.agents.stub_for_node(src)
        dst_stub, dst_addr = await svc.agents.stub_for_node(dst)
        save = src_stub.SaveImage(build_pb2.SaveImageRequest(images=names))

        async def chunks() -> AsyncIterator[agent_pb2.LoadImageChunk]:
            with agent_call(src, src_addr):
                async for c in save:
                    yield c
        try:
            with agent_call(dst, dst_addr):
                resp = await dst_stub.LoadImage(chunks())
        finally:
            save.cancel()
        return build_pb2.NodeBuildEvent(node=dst, event=build_pb2.BuildEvent(
            message=f"copied from {src}: {', '.join(resp.names)}"))
    except asyncio.CancelledError:
        raise
    except (errors.ApiError, Exception) as e:       # one node's failure; the others go on
        return build_pb2.NodeBuildEvent(node=dst, error=failure_text(e))


async def build(svc: Service, request_iterator: AsyncIterator[build_pb2.ImageBuildInput],
                context: CallContext) -> AsyncIterator[build_pb2.NodeBuildEvent]:
    first = await anext(aiter(request_iterator), None)
    if first is None or first.WhichOneof("input") != "start":
        raise errors.BadRequest("build: the first message must be an ImageBuildStart")
    start = first.start
    svc.access.check(VERB, "nodes", "", start.node)
    nodes = await _nodes(svc)
    if not nodes:
        raise errors.NotFound("there are no nodes in the cluster")
    node = start.node or next((n for n, ready in nodes if ready), "")
    if not node:
        raise errors.Unavailable("no node is Ready to build on")
    if node not in {n for n, _ in nodes}:
        raise errors.NotFound(f'node "{node}" not found')
    stub, addr = await svc.agents.stub_for_node(node)

    async def inputs() -> AsyncIterator[build_pb2.BuildInput]:
        yield build_pb2.BuildInput(spec=start.spec)
        async for msg in request_iterator:
            if msg.WhichOneof("input") != "context":
                raise errors.BadRequest("build: only the first message may be a start")
            yield build_pb2.BuildInput(context=msg.context)

    call = stub.Build(inputs())
    result: build_pb2.BuildResult | None = None
    try:
        with agent_call(node, addr):
            async for ev in call:
                if ev.HasField("result"):
                    result = ev.result
                yield build_pb2.NodeBuildEvent(node=node, event=ev)
    finally:
        call.cancel()
    if start.all_nodes and result is not None:
        others = [n for n, _ in nodes if n != node]
        for out in await asyncio.gather(*(_copy(svc, node, o, list(result.names))
                                          for o in others)):
            yield out
