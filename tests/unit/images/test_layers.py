import contextlib
import io
import os
import pathlib

import pytest

from agent.images import ImageService
from agent.images.errors import DigestMismatch, UnsafeLayer
from agent.images.layers import LayerStore
from agent.images.store import ContentStore

from .helpers import Entry, gz, make_tar, sha


def test_diff_id_mismatch_leaves_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    layers = LayerStore(str(tmp_path), store.lock)
    tar = make_tar([Entry("a", data=b"a")])
    wrong = sha(b"something else")
    with pytest.raises(DigestMismatch, match="diffID"):
        layers.ensure(wrong, lambda: io.BytesIO(gz(tar)))
    assert os.listdir(layers.layers_dir) == [] and not layers.has(wrong)
    assert layers.ensure(sha(tar), lambda: io.BytesIO(gz(tar)))
    assert not layers.ensure(sha(tar), lambda: io.BytesIO(gz(tar)))  # once
    assert (pathlib.Path(layers.path(sha(tar))) / "a").read_bytes() == b"a"


def test_unsafe_layer_leaves_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    layers = LayerStore(str(tmp_path), store.lock)
    tar = make_tar([Entry("ok", data=b"x"), Entry("../evil", data=b"x")])
    with pytest.raises(UnsafeLayer):
        layers.ensure(sha(tar), lambda: io.BytesIO(tar))
    assert os.listdir(layers.layers_dir) == []


def test_interrupted_unpack_is_cleaned_at_start(tmp_path):
    store = ContentStore(str(tmp_path))
    layers = LayerStore(str(tmp_path), store.lock)
    os.makedirs(os.path.join(layers.layers_dir, ".tmp-crashed", "diff", "x"))
    LayerStore(str(tmp_path), store.lock)
    assert os.listdir(layers.layers_dir) == []


def test_auto_prune_above_threshold(tmp_path):
    in_use: set[str] = set()
    svc = ImageService(str(tmp_path / "data"), gc_high_percent=0.0, gc_low_percent=0.0,
                       in_use=lambda: in_use)
    dirs = []
    for i in range(3):
        d = tmp_path / f"r{i}"
        d.mkdir()
        (d / "f").write_text(str(i))
        dirs.append(str(d))
    a = svc.import_rootfs(dirs[0], "a:1")
    in_use.add(a.layer_dirs[0])  # a container runs a
    svc.import_rootfs(dirs[1], "b:1")
    svc.import_rootfs(dirs[2], "c:1")  # the disk is "full": b goes, a is used, c was just made
    assert {i.reference for i in svc.list()} == {"docker.io/library/a:1",
                                                 "docker.io/library/c:1"}


def test_a_layer_of_a_directory_carries_its_xattrs(tmp_path):
    """difftar writes the xattrs a layer keeps (user.*, security.capability) as PAX
    SCHILY.xattr records, binary values intact; overlayfs' trusted.* stay behind."""
    import tarfile

    from agent.images.difftar import layer_of_upper
    store = ContentStore(str(tmp_path / "store"))
    layers = LayerStore(str(tmp_path / "store"), store.lock)
    root = tmp_path / "upper"
    (root / "d").mkdir(parents=True)
    f = root / "d" / "f"
    f.write_bytes(b"x")
    try:
        os.setxattr(f, "user.bin", b"\x01\xff\x00\x80")
        os.setxattr(root / "d", "user.dir", b"yes")
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    with contextlib.suppress(PermissionError):       # trusted.* needs root
        os.setxattr(f, "trusted.overlay.origin", b"forged")
    desc, diff_id = layer_of_upper(store, str(root))
    with tarfile.open(fileobj=store.open_blob(desc.digest), mode="r:gz") as tf:
        pax = {m.name: m.pax_headers for m in tf}
    assert "SCHILY.xattr.user.bin" in pax["d/f"] and "SCHILY.xattr.user.dir" in pax["d"]
    assert not any("trusted" in k for h in pax.values() for k in h)
    layers.ensure(diff_id, lambda: store.open_blob(desc.digest))
    out = pathlib.Path(layers.path(diff_id))
    assert os.getxattr(out / "d" / "f", "user.bin") == b"\x01\xff\x00\x80"
    assert os.getxattr(out / "d", "user.dir") == b"yes"
