"""The image calls of the API service, proxied to the agents of one node or every node.

    NodeImages    list (verb proxy on nodes)
    PullImage     stream of per-layer progress, each line tagged with its node
    LoadImage     a client-streamed archive, copied to every selected agent at once
                  (controlplane/apiserver/imageload.py)
    PushImage     from one node's store to a registry (no node given: the first, by
                  name, whose store has the image)
    PruneImages   per-node removed images and freed bytes
    TagImage      another name for an image, on the nodes whose store has it

Pull, load, push and prune change what the nodes store: verb `manage_images` on
nodes, admins only (controlplane/security/authz.py). When several nodes are
selected and some fail, the others carry on and the failures come back in the
answer (`error` of the node's line or result); the call itself fails, with the
first failure's status, only when every selected node failed.

The functions take the ApiService as `svc`; service.py wraps them with its
error boundary (`unary` / `streaming`), which maps errors to gRPC codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

import grpc

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import AgentError, Agents, agent_call
from controlplane.rpc import CallContext
from proto import agent_pb2, api_pb2

if TYPE_CHECKING:
    from proto.agent_pb2_grpc import AgentAsyncStub

T = TypeVar("T")
Req = TypeVar("Req")
VERB = "manage_images"


class Service(Protocol):
    agents: Agents
    access: Access

    async def _nodes(self, name: str) -> list[str]: ...

    async def _each_node(self, nodes: list[str], call: Callable[[AgentAsyncStub], Awaitable[T]],
                         ) -> list[tuple[str, T]]: ...


def failure_text(e: BaseException) -> str:
    return e.message if isinstance(e, errors.ApiError | AgentError) else str(e)


def _expected(e: BaseException) -> bool:
    """A node's failure that others may outlive; anything else is a bug and is raised."""
    return isinstance(e, errors.ApiError | AgentError)


async def selected(svc: Service, node: str) -> list[str]:
    nodes = sorted(await svc._nodes(node))
    if not nodes:
        raise errors.NotFound("there are no nodes in the cluster")
    return nodes


def check_all_failed(nodes: list[str], failures: dict[str, BaseException]) -> None:
    for e in failures.values():
        if not _expected(e):
            raise e
    if failures and len(failures) == len(nodes):
        raise failures[nodes[0]] if nodes[0] in failures else next(iter(failures.values()))


async def node_images(svc: Service, request: api_pb2.NodeImagesRequest,
                      context: CallContext) -> api_pb2.NodeImagesResponse:
    svc.access.check("proxy", "nodes", "", request.node)
    nodes = await svc._nodes(request.node)
    answers = await svc._each_node(
        nodes, lambda stub: stub.ListImages(agent_pb2.ListImagesRequest(), timeout=10))
    return api_pb2.NodeImagesResponse(nodes=[
        api_pb2.NodeImages(node=node, images=r.images) for node, r in answers])


# -- pull and push: merged progress streams -----------------------------------------------------


async def _progress_streams(svc: Service, nodes: list[str],
                            open_call: Callable[[AgentAsyncStub],
                                                grpc.aio.UnaryStreamCall[Req,
                                                                         agent_pb2.PullProgress]],
                            ) -> AsyncIterator[api_pb2.NodePullProgress]:
    """Run one server-streaming call per node; yield their lines as they come."""
    queue: asyncio.Queue[api_pb2.NodePullProgress | None] = asyncio.Queue()
    failures: dict[str, BaseException] = {}

    async def one(node: str) -> None:
        call = None
        try:
            stub, addr = await svc.agents.stub_for_node(node)
            call = open_call(stub)
            with agent_call(node, addr):
                async for p in call:
                    await queue.put(api_pb2.NodePullProgress(node=node, progress=p))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            failures[node] = e
        finally:
            if call is not None:
                call.cancel()
            await queue.put(None)

    tasks = [asyncio.create_task(one(n)) for n in nodes]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            else:
                yield item
        check_all_failed(nodes, failures)
        for node in nodes:       # partial failure: say which nodes failed, then end OK
            if node in failures:
                yield api_pb2.NodePullProgress(node=node, progress=agent_pb2.PullProgress(
                    status="Failed", error=failure_text(failures[node])))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def pull_image(svc: Service, request: api_pb2.ImagePullRequest,
                     context: CallContext) -> AsyncIterator[api_pb2.NodePullProgress]:
    svc.access.check(VERB, "nodes", "", request.node)
    if not request.image:
        raise errors.BadRequest("pull: no image given")
    nodes = await selected(svc, request.node)
    req = agent_pb2.PullImageRequest(image=request.image)
    async for item in _progress_streams(svc, nodes, lambda stub: stub.PullImage(req)):
        yield item


