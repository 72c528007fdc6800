"""Disk full while pulling an image: the image store on a small tmpfs, a real
docker-registry on loopback, images bigger than the tmpfs. The pull must fail
with a clear error, leave no temp files and nothing half-made under a digest,
and a smaller image must still pull afterwards."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.images import ImageService
from agent.images.imageconfig import ContainerDefaults
from tests.integration.images.conftest import REGISTRY_BIN, Registry, busybox_rootfs

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY_BIN), reason="no docker-registry")

TMPFS_MIB = 24


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    r = Registry()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def images(registry: Registry) -> Iterator[dict[str, str]]:
    """Three images pushed to the registry: small; one whose layer unpacks to more
    than the tmpfs (zeros: a tiny blob); one whose blob alone is bigger (random)."""
    work = Path(tempfile.mkdtemp(prefix="corral-faults-img-"))
    try:
        builder = ImageService(str(work / "builder"))
        refs = {}
        for name in ("small", "bomb", "random"):
            root = Path(busybox_rootfs(work / f"rootfs-{name}", name))
            if name == "bomb":
                with open(root / "zeros", "wb") as f:
                    chunk = b"\0" * (1 << 20)
                    for _ in range(TMPFS_MIB * 2):
                        f.write(chunk)
            elif name == "random":
                with open(root / "noise", "wb") as f:
                    for _ in range(TMPFS_MIB + 8):
                        f.write(os.urandom(1 << 20))
            ref = f"{registry.host}/faults/{name}:1"
            builder.import_rootfs(str(root), ref, ContainerDefaults(cmd=["/bin/sh"]))
            builder.push(ref)
            refs[name] = ref
        shutil.rmtree(work / "builder", ignore_errors=True)
        yield refs
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def tmpfs() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="corral-faults-tmpfs-"))
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m", "tmpfs", str(d)],
                       check=True, capture_output=True)
        mounted = True
        yield d
    finally:
        if mounted:
            subprocess.run(["umount", str(d)], check=False, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def half_made(root: Path) -> list[str]:
    """Temp files, unpacks in progress and blobs whose content is not their digest."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if p.name.startswith(".tmp") or (rel.parts[:1] == ("tmp",) and p.is_file()):
            out.append(f"temp {rel}")
        if p.parent.name == "sha256" and p.is_file() and len(p.name) == 64:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if h.hexdigest() != p.name:
                out.append(f"blob {rel} does not match its digest")
    return out


@pytest.mark.parametrize("which", ["bomb", "random"])
def test_disk_full_while_pulling_fails_cleanly(tmpfs: Path, images: dict[str, str],
                                               registry: Registry, which: str) -> None:
    node = ImageService(str(tmpfs / "images"))
    with pytest.raises(Exception) as err:
        node.pull(images[which])
    msg = str(err.value)
    assert "space" in msg.lower() or "ENOSPC" in msg, f"not a clear error: {err.value!r}"
    assert getattr(err.value, "reason", "ErrImagePull") == "ErrImagePull"
    assert node.get(images[which]) is None
    assert [i.reference for i in node.list()] == []
    assert node.store.temp_files() == []
    assert half_made(tmpfs) == []
    # the layers dir holds only complete layers: none of the failed image
    layers = tmpfs / "images" / "layers"
    if layers.is_dir():
        assert [p.name for p in layers.iterdir() if (p / "diff" / "zeros").exists()
                or (p / "diff" / "noise").exists()] == []
    # the space is given back: a smaller image pulls, on the same store, and again
    # through a new service on it (as after an agent restart)
    img = node.pull(images["small"])
    assert img.layer_dirs and os.path.exists(os.path.join(img.layer_dirs[-1], "bin", "busybox"))
    again = ImageService(str(tmpfs / "images"))
    assert again.get(images["small"]) is not None
    assert again.store.temp_files() == [] and half_made(tmpfs) == []
