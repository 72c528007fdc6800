"""The image service against a real docker-registry on loopback."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading
from typing import Any

import pytest

from agent.images import ImageService
from agent.images.client import RegistryClient
from agent.images.errors import DigestMismatch, NotFound, SizeMismatch, Unauthorized, Unavailable
from agent.images.imageconfig import ContainerDefaults
from agent.images.manifest import OCI_INDEX, OCI_MANIFEST
from agent.images.progress import Progress
from agent.images.reference import parse
from agent.images.registries import RegistriesConfig

from .conftest import busybox_rootfs, free_port

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (whiteouts, chroot)"),
]


def service(path: pathlib.Path, name: str = "node", **kw: Any) -> ImageService:
    return ImageService(str(path / name), **kw)


def seed(tmp_path: pathlib.Path, ref: str, marker: str = "", **kw: Any) -> tuple[ImageService, str]:
    """An image built from busybox-static in a builder service, pushed to ref."""
    builder = service(tmp_path, "builder-" + marker, **kw)
    root = busybox_rootfs(tmp_path / ("rootfs-" + marker), marker)
    builder.import_rootfs(root, ref, ContainerDefaults(cmd=["/bin/sh"], env=["PATH=/bin"]))
    builder.push(ref)
    return builder, ref


def test_push_pull_run(tmp_path, registry):
    ref = f"{registry.host}/corral/busybox:1.0"
    builder = service(tmp_path, "builder")
    builder.import_rootfs(busybox_rootfs(tmp_path / "rootfs"), ref,
                          ContainerDefaults(cmd=["/bin/sh"], env=["PATH=/bin"]))
    pushed: list[Progress] = []
    digest = builder.push(ref, progress=pushed.append)
    assert {p.status for p in pushed if p.layer} == {"Pushing", "Done"}
    again: list[Progress] = []
    assert builder.push(ref, progress=again.append) == digest
    assert {p.status for p in again if p.layer} == {"Already exists"}

    node = service(tmp_path, "node")
    events: list[Progress] = []
    img = node.pull(ref, progress=events.append)
    assert img.reference == ref and img.digest == digest
    assert img.config.cmd == ["/bin/sh"] and len(img.layer_dirs) == 1
    layer = node.store.records()[ref]
    manifest = json.loads(node.store.read_blob(layer["manifest"]))
    layer_digest = manifest["layers"][0]["digest"]
    statuses = [e.status for e in events if e.layer == layer_digest]
    assert statuses[0] == "Downloading" and statuses[-1] == "Done"
    assert {"Verifying", "Extracting"} <= set(statuses)
    assert all(e.total == manifest["layers"][0]["size"] for e in events if e.layer == layer_digest)
    assert events[0].status == "Resolving" and events[-1] == Progress("", "Done")

    run = subprocess.run(["chroot", img.layer_dirs[0], "/bin/busybox", "true"], timeout=30)
    assert run.returncode == 0
    out = subprocess.run(["chroot", img.layer_dirs[0], "/bin/sh", "-c", "echo hello from $0"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "hello from /bin/sh"

    # pulling again: everything is already there
    events.clear()
    node.pull(ref, progress=events.append)
    assert [e.status for e in events if e.layer] == ["Already exists"]
    assert node.ensure(ref, "IfNotPresent").digest == digest
    assert node.store.temp_files() == []


def test_chunked_push(tmp_path, registry):
    ref = f"{registry.host}/corral/chunked:1"
    builder = service(tmp_path, "builder", client=RegistryClient(chunk_size=256 << 10))
    img = builder.import_rootfs(busybox_rootfs(tmp_path / "rootfs"), ref)
    builder.push(ref)
    pulled = service(tmp_path, "node").pull(ref)
    assert pulled.diff_ids == img.diff_ids


def test_index_picks_the_platform(tmp_path, registry):
    repo = f"{registry.host}/corral/multi"
    descs = []
    for plat, arch in (("linux/amd64", "amd64"), ("linux/arm64/v8", "arm64")):
        b, ref = seed(tmp_path, f"{repo}:{arch}", arch, platform=plat)
        rec = b.store.records()[ref]
        raw = b.store.read_blob(rec["manifest"])
        platform = {"os": "linux", "architecture": arch}
        if arch == "arm64":
            platform["variant"] = "v8"
        descs.append({"mediaType": OCI_MANIFEST, "digest": rec["manifest"], "size": len(raw),
                      "platform": platform})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
    index_digest = RegistryClient().put_manifest(parse(f"{repo}:multi"), index, OCI_INDEX)

    for arch, desc in (("arm64", descs[1]), ("amd64", descs[0])):
        node = service(tmp_path, "node-" + arch, platform=f"linux/{arch}")
        img = node.pull(f"{repo}:multi")
        assert img.digest == index_digest and img.manifest_digest == desc["digest"]
        with open(os.path.join(img.layer_dirs[0], "etc/marker")) as f:
            assert f.read() == arch
        assert node.get(f"{repo}@{index_digest}") == img

    from agent.images.errors import PlatformNotFound

    with pytest.raises(PlatformNotFound, match="linux/s390x"):
        service(tmp_path, "node-s390x", platform="linux/s390x").pull(f"{repo}:multi")


def test_unknown_tag_is_not_found(tmp_path, registry):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    node = service(tmp_path, "node")
    with pytest.raises(NotFound) as ei:
        node.pull(f"{registry.host}/corral/busybox:nope")
    msg = str(ei.value)
    assert "corral/busybox:nope" in msg and "manifest unknown" in msg.lower()
    assert ei.value.reason == "ErrImagePull"
    with pytest.raises(NotFound):
        node.pull(f"{registry.host}/corral/never-pushed:1")
    assert node.list() == [] and node.store.list_blobs() == []


def test_registry_down_is_unavailable_after_retries(tmp_path):
    delays: list[float] = []
    client = RegistryClient(retries=3, backoff=0.1, sleep=delays.append)
    node = service(tmp_path, "node", client=client)
    with pytest.raises(Unavailable) as ei:
        node.pull(f"127.0.0.1:{free_port()}/corral/busybox:1")
    assert "after 4 attempts" in str(ei.value) and "Connection" in str(ei.value)
    assert delays == [0.1, 0.2, 0.4]


def test_registry_going_away_after_push(tmp_path, registry):
    ref = f"{registry.host}/corral/busybox:1"
    seed(tmp_path, ref)
    registry.stop()
    node = service(tmp_path, "node", client=RegistryClient(retries=1, sleep=lambda s: None))
    with pytest.raises(Unavailable):
        node.pull(ref)


def test_htpasswd_auth(tmp_path, auth_registry):
    host = auth_registry.host
    ref = f"{host}/corral/busybox:1"
    good = {"registries": {host: {"username": "alice", "password": "s3cret"}}}
    seed(tmp_path, ref, registries_config=good)
    assert service(tmp_path, "ok", registries_config=good).pull(ref).reference == ref

    bad = RegistriesConfig.from_dict({"registries": {host: {"username": "alice",
                                                            "password": "wrong"}}})
    with pytest.raises(Unauthorized) as ei:
        service(tmp_path, "bad", registries_config=bad).pull(ref)
    assert "401" in str(ei.value)
    with pytest.raises(Unauthorized, match="requires credentials"):
        service(tmp_path, "anon").pull(ref)


def test_bearer_token_flow(tmp_path, registry, proxy):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    proxy.token, proxy.token_user = "tok-123", ("bob", "pw")
    ref = f"{proxy.host}/corral/busybox:1"
    creds = {"registries": {proxy.host: {"username": "bob", "password": "pw"}}}
    img = service(tmp_path, "ok", registries_config=creds).pull(ref)
    assert img.reference == ref
    assert "repository:corral/busybox:pull" in proxy.scopes
    assert proxy.counts[("GET", "/token")] == 1  # the token is cached for the scope

    wrong = {"registries": {proxy.host: {"username": "bob", "password": "nope"}}}
    with pytest.raises(Unauthorized, match="bad credentials"):
        service(tmp_path, "bad", registries_config=wrong).pull(ref)


@pytest.mark.parametrize(("corrupt", "extra", "error"),
                         [(True, b"", DigestMismatch), (False, b"trailing", SizeMismatch)])
def test_lying_registry(tmp_path, registry, proxy, corrupt, extra, error):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    proxy.corrupt, proxy.extra = corrupt, extra
    node = service(tmp_path, "node", client=RegistryClient(retries=0))
    with pytest.raises(error):
        node.pull(f"{proxy.host}/corral/busybox:1")
    served = set(proxy.blob_gets())
    assert served and not served & set(node.store.list_blobs())  # no lying blob stored
    assert node.store.temp_files() == []
    assert node.list() == [] and node.layers.list() == []
    assert not [n for n in os.listdir(node.layers.layers_dir) if n.startswith(".tmp")]


def test_concurrent_pulls_fetch_each_blob_once(tmp_path, registry, proxy):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    ref = f"{proxy.host}/corral/busybox:1"
    node = service(tmp_path, "node")
    barrier = threading.Barrier(2)
    results: list[object] = []

    def pull() -> None:
        barrier.wait(30)
        try:
            results.append(node.pull(ref))
        except Exception as e:  # reported below
            results.append(e)

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2 and all(not isinstance(r, Exception) for r in results), results
    gets = proxy.blob_gets()
    assert gets and set(gets.values()) == {1}, gets
    assert len(gets) == 2  # config + the one layer


def test_shared_layers_unpack_once(tmp_path, registry):
    repo = f"{registry.host}/corral"
    builder, base = seed(tmp_path, f"{repo}/base:1")
    top_root = tmp_path / "top"
    (top_root / "etc").mkdir(parents=True)
    (top_root / "etc" / "top").write_text("top")
    builder.import_rootfs(str(top_root), f"{repo}/app:1", base=base)
    builder.push(f"{repo}/app:1")

    node = service(tmp_path, "node")
    first: list[Progress] = []
    app = node.pull(f"{repo}/app:1", progress=first.append)
    assert len({e.layer for e in first if e.status == "Extracting"}) == 2
    base_dir = app.layer_dirs[0]
    inode = os.stat(base_dir).st_ino
    second: list[Progress] = []
    b = node.pull(f"{repo}/base:1", progress=second.append)
    assert b.layer_dirs == [base_dir] and os.stat(base_dir).st_ino == inode
    assert [e.status for e in second if e.layer] == ["Already exists"]
    low = node.overlay_lowerdir(app)
    assert low.option.split(":") == [app.layer_dirs[1], app.layer_dirs[0]]

    removed, _ = node.prune({f"{repo}/app:1"})
    assert removed == [f"{repo}/base:1"] and os.path.isdir(base_dir)


def test_docker_hub_mirror(tmp_path, registry):
    seed(tmp_path, f"{registry.host}/library/busybox:1.36")
    mirrors = {"registries": {"docker.io": {"mirrors": [f"http://{registry.host}"]}}}
    node = service(tmp_path, "node", registries_config=mirrors)
    img = node.pull("busybox:1.36")  # docker.io/library/busybox, served by the mirror
    assert img.reference == "docker.io/library/busybox:1.36"
    assert node.get("busybox:1.36") == img


def test_docker_schema2_manifest(tmp_path, registry):
    from agent.images.manifest import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST

    builder, ref = seed(tmp_path, f"{registry.host}/corral/busybox:oci")
    doc = json.loads(builder.store.read_blob(builder.store.records()[ref]["manifest"]))
    doc["mediaType"] = DOCKER_MANIFEST
    doc["config"]["mediaType"] = DOCKER_CONFIG
    for layer in doc["layers"]:
        layer["mediaType"] = DOCKER_LAYER
    raw = json.dumps(doc).encode()
    docker_ref = f"{registry.host}/corral/busybox:docker"
    digest = RegistryClient().put_manifest(parse(docker_ref), raw, DOCKER_MANIFEST)
    img = service(tmp_path, "node").pull(docker_ref)
    assert img.digest == digest
    assert subprocess.run(["chroot", img.layer_dirs[0], "/bin/true"], timeout=30).returncode == 0


def test_5xx_is_retried_with_backoff(tmp_path, registry, proxy):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    ref = f"{proxy.host}/corral/busybox:1"
    delays: list[float] = []
    proxy.fail_next = 2
    node = service(tmp_path, "node",
                   client=RegistryClient(retries=3, backoff=0.5, sleep=delays.append))
    assert node.pull(ref).reference == ref
    assert delays == [0.5, 1.0]

    proxy.fail_next = 1000
    delays.clear()
    other = service(tmp_path, "other",
                    client=RegistryClient(retries=2, backoff=0.5, sleep=delays.append))
    with pytest.raises(Unavailable) as ei:
        other.pull(ref)
    assert ei.value.status == 503 and "try later" in str(ei.value)
    assert "after 3 attempts" in str(ei.value) and delays == [0.5, 1.0]


def test_interrupted_download_restarts(tmp_path, registry, proxy):
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    ref = f"{proxy.host}/corral/busybox:1"
    proxy.cut_next_blob = 1
    delays: list[float] = []
    node = service(tmp_path, "node", client=RegistryClient(retries=2, sleep=delays.append))
    img = node.pull(ref)
    assert subprocess.run(["chroot", img.layer_dirs[0], "/bin/true"], timeout=30).returncode == 0
    assert sorted(proxy.blob_gets().values()) == [1, 2] and len(delays) == 1
    assert node.store.temp_files() == []
