"""Manifests, image indexes and platforms (OCI and Docker v2 schema 2).

`parse(raw, content_type)` gives a Manifest or an Index (schema 1 is
Unsupported); `select_platform(index, platform)` picks the manifest for the
node's platform (os and architecture must match; variant must match when both
sides name one, arm64 with no variant counts as v8; an exact variant wins).
`Platform.host()` is the machine's own (linux/amd64, linux/arm64/v8,
linux/arm/v7 ...).
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from agent.images.digest import check_digest
from agent.images.errors import ImageError, PlatformNotFound, Unsupported

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
LAYER_TYPES = (
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    DOCKER_LAYER,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)
MAX_MANIFEST_SIZE = 4 << 20

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"invalid platform {text!r} (want os/arch[/variant])")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine().lower()
        arch = _ARCH.get(machine, machine)
        variant = {"aarch64": "v8", "arm64": "v8", "armv7l": "v7", "armv6l": "v6"}.get(machine, "")
        return cls("linux", arch, variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any, what: str) -> Descriptor:
        if not isinstance(d, dict):
            raise ImageError(f"{what}: descriptor is not an object")
        digest, size = d.get("digest"), d.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise ImageError(f"{what}: descriptor without a valid digest and size")
        check_digest(digest)
        plat = None
        p = d.get("platform")
        if isinstance(p, dict):
            plat = Platform(str(p.get("os", "")), str(p.get("architecture", "")),
                            str(p.get("variant", "") or ""))
        ann = d.get("annotations") or {}
        return cls(str(d.get("mediaType", "")), digest, size, plat,
                   {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.platform is not None:
            p = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                p["variant"] = self.platform.variant
            out["platform"] = p
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: list[Descriptor]


def parse(raw: bytes, content_type: str | None = None, what: str = "manifest") -> Manifest | Index:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{what}: not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: not a JSON object")
    media = doc.get("mediaType") or (content_type or "").split(";")[0].strip()
    if doc.get("schemaVersion") == 1 or media in DOCKER_SCHEMA1:
        raise Unsupported(f"{what}: Docker image manifest schema 1 is not supported")
    if media not in MANIFEST_TYPES + INDEX_TYPES:
        if "manifests" in doc:
            media = OCI_INDEX
        elif "layers" in doc and "config" in doc:
            media = OCI_MANIFEST
        else:
            raise Unsupported(f"{what}: unsupported media type {media!r}")
    if media in INDEX_TYPES:
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise ImageError(f"{what}: index without a manifests list")
        return Index(media, [Descriptor.from_json(m, what) for m in items])
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"{what}: manifest without a layers list")
    config = Descriptor.from_json(doc.get("config"), what + " config")
    descs = [Descriptor.from_json(layer, what + " layer") for layer in layers]
    for d in descs:
        if d.media_type and d.media_type not in LAYER_TYPES:
            raise Unsupported(
                f"{what}: layer {d.digest} has unsupported media type {d.media_type!r}"
            )
    return Manifest(media, config, descs)


def _matches(want: Platform, have: Platform | None) -> int:
    """0: no; 1: compatible; 2: exact."""
    if have is None or have.os != want.os or have.architecture != want.architecture:
        return 0
    hv = have.variant or ("v8" if have.architecture == "arm64" else "")
    wv = want.variant or ("v8" if want.architecture == "arm64" else "")
    if hv == wv:
        return 2
    return 1 if not hv or not wv else 0


def select_platform(index: Index, want: Platform, what: str = "image") -> Descriptor:
    best: tuple[int, Descriptor] | None = None
    for d in index.manifests:
        score = _matches(want, d.platform)
        if score and (best is None or score > best[0]):
            best = (score, d)
    if best is None:
        have = ", ".join(str(d.platform) for d in index.manifests if d.platform) or "none"
        raise PlatformNotFound(f"{what}: no manifest for platform {want} (available: {have})")
    return best[1]


def manifest_json(config: Descriptor, layers: list[Descriptor]) -> bytes:
    """A canonical OCI image manifest document for config and layers."""
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
           "layers": [d.to_json() for d in layers]}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
