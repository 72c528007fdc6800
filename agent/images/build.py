"""Images made on the node: one new layer from a directory, optionally on top of a base image.

`layer_from_dir(store, dir)` tars the directory (sorted, PAX, owners and modes
as on disk, names relative without "./"), gzips it (mtime 0) and stores the
blob, hashing both streams in one pass: it returns the blob descriptor and the
diffID. The same directory tree gives the same layer, so images built from it
share it. `build_image` writes the config and an OCI manifest and returns the
manifest digest. This is how tests and demos get images offline (a rootfs
with /bin/busybox and its applet links). Extended attributes go along as
difftar.py writes them (security.capability, user.*).
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from typing import IO, Any, BinaryIO, cast

from agent.images.difftar import xattr_headers
from agent.images.digest import HashingWriter
from agent.images.errors import ImageError
from agent.images.imageconfig import IMPORTED, ContainerDefaults, config_json, parse_config
from agent.images.manifest import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    Descriptor,
    Manifest,
    Platform,
    manifest_json,
    parse,
)
from agent.images.store import ContentStore


def _entries(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            out.append(rel)
        for name in sorted(filenames):
            out.append(os.path.normpath(os.path.join(rel, name)))
        # symlinks to directories are listed in dirnames but not walked
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                out.append(os.path.normpath(os.path.join(rel, name)))
                dirnames.remove(name)
    return out


def layer_from_dir(store: ContentStore, root: str) -> tuple[Descriptor, str]:
    """Store a gzipped layer of root's contents; returns (blob descriptor, diffID)."""
    if not os.path.isdir(root):
        raise ImageError(f"cannot import {root!r}: not a directory")
    with store.temp_file(".tar.gz") as (path, f):
        compressed = HashingWriter(f)
        gz = gzip.GzipFile(fileobj=cast(IO[bytes], compressed), mode="wb", mtime=0)
        plain = HashingWriter(cast(BinaryIO, gz))
        with tarfile.open(
            fileobj=cast(IO[bytes], plain), mode="w|", format=tarfile.PAX_FORMAT
        ) as tf:
            for rel in _entries(root):
                ti = tf.gettarinfo(os.path.join(root, rel), arcname=rel)
                ti.uname = ti.gname = ""
                ti.pax_headers = {**ti.pax_headers, **xattr_headers(os.path.join(root, rel))}
                if ti.isreg():
                    with open(os.path.join(root, rel), "rb") as src:
                        tf.addfile(ti, src)
                else:
                    tf.addfile(ti)
        gz.close()
        store.commit_file(path, f, compressed.digest)
        return Descriptor(OCI_LAYER_GZIP, compressed.digest, compressed.size), plain.digest


def _history(raw_config: bytes, layers: int) -> list[dict[str, Any]]:
    """The base's history, with an entry for each layer it does not describe."""
    doc = json.loads(raw_config)
    hist = doc.get("history") if isinstance(doc, dict) else None
    out = [h for h in hist if isinstance(h, dict)] if isinstance(hist, list) else []
    missing = layers - sum(1 for h in out if not h.get("empty_layer"))
    return [{"created": "1970-01-01T00:00:00Z", "created_by": IMPORTED}] * max(missing, 0) + out


def build_image(
    store: ContentStore,
    root: str,
    platform: Platform,
    defaults: ContainerDefaults | None = None,
    base_manifest: str | None = None,
) -> str:
    """Make an image of root (on top of base_manifest if given); returns its manifest digest."""
    layers: list[Descriptor] = []
    diff_ids: list[str] = []
    history: list[dict[str, Any]] = []
    if base_manifest is not None:
        base = parse(store.read_blob(base_manifest), None, f"base image {base_manifest}")
        if not isinstance(base, Manifest):
            raise ImageError(f"base image {base_manifest} is not an image manifest")
        base_cfg = parse_config(store.read_blob(base.config.digest))
        layers, diff_ids = list(base.layers), list(base_cfg.diff_ids)
        history = _history(store.read_blob(base.config.digest), len(diff_ids))
        if defaults is None:
            defaults = base_cfg.defaults
    desc, diff_id = layer_from_dir(store, root)
    layers.append(desc)
    diff_ids.append(diff_id)
    history.append({"created": "1970-01-01T00:00:00Z", "created_by": IMPORTED})
    raw_cfg = config_json(diff_ids, platform.architecture, platform.os, defaults, platform.variant,
                          history=history)
    cfg_digest = store.put_bytes(raw_cfg)
    raw = manifest_json(Descriptor(OCI_CONFIG, cfg_digest, len(raw_cfg)), layers)
    return store.put_bytes(raw)
