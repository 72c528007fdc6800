"""Unpacked layers mounted by the kernel's overlayfs: whiteouts, opaque dirs, short links."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from agent.images import Image, ImageService
from tests.unit.images.helpers import Entry, add_bytes, config_for, make_tar, sha

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts, whiteouts)"),
]


def archive(layers: list[bytes], tag: str) -> bytes:
    cfg = config_for([sha(x) for x in layers])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i, layer in enumerate(layers):
            add_bytes(tf, f"l{i}/layer.tar", layer)
        add_bytes(tf, "config.json", cfg)
        add_bytes(tf, "manifest.json", json.dumps([{
            "Config": "config.json", "RepoTags": [tag],
            "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode())
    return buf.getvalue()


@contextlib.contextmanager
def overlay(svc: ImageService, img: Image, work: pathlib.Path) -> Iterator[pathlib.Path]:
    low = svc.overlay_lowerdir(img)
    upper, wd, merged = work / "upper", work / "work", work / "merged"
    for d in (upper, wd, merged):
        d.mkdir(parents=True)
    opts = f"lowerdir={low.option},upperdir={upper},workdir={wd}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                   check=True, cwd=low.cwd, timeout=30)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True, timeout=30)


def test_whiteouts_and_opaque_dirs_in_a_real_overlay(tmp_path):
    base = make_tar([Entry("etc", "dir"), Entry("etc/gone", data=b"x"),
                     Entry("etc/kept", data=b"k"), Entry("cache", "dir"),
                     Entry("cache/old", data=b"o")])
    top = make_tar([Entry("etc/.wh.gone", data=b""), Entry("cache", "dir"),
                    Entry("cache/.wh..wh..opq", data=b""), Entry("cache/new", data=b"n")])
    svc = ImageService(str(tmp_path / "data"))
    [name] = svc.load_archive(io.BytesIO(archive([base, top], "wh:1")))
    img = svc.get(name)
    assert img is not None
    with overlay(svc, img, tmp_path / "c1") as root:
        assert sorted(os.listdir(root / "etc")) == ["kept"]
        assert sorted(os.listdir(root / "cache")) == ["new"]


def test_many_layers_mount_through_short_links(tmp_path):
    svc = ImageService(str(tmp_path / ("data-" + "x" * 180)))
    layers = [make_tar([Entry(f"f{i}", data=str(i).encode())]) for i in range(40)]
    [name] = svc.load_archive(io.BytesIO(archive(layers, "many:1")))
    img = svc.get(name)
    assert img is not None
    assert len(":".join(img.layer_dirs)) > 4096  # absolute paths would not fit
    assert svc.overlay_lowerdir(img).cwd is not None
    with overlay(svc, img, tmp_path / "c") as root:
        assert sorted(os.listdir(root)) == sorted(f"f{i}" for i in range(40))
        assert (root / "f39").read_text() == "39"
