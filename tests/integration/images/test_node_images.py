"""The control plane's image calls end to end: the real control plane (mutual TLS), the
real agent (a subprocess in its own network namespace) and real docker-registry processes.

Pull with per-layer progress tagged with the node, load an archive, push to a registry,
prune, tag; unknown node, unknown image, a registry that refuses, a bad archive; a node's
own certificate may not manage images.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tarfile
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.images import ImageService
from agent.images.imageconfig import ContainerDefaults
from corral import credentials as cli_credentials
from corral.client import Credentials
from proto import api_pb2, api_pb2_grpc
from tests.integration.agent.conftest import SKIP, AgentProcess, Netns, wait_for

from .conftest import Registry, busybox_rootfs

pytestmark = [pytest.mark.root, pytest.mark.slow]


@dataclass
class Lab:
    api: Any                  # ApiStub with the admin's credentials
    node: str
    registry: Registry        # open, on the host end of the agent's veth
    locked: Registry          # htpasswd: refuses anonymous pushes and pulls
    image: str                # in `registry`, pushed by the test
    archive: bytes            # an OCI layout archive of another image
    archive_name: str
    agent: AgentProcess
    cp: Any
    data: Path

    def pull(self, image: str, node: str = "") -> list[api_pb2.NodePullProgress]:
        return list(self.api.PullImage(api_pb2.ImagePullRequest(image=image, node=node),
                                       timeout=120))

    def images(self) -> set[str]:
        resp = self.api.NodeImages(api_pb2.NodeImagesRequest(node=self.node), timeout=30)
        return {n for img in resp.nodes[0].images for n in img.names}


def code_of(fn: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code(), e.value.details()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    if SKIP:
        pytest.skip(SKIP)
    from agent.runtime.cgroups import CgroupManager
    from agent.runtime.mountinfo import unmount_under
    from tests.support.controlplane import ControlPlaneProcess
    from tests.support.etcd import EtcdProcess

    ns = Netns()
    tmp = Path(tempfile.mkdtemp(prefix="corral-node-images-"))
    tag = uuid.uuid4().hex[:6]
    node, cgroup_root = f"img-{tag}", f"corral-img-{tag}"

    class CP(ControlPlaneProcess):
        @property
        def address(self) -> str:
            return f"{ns.host_ip}:{self.port}"

    ns.create()
    try:
        with contextlib.ExitStack() as stack:
            reg = Registry(addr=ns.host_ip)
            stack.callback(reg.stop)
            locked = Registry(htpasswd={"alice": "s3cret"}, addr=ns.host_ip)
            stack.callback(locked.stop)
            # the images: one pushed to the registry, one saved as an archive
            builder = ImageService(str(tmp / "builder"), registries_config={"registries": {
                reg.host: {"insecure": True}}})
            image = f"{reg.host}/corral/busybox:it"
            builder.import_rootfs(busybox_rootfs(tmp / "root1", "one"), image,
                                  ContainerDefaults(cmd=["/bin/sh"]))
            builder.push(image)
            archive_name = "corral.test/loaded:v1"
            builder.import_rootfs(busybox_rootfs(tmp / "root2", "two"), archive_name)
            buf = io.BytesIO()
            builder.save([archive_name], buf)

            etcd = stack.enter_context(EtcdProcess())
            cp = CP(etcd.endpoint, tls=True)
            stack.callback(cp.close)
            cp.start()
            agent = AgentProcess(ns, cp.address, node, tmp / "data", cgroup_root,
                                 ["--token", cp.token, "--ca-cert-hash", cp.ca_hash,
                                  "--bootstrap-server", cp.bootstrap_address,
                                  "--insecure-registry", reg.host,
                                  "--insecure-registry", locked.host])
            stack.callback(agent.kill9)
            agent.start()
            api = api_pb2_grpc.ApiStub(stack.enter_context(cp.channel()))

            def answers() -> bool:
                agent.check_alive()
                with contextlib.suppress(grpc.RpcError):
                    api.NodeImages(api_pb2.NodeImagesRequest(node=node), timeout=5)
                    return True
                return False

            wait_for(answers, 60, "the agent to register and answer", agent.log)
            yield Lab(api, node, reg, locked, image, buf.getvalue(), archive_name, agent, cp,
                      tmp / "data")
    finally:
        with contextlib.suppress(Exception):
            CgroupManager(cgroup_root).driver.remove(cgroup_root)
        ns.delete()
        unmount_under(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    left = [p for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_root}") if p.is_dir()]
    assert not left, f"cgroups left behind: {left}"


def test_pull_shows_per_layer_progress_tagged_with_the_node(lab: Lab) -> None:
    lines = lab.pull(lab.image, node=lab.node)
    assert lines and all(ln.node == lab.node for ln in lines)
    layers = {ln.progress.layer for ln in lines if ln.progress.layer}
    assert len(layers) == 1                            # busybox_rootfs: a single layer
    statuses = [ln.progress.status for ln in lines if ln.progress.layer]
    assert "Downloading" in statuses and statuses[-1] == "Done"
    last = [ln.progress for ln in lines if ln.progress.layer][-1]
    assert last.current == last.total > 0
    assert (lines[-1].progress.layer, lines[-1].progress.status) == ("", "Done")
    assert lab.image in lab.images()
    # every node (the one there is): again, the layer is there already
    again = lab.pull(lab.image)
    assert "Already exists" in {ln.progress.status for ln in again}


def test_pull_errors_carry_the_right_status(lab: Lab) -> None:
    code, msg = code_of(lambda: lab.pull(lab.image, node="no-such-node"))
    assert code == grpc.StatusCode.NOT_FOUND and "no-such-node" in msg
    code, msg = code_of(lambda: lab.pull(f"{lab.registry.host}/corral/busybox:missing"))
    assert code == grpc.StatusCode.NOT_FOUND and lab.node in msg and "missing" in msg
    code, msg = code_of(lambda: lab.pull(f"{lab.locked.host}/corral/busybox:it"))
    assert code == grpc.StatusCode.PERMISSION_DENIED and lab.node in msg
    code, msg = code_of(lambda: lab.pull("Not A Reference"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def load(lab: Lab, data: bytes, node: str = "") -> api_pb2.ImageLoadResponse:
    def chunks() -> Iterator[api_pb2.ImageLoadChunk]:
        yield api_pb2.ImageLoadChunk(node=node)
        for i in range(0, len(data), 64 << 10):
            yield api_pb2.ImageLoadChunk(data=data[i:i + (64 << 10)])
    resp: api_pb2.ImageLoadResponse = lab.api.LoadImage(chunks(), timeout=120)
    return resp


def test_load_push_and_prune(lab: Lab) -> None:
    resp = load(lab, lab.archive)
    assert [(r.node, list(r.names), r.error) for r in resp.nodes] == [
        (lab.node, ["corral.test/loaded:v1"], "")]
    assert "corral.test/loaded:v1" in lab.images()

    code, msg = code_of(lambda: load(lab, b"this is not a tar" * 100, node=lab.node))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and lab.node in msg

    # push what was loaded to the registry, under a name there; read it back over HTTP
    target = f"{lab.registry.host}/team/loaded:v1"
    lines = list(lab.api.PushImage(api_pb2.ImagePushRequest(
        image="corral.test/loaded:v1", target=target), timeout=120))
    assert {ln.node for ln in lines} == {lab.node}
    assert (lines[-1].progress.layer, lines[-1].progress.status) == ("", "Done")
    req = urllib.request.Request(
        f"http://{lab.registry.host}/v2/team/loaded/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert len(json.loads(r.read())["layers"]) == 1
    code, msg = code_of(lambda: list(lab.api.PushImage(api_pb2.ImagePushRequest(
        image="corral.test/loaded:v1", node=lab.node,
        target=f"{lab.locked.host}/team/loaded:v1"), timeout=120)))
    assert code == grpc.StatusCode.PERMISSION_DENIED

    # no pod uses either image: prune frees both
    before = lab.images()
    resp2 = lab.api.PruneImages(api_pb2.ImagePruneRequest(node=lab.node), timeout=120)
    (r,) = resp2.nodes
    assert r.node == lab.node and not r.error and r.bytes_freed > 0
    assert "corral.test/loaded:v1" in r.removed
    assert not (before & lab.images()) and lab.images() == set()


def bare_tag(archive: bytes, tag: str) -> bytes:
    """The OCI layout archive with its ref name only a tag (as umoci writes it)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as src, \
            tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
            if m.name == "index.json":
                index = json.loads(data)
                for d in index["manifests"]:
                    d["annotations"] = {"org.opencontainers.image.ref.name": tag}
                data = json.dumps(index).encode()
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if m.isfile() else None)
    return out.getvalue()