async def _node_with_image(svc: Service, image: str) -> str:
    """The first node (by name) whose store lists `image` under one of its names."""
    answers = await svc._each_node(
        await selected(svc, ""),
        lambda stub: stub.ListImages(agent_pb2.ListImagesRequest(), timeout=10))
    want = {image, f"docker.io/{image}", f"docker.io/library/{image}"}
    want |= {w + ":latest" for w in want if ":" not in w.rsplit("/", 1)[-1] and "@" not in w}
    for node, resp in sorted(answers, key=lambda a: a[0]):
        for img in resp.images:
            if want & set(img.names) or img.id == image:
                return node
    raise errors.NotFound(f"image {image} is not present on any node (give --node)")


async def push_image(svc: Service, request: api_pb2.ImagePushRequest,
                     context: CallContext) -> AsyncIterator[api_pb2.NodePullProgress]:
    svc.access.check(VERB, "nodes", "", request.node)
    if not request.image:
        raise errors.BadRequest("push: no image given")
    node = request.node or await _node_with_image(svc, request.image)
    req = agent_pb2.PushImageRequest(image=request.image, target=request.target)
    async for item in _progress_streams(svc, [node], lambda stub: stub.PushImage(req)):
        yield item


# -- prune ---------------------------------------------------------------------------------------


async def prune_images(svc: Service, request: api_pb2.ImagePruneRequest,
                       context: CallContext) -> api_pb2.ImagePruneResponse:
    svc.access.check(VERB, "nodes", "", request.node)
    nodes = await selected(svc, request.node)

    async def one(node: str) -> api_pb2.NodePruneResult:
        stub, addr = await svc.agents.stub_for_node(node)
        with agent_call(node, addr):
            r = await stub.PruneImages(agent_pb2.PruneImagesRequest(), timeout=300)
        return api_pb2.NodePruneResult(node=node, removed=r.removed, bytes_freed=r.bytes_freed)

    outcomes = await asyncio.gather(*(one(n) for n in nodes), return_exceptions=True)
    failures = {n: o for n, o in zip(nodes, outcomes, strict=True)
                if isinstance(o, BaseException)}
    check_all_failed(nodes, failures)
    return api_pb2.ImagePruneResponse(nodes=[
        o if isinstance(o, api_pb2.NodePruneResult)
        else api_pb2.NodePruneResult(node=n, error=failure_text(o))
        for n, o in zip(nodes, outcomes, strict=True)])


# -- tag -----------------------------------------------------------------------------------------


async def tag_image(svc: Service, request: api_pb2.ImageTagRequest,
                    context: CallContext) -> api_pb2.ImageTagResponse:
    """Tag on the selected nodes that have the source; a node without it is no failure
    (its result has no name), unless no node has it (NotFound)."""
    svc.access.check(VERB, "nodes", "", request.node)
    if not request.source or not request.target:
        raise errors.BadRequest("tag: give a source and a target image")
    nodes = await selected(svc, request.node)
    req = agent_pb2.TagImageRequest(source=request.source, target=request.target)

    async def one(node: str) -> api_pb2.NodeTagResult:
        stub, addr = await svc.agents.stub_for_node(node)
        with agent_call(node, addr):
            r = await stub.TagImage(req, timeout=30)
        return api_pb2.NodeTagResult(node=node, name=r.name)

    outcomes = await asyncio.gather(*(one(n) for n in nodes), return_exceptions=True)
    missing = {n for n, o in zip(nodes, outcomes, strict=True)
               if isinstance(o, AgentError) and o.code == grpc.StatusCode.NOT_FOUND}
    failures = {n: o for n, o in zip(nodes, outcomes, strict=True)
                if isinstance(o, BaseException) and n not in missing}
    if len(missing) == len(nodes):
        raise errors.NotFound(f"No such image: {request.source}")
    check_all_failed([n for n in nodes if n not in missing], failures)
    return api_pb2.ImageTagResponse(nodes=[
        o if isinstance(o, api_pb2.NodeTagResult)
        else api_pb2.NodeTagResult(node=n, error="" if n in missing else failure_text(o))
        for n, o in zip(nodes, outcomes, strict=True)])
