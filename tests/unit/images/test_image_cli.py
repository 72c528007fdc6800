"""`corral image ls|pull|load|push|prune|tag` against an in-process fake Api (the image
calls only)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from corral.cli.main import run
from proto import agent_pb2, api_pb2, api_pb2_grpc

L1 = "sha256:" + "c3" * 32


class ImageApi(api_pb2_grpc.ApiServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.loaded = b""
        self.fail_node = ""

    def _lines(self, nodes: list[str], word: str) -> Iterator[api_pb2.NodePullProgress]:
        for n in nodes:
            yield api_pb2.NodePullProgress(node=n, progress=agent_pb2.PullProgress(
                status="Resolving"))
            yield api_pb2.NodePullProgress(node=n, progress=agent_pb2.PullProgress(
                layer=L1, status=word, current=0, total=2000))
            if n == self.fail_node:
                yield api_pb2.NodePullProgress(node=n, progress=agent_pb2.PullProgress(
                    status="Failed", error=f'node "{n}": manifest unknown'))
                continue
            yield api_pb2.NodePullProgress(node=n, progress=agent_pb2.PullProgress(
                layer=L1, status="Done", current=2000, total=2000))
            yield api_pb2.NodePullProgress(node=n, progress=agent_pb2.PullProgress(
                status="Done"))

    def PullImage(self, request: Any, context: Any) -> Iterator[api_pb2.NodePullProgress]:
        self.requests.append(request)
        if request.node == "ghost":
            context.abort(grpc.StatusCode.NOT_FOUND, 'nodes "ghost" not found')
        yield from self._lines([request.node] if request.node else ["n1", "n2"],
                               "Downloading")

    def PushImage(self, request: Any, context: Any) -> Iterator[api_pb2.NodePullProgress]:
        self.requests.append(request)
        yield from self._lines([request.node or "n1"], "Pushing")

    def LoadImage(self, request_iterator: Any, context: Any) -> api_pb2.ImageLoadResponse:
        msgs = list(request_iterator)
        self.requests.append(msgs[0])
        self.loaded = b"".join(m.data for m in msgs)
        if self.loaded.startswith(b"garbage"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          'node "n1": not a docker save or OCI layout archive')
        nodes = [msgs[0].node] if msgs[0].node else ["n1", "n2"]
        return api_pb2.ImageLoadResponse(nodes=[
            api_pb2.NodeLoadResult(node=n, error="disk full") if n == self.fail_node else
            api_pb2.NodeLoadResult(node=n, names=["docker.io/library/app:1"]) for n in nodes])

    def PruneImages(self, request: Any, context: Any) -> api_pb2.ImagePruneResponse:
        return api_pb2.ImagePruneResponse(nodes=[
            api_pb2.NodePruneResult(node="n1", removed=["docker.io/library/old:1"],
                                    bytes_freed=3_000_000),
            api_pb2.NodePruneResult(node="n2", bytes_freed=0)])

    def NodeImages(self, request: Any, context: Any) -> api_pb2.NodeImagesResponse:
        unnamed = agent_pb2.ImageSummary(names=["sha256:" + "ab" * 32], id="sha256:" + "cd" * 32,
                                         size_bytes=2_000_000)
        named = agent_pb2.ImageSummary(names=["docker.io/library/app:1"],
                                       id="sha256:" + "ef" * 32, size_bytes=1_000)
        return api_pb2.NodeImagesResponse(nodes=[api_pb2.NodeImages(node="n1",
                                                                    images=[unnamed, named])])

    def TagImage(self, request: Any, context: Any) -> api_pb2.ImageTagResponse:
        self.requests.append(request)
        if request.source == "nope":
            context.abort(grpc.StatusCode.NOT_FOUND, "No such image: nope")
        return api_pb2.ImageTagResponse(nodes=[
            api_pb2.NodeTagResult(node="n1", name="docker.io/library/" + request.target),
            api_pb2.NodeTagResult(node="n2")])          # n2 has no such image: skipped


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[ImageApi, str]]:
    monkeypatch.setenv("CORRAL_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("CORRAL_SERVER", raising=False)
    fake = ImageApi()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    api_pb2_grpc.add_ApiServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def corral(address: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--server", address, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_pull_every_node_prints_lines_when_not_a_tty(api: tuple[ImageApi, str]) -> None:
    fake, addr = api
    code, out, err = corral(addr, "image", "pull", "busybox:1.36")
    assert (code, err) == (0, "")
    assert fake.requests[-1] == api_pb2.ImagePullRequest(image="busybox:1.36")
    lines = out.splitlines()
    assert "n1 c3c3c3c3c3c3: Pull complete (2kB)" in lines
    assert "n2 c3c3c3c3c3c3: Pull complete (2kB)" in lines
    assert any(ln.startswith("n2: done: 1 layer, 2kB in ") for ln in lines)
    assert lines[-1] == "Pulled busybox:1.36 on n1, n2"


def test_pull_failures(api: tuple[ImageApi, str]) -> None:
    fake, addr = api
    fake.fail_node = "n2"
    code, out, err = corral(addr, "image", "pull", "busybox", "--node", "n2")
    assert code == 1 and 'n2: failed: node "n2": manifest unknown' in out
    assert err == "error: pull failed on n2\n"
    code, out, err = corral(addr, "image", "pull", "busybox", "--node", "ghost")
    assert code == 1 and err == 'Error from server (NotFound): nodes "ghost" not found\n'


def test_push(api: tuple[ImageApi, str]) -> None:
    fake, addr = api
    code, out, _ = corral(addr, "image", "push", "app:1", "--node", "n1",
                          "--to", "reg:5000/app:1")
    assert code == 0
    assert fake.requests[-1] == api_pb2.ImagePushRequest(image="app:1", node="n1",
                                                         target="reg:5000/app:1")
    assert "n1 c3c3c3c3c3c3: Pushed (2kB)" in out.splitlines()
    assert out.splitlines()[-1] == "Pushed reg:5000/app:1 from n1"


def test_load_streams_the_file(api: tuple[ImageApi, str], tmp_path: Path) -> None:
    fake, addr = api
    archive = tmp_path / "app.tar"
    archive.write_bytes(b"TAR" + b"x" * (3 << 20))        # several chunks
    code, out, err = corral(addr, "image", "load", "-i", str(archive))
    assert (code, err) == (0, "")
    assert fake.loaded == archive.read_bytes() and fake.requests[-1].node == ""
    assert out.splitlines() == ["n1: Loaded image: docker.io/library/app:1",
                                "n2: Loaded image: docker.io/library/app:1",
                                "Sent 3.15MB to 2 of 2 nodes"]
    fake.fail_node = "n2"
    code, out, err = corral(addr, "image", "load", "-i", str(archive))
    assert code == 1 and "n2: failed: disk full" in err and "load failed on n2" in err
    code, _, err = corral(addr, "image", "load", "-i", str(tmp_path / "missing.tar"))
    assert code == 1 and "missing.tar: no such file" in err
    archive.write_bytes(b"garbage")
    code, _, err = corral(addr, "image", "load", "-i", str(archive), "--node", "n1")
    assert code == 1 and "not a docker save or OCI layout archive" in err


def test_prune(api: tuple[ImageApi, str]) -> None:
    _, addr = api
    code, out, _ = corral(addr, "image", "prune")
    assert code == 0
    assert out.splitlines() == ["n1: deleted: docker.io/library/old:1", "n1: reclaimed 3MB",
                                "n2: reclaimed 0B", "Total reclaimed space: 3MB"]


def test_import_a_directory_as_a_single_layer_image(api: tuple[ImageApi, str],
                                                    tmp_path: Path) -> None:
    from agent.images import ImageService

    fake, addr = api
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "hello").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "hello").chmod(0o755)
    (root / "bin" / "hi").symlink_to("hello")
    code, out, err = corral(addr, "image", "import", str(root), "app:1", "--node", "n1",
                            "--cmd", "/bin/hello 'a b'")
    assert (code, err) == (0, "") and fake.requests[-1].node == "n1"
    assert out.splitlines()[0] == "n1: Loaded image: docker.io/library/app:1"
    # what was sent is a docker save archive the agent's image store loads
    svc = ImageService(str(tmp_path / "store"))
    assert svc.load_archive(io.BytesIO(fake.loaded)) == ["docker.io/library/app:1"]
    img = svc.get("app:1")
    assert img is not None and img.config.cmd == ["/bin/hello", "a b"]
    layer = Path(img.layer_dirs[0])
    assert (layer / "bin" / "hello").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (layer / "bin" / "hi").is_symlink()

    code, _, err = corral(addr, "image", "import", str(tmp_path / "nope"), "app:1")
    assert code == 1 and "nope: not a directory" in err


def test_ls_shows_an_unnamed_image_as_docker_does(api: tuple[ImageApi, str]) -> None:
    _, addr = api
    code, out, _ = corral(addr, "image", "ls")
    assert code == 0
    rows = [ln.split() for ln in out.splitlines()]
    assert rows[0] == ["NODE", "IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert rows[1] == ["n1", "<none>", "<none>", "cd" * 6, "2MB"]
    assert rows[2] == ["n1", "docker.io/library/app", "1", "ef" * 6, "1kB"]
    code, out, _ = corral(addr, "image", "ls", "-q")
    assert out.splitlines() == ["cd" * 6, "docker.io/library/app:1"]


def test_tag(api: tuple[ImageApi, str]) -> None:
    fake, addr = api
    code, out, err = corral(addr, "image", "tag", "cdcdcdcdcdcd", "app:2")
    assert (code, err) == (0, "")
    assert fake.requests[-1] == api_pb2.ImageTagRequest(source="cdcdcdcdcdcd", target="app:2")
    assert out == "n1: Tagged cdcdcdcdcdcd as docker.io/library/app:2\n"
    code, out, err = corral(addr, "image", "tag", "nope", "x")
    assert code == 1 and err == "Error from server (NotFound): No such image: nope\n"
