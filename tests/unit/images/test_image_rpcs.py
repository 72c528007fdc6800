"""The control plane's image calls (controlplane/apiserver/images.py) over fake agents:
fan-out to nodes, merged progress, partial failures, the archive copied to every node,
and who may call them (controlplane/security/authz.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest

from controlplane import errors
from controlplane.apiserver import imageload, images
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import AgentError
from controlplane.security.authn import Identity
from controlplane.security.authz import authorize
from proto import agent_pb2, api_pb2

L1 = "sha256:" + "1" * 64


class Call:
    """A fake grpc.aio call: iterate it (server stream) or await it (unary answer)."""

    def __init__(self, gen: AsyncIterator[Any] | None = None,
                 answer: Awaitable[Any] | None = None) -> None:
        self.gen, self.answer, self.cancelled = gen, answer, False

    def __aiter__(self) -> AsyncIterator[Any]:
        assert self.gen is not None
        return self.gen

    def __await__(self) -> Any:
        assert self.answer is not None
        return self.answer.__await__()

    def cancel(self) -> None:
        self.cancelled = True


class Agent:
    def __init__(self, node: str, fail: str = "", fail_after: int = -1) -> None:
        self.node, self.fail, self.fail_after = node, fail, fail_after
        self.received = b""
        self.calls: list[Call] = []

    def _error(self) -> AgentError:
        return AgentError(grpc.StatusCode.PERMISSION_DENIED, f'node "{self.node}": {self.fail}')

    def PullImage(self, req: agent_pb2.PullImageRequest) -> Call:
        async def gen() -> AsyncIterator[agent_pb2.PullProgress]:
            yield agent_pb2.PullProgress(status="Resolving")
            if self.fail:
                raise self._error()
            yield agent_pb2.PullProgress(layer=L1, status="Done", current=5, total=5)
            yield agent_pb2.PullProgress(status="Done")
        self.calls.append(Call(gen()))
        return self.calls[-1]

    PushImage = PullImage

    def LoadImage(self, chunks: AsyncIterator[agent_pb2.LoadImageChunk]) -> Call:
        async def answer() -> agent_pb2.LoadImageResponse:
            n = 0
            async for c in chunks:
                if n == self.fail_after:
                    raise self._error()      # stops reading half-way
                self.received += c.data
                n += 1
            if self.fail and self.fail_after < 0:
                raise self._error()
            return agent_pb2.LoadImageResponse(names=[f"img-{len(self.received)}"])
        self.calls.append(Call(answer=answer()))
        return self.calls[-1]

    async def PruneImages(self, req: Any, timeout: float) -> agent_pb2.PruneImagesResponse:
        if self.fail:
            raise self._error()
        return agent_pb2.PruneImagesResponse(removed=["old:1"], bytes_freed=42)

    async def ListImages(self, req: Any, timeout: float) -> agent_pb2.ListImagesResponse:
        names = ["docker.io/library/busybox:latest"] if self.node == "n2" else []
        return agent_pb2.ListImagesResponse(images=[agent_pb2.ImageSummary(names=names)])


class Agents:
    def __init__(self, agents: dict[str, Agent]) -> None:
        self.agents = agents

    async def stub_for_node(self, node: str) -> tuple[Agent, str]:
        if node not in self.agents:
            raise errors.NotFound(f'nodes "{node}" not found')
        return self.agents[node], "addr"


class Svc:
    def __init__(self, *agents: Agent, identity: Identity | None = None) -> None:
        self.agents: Any = Agents({a.node: a for a in agents})
        hook = None if identity is None else (
            lambda *a, **kw: authorize(identity, *a, **kw))
        self.access = Access(registry=None, authorize=hook)  # type: ignore[arg-type]

    async def _nodes(self, name: str) -> list[str]:
        return [name] if name else list(self.agents.agents)

    async def _each_node(self, nodes: list[str], call: Callable[[Any], Awaitable[Any]],
                         ) -> list[tuple[str, Any]]:
        return [(n, await call(self.agents.agents[n])) for n in nodes]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))   # type: ignore[arg-type]


async def collect(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


def test_pull_merges_nodes_and_reports_a_partial_failure_at_the_end() -> None:
    svc = Svc(Agent("n1"), Agent("n2", fail="registry refused"), Agent("n3"))
    lines = run(collect(images.pull_image(svc, api_pb2.ImagePullRequest(image="x"), None)))
    by_node: dict[str, list[str]] = {}
    for ln in lines:
        by_node.setdefault(ln.node, []).append(ln.progress.status)
    assert by_node["n1"] == by_node["n3"] == ["Resolving", "Done", "Done"]
    assert by_node["n2"] == ["Resolving", "Failed"]
    assert lines[-1].node == "n2" and "registry refused" in lines[-1].progress.error
    assert all(c.cancelled for a in svc.agents.agents.values() for c in a.calls)


def test_pull_fails_with_the_status_when_every_node_fails() -> None:
    svc = Svc(Agent("n1", fail="registry refused"))
    with pytest.raises(AgentError) as e:
        run(collect(images.pull_image(svc, api_pb2.ImagePullRequest(image="x"), None)))
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(errors.NotFound, match='nodes "nope" not found'):
        run(collect(images.pull_image(
            svc, api_pb2.ImagePullRequest(image="x", node="nope"), None)))
    with pytest.raises(errors.BadRequest, match="no image"):
        run(collect(images.pull_image(svc, api_pb2.ImagePullRequest(), None)))


def test_push_without_a_node_uses_one_that_has_the_image() -> None:
    svc = Svc(Agent("n1"), Agent("n2"))
    lines = run(collect(images.push_image(svc, api_pb2.ImagePushRequest(image="busybox"),
                                          None)))
    assert {ln.node for ln in lines} == {"n2"}
    with pytest.raises(errors.NotFound, match="not present on any node"):
        run(collect(images.push_image(svc, api_pb2.ImagePushRequest(image="nginx"), None)))


def chunks(node: str, pieces: list[bytes]) -> AsyncIterator[api_pb2.ImageLoadChunk]:
    async def gen() -> AsyncIterator[api_pb2.ImageLoadChunk]:
        yield api_pb2.ImageLoadChunk(node=node)
        for p in pieces:
            yield api_pb2.ImageLoadChunk(data=p)
    return gen()


def test_load_copies_the_archive_to_every_node_even_when_one_stops_reading() -> None:
    pieces = [bytes([i]) * 1000 for i in range(50)]      # more than the per-node queue
    ok1, bad, ok2 = Agent("n1"), Agent("n2", fail="not a tar", fail_after=2), Agent("n3")
    resp = run(imageload.load_image(Svc(ok1, bad, ok2), chunks("", pieces), None))
    assert ok1.received == ok2.received == b"".join(pieces)
    assert [(r.node, list(r.names), r.error) for r in resp.nodes] == [
        ("n1", ["img-50000"], ""), ("n2", [], 'node "n2": not a tar'),
        ("n3", ["img-50000"], "")]


def test_load_to_one_node_and_errors() -> None:
    a, b = Agent("n1"), Agent("n2")
    resp = run(imageload.load_image(Svc(a, b), chunks("n2", [b"abc"]), None))
    assert [r.node for r in resp.nodes] == ["n2"] and b.received == b"abc" and not a.calls
    with pytest.raises(AgentError, match="bad archive"):
        run(imageload.load_image(Svc(Agent("n1", fail="bad archive")), chunks("", [b"x"]), None))

    async def empty() -> AsyncIterator[api_pb2.ImageLoadChunk]:
        return
        yield
    with pytest.raises(errors.BadRequest, match="no archive"):
        run(imageload.load_image(Svc(a), empty(), None))


def test_prune_per_node() -> None:
    resp = run(images.prune_images(Svc(Agent("n1"), Agent("n2", fail="disk gone")),
                                   api_pb2.ImagePruneRequest(), None))
    assert [(r.node, list(r.removed), r.bytes_freed, r.error) for r in resp.nodes] == [
        ("n1", ["old:1"], 42, ""), ("n2", [], 0, 'node "n2": disk gone')]


NODE = Identity("system:node:n1", ("system:nodes",), "n1")
ADMIN = Identity("admin", ("system:masters",))


def test_only_admins_manage_images() -> None:
    for call in (
        lambda svc: collect(images.pull_image(svc, api_pb2.ImagePullRequest(image="x"), None)),
        lambda svc: collect(images.push_image(svc, api_pb2.ImagePushRequest(image="x",
                                                                            node="n1"), None)),
        lambda svc: imageload.load_image(svc, chunks("n1", [b"x"]), None),
        lambda svc: images.prune_images(svc, api_pb2.ImagePruneRequest(node="n1"), None),
    ):
        agent = Agent("n1")
        with pytest.raises(errors.Forbidden, match="may not manage the images of"):
            run(call(Svc(agent, identity=NODE)))
        assert not agent.calls                     # refused before reaching the agent
        run(call(Svc(Agent("n1"), identity=ADMIN)))
