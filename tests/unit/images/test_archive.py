import io
import json
import os
import tarfile
from typing import BinaryIO, cast

import pytest
import zstandard as zstd

from agent.images import ImageService
from agent.images.errors import DigestMismatch, InvalidArchive

from .helpers import Entry, add_bytes, config_for, gz, make_tar, sha


def two_layers():
    l1 = make_tar([Entry("bin", "dir"), Entry("bin/base", data=b"base")])
    l2 = make_tar([Entry("bin/top", data=b"top"), Entry("bin/.wh.base", data=b"")])
    return l1, l2


def docker_save(l1: bytes, l2: bytes) -> bytes:
    cfg = config_for([sha(l1), sha(l2)], cmd=["/bin/top"])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        add_bytes(tf, "aaa/layer.tar", l1)
        add_bytes(tf, "bbb/layer.tar", l2)
        add_bytes(tf, sha(cfg)[7:] + ".json", cfg)
        add_bytes(tf, "manifest.json", json.dumps([{
            "Config": sha(cfg)[7:] + ".json", "RepoTags": ["demo:1", "example.com/x/demo:2"],
            "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode())
        add_bytes(tf, "repositories", json.dumps({"demo": {"1": "bbb"}}).encode())
    return buf.getvalue()


def oci_layout(l1: bytes, l2: bytes, name: str, corrupt: bool = False,
               compress=gz, media_type="application/vnd.oci.image.layer.v1.tar+gzip") -> bytes:
    b1, b2 = compress(l1), compress(l2)
    cfg = config_for([sha(l1), sha(l2)])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(cfg), "size": len(cfg)},
        "layers": [{"mediaType": media_type,
                    "digest": sha(b), "size": len(b)} for b in (b1, b2)],
    }).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": name}}]})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        add_bytes(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add_bytes(tf, "index.json", index.encode())
        for blob in (cfg, manifest, b1, b2):
            add_bytes(tf, "blobs/sha256/" + sha(blob)[7:], b"X" + blob[1:] if corrupt and
                      blob is b2 else blob)
    return buf.getvalue()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts need root")


@needs_root
def test_docker_save(tmp_path):
    svc = ImageService(str(tmp_path), platform="linux/amd64")
    l1, l2 = two_layers()
    names = svc.load_archive(io.BytesIO(docker_save(l1, l2)))
    assert names == ["docker.io/library/demo:1", "example.com/x/demo:2"]
    img = svc.get("demo:1")
    assert img is not None and img.config.cmd == ["/bin/top"]
    assert img.diff_ids == [sha(l1), sha(l2)]
    with open(os.path.join(img.layer_dirs[0], "bin/base"), "rb") as f:
        assert f.read() == b"base"
    assert os.path.exists(os.path.join(img.layer_dirs[1], "bin/base"))  # the whiteout
    other = svc.get("example.com/x/demo:2")
    assert other is not None and other.layer_dirs == img.layer_dirs


@needs_root
def test_oci_layout_from_path_and_round_trip(tmp_path):
    svc = ImageService(str(tmp_path / "a"), platform="linux/amd64")
    l1, l2 = two_layers()
    path = tmp_path / "img.tar"
    path.write_bytes(oci_layout(l1, l2, "localhost:5000/demo:v1"))
    assert svc.load_archive(str(path)) == ["localhost:5000/demo:v1"]
    img = svc.get("localhost:5000/demo:v1")
    assert img is not None and img.config.exposed_ports == ["80/tcp"]
    out = io.BytesIO()
    svc.save(["localhost:5000/demo:v1"], out)
    other = ImageService(str(tmp_path / "b"), platform="linux/amd64")
    assert other.load_archive(io.BytesIO(out.getvalue())) == ["localhost:5000/demo:v1"]
    again = other.get("localhost:5000/demo:v1")
    assert again is not None and again.digest == img.digest


def test_oci_layout_corrupt_blob(tmp_path):
    svc = ImageService(str(tmp_path), platform="linux/amd64")
    l1, l2 = two_layers()
    with pytest.raises(DigestMismatch):
        svc.load_archive(io.BytesIO(oci_layout(l1, l2, "x:1", corrupt=True)))
    assert svc.list() == [] and svc.store.temp_files() == []


def test_not_an_archive(tmp_path):
    svc = ImageService(str(tmp_path))
    with pytest.raises(InvalidArchive):
        svc.load_archive(io.BytesIO(b"not a tar at all" * 100))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        add_bytes(tf, "hello", b"x")
    with pytest.raises(InvalidArchive, match="neither a docker save"):
        svc.load_archive(io.BytesIO(buf.getvalue()))


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self._b.read(len(b))
        b[: len(data)] = data
        return len(data)


@needs_root
def test_stream_is_spooled(tmp_path):
    svc = ImageService(str(tmp_path), platform="linux/amd64")
    l1, l2 = two_layers()
    stream = cast(BinaryIO, io.BufferedReader(Unseekable(docker_save(l1, l2))))
    assert svc.load_archive(stream)[0] == "docker.io/library/demo:1"
    assert svc.store.temp_files() == []


def test_docker_save_with_symlinked_layer(tmp_path):
    l1 = make_tar([Entry("same", data=b"s")])
    cfg = config_for([sha(l1), sha(l1)])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        add_bytes(tf, "aaa/layer.tar", l1)
        link = tarfile.TarInfo("bbb/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tf.addfile(link)
        add_bytes(tf, "c.json", cfg)
        add_bytes(tf, "manifest.json", json.dumps([{
            "Config": "c.json", "RepoTags": ["dup:1"],
            "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode())
    svc = ImageService(str(tmp_path), platform="linux/amd64")
    assert svc.load_archive(io.BytesIO(buf.getvalue())) == ["docker.io/library/dup:1"]
    img = svc.get("dup:1")
    assert img is not None and img.layer_dirs[0] == img.layer_dirs[1]


def test_oci_layout_with_zstd_layers(tmp_path):
    svc = ImageService(str(tmp_path), platform="linux/amd64")
    l1 = make_tar([Entry("bin", "dir"), Entry("bin/base", data=b"base")])
    l2 = make_tar([Entry("etc", "dir"), Entry("etc/motd", data=b"zstd layer" * 100)])
    data = oci_layout(l1, l2, "localhost:5000/zst:v1", compress=zstd.ZstdCompressor().compress,
                      media_type="application/vnd.oci.image.layer.v1.tar+zstd")
    assert svc.load_archive(io.BytesIO(data)) == ["localhost:5000/zst:v1"]
    img = svc.get("localhost:5000/zst:v1")
    assert img is not None and img.diff_ids == [sha(l1), sha(l2)]
    with open(os.path.join(img.layer_dirs[1], "etc/motd"), "rb") as f:
        assert f.read() == b"zstd layer" * 100