def test_tag_names_an_image_loaded_without_a_name(lab: Lab) -> None:
    resp = load(lab, bare_tag(lab.archive, "v1"))
    ((digest,),) = [list(r.names) for r in resp.nodes]
    assert digest.startswith("sha256:")              # a bare tag names nothing
    tagged = lab.api.TagImage(api_pb2.ImageTagRequest(source=digest, target="loaded:v1"),
                              timeout=30)
    assert [(r.node, r.name, r.error) for r in tagged.nodes] == [
        (lab.node, "docker.io/library/loaded:v1", "")]
    assert {digest, "docker.io/library/loaded:v1"} <= lab.images()
    code, msg = code_of(lambda: lab.api.TagImage(api_pb2.ImageTagRequest(
        source="nothing:here", target="x:1"), timeout=30))
    assert code == grpc.StatusCode.NOT_FOUND and "No such image: nothing:here" in msg
    code, msg = code_of(lambda: lab.api.TagImage(api_pb2.ImageTagRequest(
        source=digest, target="x@" + digest), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "digest reference" in msg
    lab.api.PruneImages(api_pb2.ImagePruneRequest(node=lab.node), timeout=120)


def test_a_node_may_not_manage_images(lab: Lab) -> None:
    pki = lab.data / "pki"
    creds = Credentials(ca_cert=(pki / "ca.crt").read_bytes(),
                        client_cert=(pki / "node.crt").read_bytes(),
                        client_key=(pki / "node.key").read_bytes())
    with cli_credentials.secure_channel(lab.cp.address, creds) as ch:
        api: Any = api_pb2_grpc.ApiStub(ch)
        code, msg = code_of(lambda: api.PruneImages(
            api_pb2.ImagePruneRequest(node=lab.node), timeout=30))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "manage the images" in msg
        code, _ = code_of(lambda: list(api.PullImage(
            api_pb2.ImagePullRequest(image=lab.image, node=lab.node), timeout=30)))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        code, _ = code_of(lambda: api.TagImage(api_pb2.ImageTagRequest(
            source=lab.image, target="x:1", node=lab.node), timeout=30))
        assert code == grpc.StatusCode.PERMISSION_DENIED
