"""Images without a registry: load `docker save` and OCI image-layout tars, save OCI layouts.

Loading (`load_archive`) accepts a path or a binary file object (a stream
that cannot seek is spooled to the store's tmp dir first) and either format,
plain or gzip-compressed:

- docker save (manifest.json [+ repositories], legacy <id>/layer.tar layers
  or Docker 25+ blobs/sha256/<hex> layers): the config is stored as is, each
  layer tar is stored as a blob (media type by its magic bytes) and a new OCI
  manifest is written for it; names come from RepoTags.
- OCI image layout (oci-layout, index.json, blobs/sha256/...): every
  manifest in index.json (an index is resolved to the node's platform) is
  copied with its config and layers, each blob verified against its digest
  and size; names come from the io.containerd.image.name annotation, or
  org.opencontainers.image.ref.name when it is a full reference (a bare tag
  names nothing; such images are loaded by digest only).

Layers are not unpacked here (the ImageService does it, checking diffIDs).
Saving (`save_oci`) writes an OCI layout that also carries a docker-style
manifest.json, so both `docker load` and `load_archive` accept it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from agent.images.digest import check_digest, verify_bytes
from agent.images.errors import ImageError, InvalidArchive
from agent.images.imageconfig import parse_config
from agent.images.manifest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    Descriptor,
    Index,
    Manifest,
    Platform,
    manifest_json,
    parse,
    select_platform,
)
from agent.images.reference import parse as parse_ref
from agent.images.store import ContentStore

MAX_JSON = 4 << 20


@dataclass(frozen=True)
class Loaded:
    names: list[str]  # normalised references; empty when the archive names none
    digest: str  # the top-level digest (an index when one was resolved)
    manifest: str  # the platform manifest digest


class _Archive:
    def __init__(self, tf: tarfile.TarFile, label: str) -> None:
        self.tf = tf
        self.label = label
        self.members: dict[str, tarfile.TarInfo] = {}
        for m in tf.getmembers():
            self.members[_norm(m.name)] = m

    def has(self, name: str) -> bool:
        return name in self.members

    def member(self, name: str) -> tarfile.TarInfo:
        """The member for name, following symlinks/hardlinks inside the archive."""
        path = _norm(name)
        for _ in range(16):
            m = self.members.get(path)
            if m is None:
                raise InvalidArchive(f"archive {self.label}: missing {name!r}")
            if m.issym():
                path = _norm(os.path.join(os.path.dirname(path), m.linkname))
            elif m.islnk():
                path = _norm(m.linkname)
            else:
                return m
        raise InvalidArchive(f"archive {self.label}: too many links resolving {name!r}")

    def open(self, name: str) -> IO[bytes]:
        m = self.member(name)
        f = self.tf.extractfile(m)
        if f is None:
            raise InvalidArchive(f"archive {self.label}: {name!r} is not a file")
        return f

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise InvalidArchive(f"archive {self.label}: {name!r} is too large for metadata")
        return data

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise InvalidArchive(f"archive {self.label}: {name!r} is not valid JSON: {e}") from e

    def size(self, name: str) -> int:
        return self.member(name).size


def _norm(name: str) -> str:
    name = os.path.normpath("/" + name).lstrip("/")
    return "" if name == "." else name


def load_archive(store: ContentStore, src: str | BinaryIO, platform: Platform,
                 label: str = "") -> list[Loaded]:
    """The images of a docker-save or OCI-layout tar; `label` names it in errors."""
    label = label or (src if isinstance(src, str) else getattr(src, "name", "<stream>"))
    with contextlib.ExitStack() as stack:
        if isinstance(src, str):
            fobj: BinaryIO = stack.enter_context(open(src, "rb"))
        elif _seekable(src):
            fobj = src
        else:
            _path, tmp = stack.enter_context(store.temp_file(".tar"))
            shutil.copyfileobj(src, tmp, 1 << 20)
            tmp.seek(0)
            fobj = tmp
        try:
            tf = stack.enter_context(tarfile.open(fileobj=fobj, mode="r:*"))
            ar = _Archive(tf, str(label))
        except (tarfile.TarError, EOFError, OSError) as e:
            why = str(e).splitlines()[-1].strip().removeprefix("- method tar: ")
            why = why.partition("('")[2].rpartition("')")[0] or why    # ReadError('x') -> x
            raise InvalidArchive(f"archive {label}: not a tar file ({why}); expected a "
                                 "`docker save` or an OCI image layout archive") from e
        try:
            if ar.has("index.json") and (ar.has("oci-layout") or not ar.has("manifest.json")):
                return _load_oci(store, ar, platform)
            if ar.has("manifest.json"):
                return _load_docker(store, ar)
        except (tarfile.TarError, EOFError) as e:
            raise InvalidArchive(f"archive {label}: {e}") from e
        raise InvalidArchive(
            f"archive {label}: neither a docker save (manifest.json) nor an OCI layout (index.json)"
        )


def _seekable(f: BinaryIO) -> bool:
    try:
        return f.seekable()
    except (AttributeError, ValueError):
        return False


def _layer_type(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return OCI_LAYER_GZIP
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER_ZSTD
    return OCI_LAYER


def _blob_name(path: str) -> str | None:
    parts = _norm(path).split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
        return "sha256:" + parts[2]
    return None


def _load_docker(store: ContentStore, ar: _Archive) -> list[Loaded]:
    doc = ar.json("manifest.json")
    if not isinstance(doc, list) or not doc:
        raise InvalidArchive(f"archive {ar.label}: manifest.json is not a non-empty list")
    out: list[Loaded] = []
    for i, entry in enumerate(doc):
        where = f"archive {ar.label}: manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or \
                not isinstance(entry.get("Layers"), list):
            raise InvalidArchive(f"{where}: needs Config and Layers")
        raw_cfg = ar.read(entry["Config"])
        expected = _blob_name(entry["Config"])
        cfg_digest = store.put_bytes(raw_cfg, expected, f"{where} config")
        try:
            cfg = parse_config(raw_cfg, f"{where} config")
        except ImageError as e:
            raise InvalidArchive(str(e)) from e
        if len(cfg.diff_ids) != len(entry["Layers"]):
            raise InvalidArchive(f"{where}: {len(entry['Layers'])} layers but the config "
                                 f"lists {len(cfg.diff_ids)} diff_ids")
        layers = []
        for lp in entry["Layers"]:
            with ar.open(lp) as f:
                head = f.read(4)
                f.seek(0)
                digest, size = store.write_blob(f, _blob_name(lp), ar.size(lp), f"{where} {lp}")
            layers.append(Descriptor(_layer_type(head), digest, size))
        raw = manifest_json(Descriptor(OCI_CONFIG, cfg_digest, len(raw_cfg)), layers)
        mdigest = store.put_bytes(raw)
        names = []
        for tag in entry.get("RepoTags") or []:
            try:
                names.append(str(parse_ref(str(tag))))
            except ImageError as e:
                raise InvalidArchive(f"{where}: {e}") from e
        out.append(Loaded(names, mdigest, mdigest))
    return out


def _copy_blob(store: ContentStore, ar: _Archive, d: Descriptor, what: str) -> None:
    name = "blobs/sha256/" + check_digest(d.digest)
    if store.has_blob(d.digest, d.size):
        return
    with ar.open(name) as f:
        store.write_blob(f, d.digest, d.size, f"archive {ar.label}: {what} {d.digest}")


def _load_oci(store: ContentStore, ar: _Archive, platform: Platform) -> list[Loaded]:
    if ar.has("oci-layout"):
        layout = ar.json("oci-layout")
        if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
            raise InvalidArchive(f"archive {ar.label}: unsupported oci-layout {layout!r}")
    raw_index = ar.read("index.json")
    try:
        index = parse(raw_index, OCI_INDEX, f"archive {ar.label}: index.json")
    except ImageError as e:
        raise InvalidArchive(str(e)) from e
    if not isinstance(index, Index):
        raise InvalidArchive(f"archive {ar.label}: index.json is not an image index")
    out: list[Loaded] = []
    for top in index.manifests:
        what = f"archive {ar.label}: {top.digest}"
        _copy_blob(store, ar, top, "manifest")
        raw = store.read_blob(top.digest)
        m = parse(raw, top.media_type, what)
        mdesc = top
        if isinstance(m, Index):
            mdesc = select_platform(m, platform, what)
            _copy_blob(store, ar, mdesc, "manifest")
            m = parse(store.read_blob(mdesc.digest), mdesc.media_type, what)
        if not isinstance(m, Manifest):
            raise InvalidArchive(f"{what}: nested image indexes are not supported")
        _copy_blob(store, ar, m.config, "config")
        for layer in m.layers:
            _copy_blob(store, ar, layer, "layer")
        names = []
        for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
            value = top.annotations.get(key, "")
            if value and ("/" in value or ":" in value or "@" in value):
                with contextlib.suppress(ImageError):
                    names.append(str(parse_ref(value)))
                    break
        out.append(Loaded(names, top.digest, mdesc.digest))
    return out


def save_oci(store: ContentStore, images: list[tuple[str, str]], out: BinaryIO) -> None:
    """Write an OCI layout tar of images [(reference, manifest digest)] to out."""
    written: set[str] = set()
    index: list[dict[str, Any]] = []
    docker: list[dict[str, Any]] = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:

        def add_bytes(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
            tf.addfile(ti, io.BytesIO(data))

        def add_blob(digest: str) -> str:
            name = "blobs/sha256/" + check_digest(digest)
            if digest not in written:
                written.add(digest)
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.mtime = store.blob_size(digest), 0o644, int(time.time())
                with store.open_blob(digest) as f:
                    tf.addfile(ti, f)
            return name

        add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for ref, mdigest in images:
            raw = store.read_blob(mdigest)
            verify_bytes(raw, mdigest, None, f"image {ref}")
            m = parse(raw, None, f"image {ref}")
            if not isinstance(m, Manifest):
                raise ImageError(f"image {ref}: {mdigest} is not an image manifest")
            add_blob(mdigest)
            cfg = add_blob(m.config.digest)
            layers = [add_blob(d.digest) for d in m.layers]
            desc = Descriptor(m.media_type, mdigest, len(raw), None, {
                "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref})
            index.append(desc.to_json())
            docker.append({"Config": cfg, "RepoTags": [ref], "Layers": layers})
        add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                            "manifests": index}).encode())
        add_bytes("manifest.json", json.dumps(docker).encode())

