"""What a build needs from the image store: base images, new layers, the finished image.

A `BuildSession` belongs to one build. Everything it hands out (a base image's
blobs and layers, each new layer) is pinned in the service's `pins` until
`close()`, so neither `prune` nor the automatic GC removes a layer that a
running build has made but not yet named. Layers go through the same store
as pulled ones: a layer built from a directory is stored as a gzipped blob by
its digest and unpacked once under its diffID, so a build that makes a layer
some pulled image already has shares it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.images.difftar import layer_of_upper
from agent.images.errors import ImageError
from agent.images.manifest import OCI_CONFIG, Descriptor, Manifest, manifest_json, parse
from agent.images.reference import parse as parse_reference
from agent.images.service import ImageService


@dataclass(frozen=True)
class StoredLayer:
    diff_id: str
    digest: str               # the blob's
    size: int                 # the blob's
    media_type: str
    dir: str                  # unpacked, on this node


@dataclass(frozen=True)
class BaseParts:
    reference: str
    id: str
    layers: list[StoredLayer]
    config: dict[str, Any]    # the whole image config document


class BuildSession:
    def __init__(self, svc: ImageService) -> None:
        self.svc = svc
        self._held: list[str] = []

    def _pin(self, keys: list[str]) -> None:
        self.svc.pins.pin(keys)
        self._held.extend(keys)

    def close(self) -> None:
        self.svc.pins.unpin(self._held)
        self._held = []

    def base(self, ref: str) -> BaseParts:
        """The image from the node's store, pulled if it is not there."""
        img = self.svc.ensure(ref, "IfNotPresent")
        self._pin([img.manifest_digest, img.id, *img.diff_ids])
        m = parse(self.svc.store.read_blob(img.manifest_digest), None, f"image {ref}")
        if not isinstance(m, Manifest):
            raise ImageError(f"image {ref}: stored manifest is not an image manifest")
        self._pin([d.digest for d in m.layers])
        doc = json.loads(self.svc.store.read_blob(m.config.digest))
        layers = [StoredLayer(diff, d.digest, d.size, d.media_type, self.svc.layers.path(diff))
                  for d, diff in zip(m.layers, img.diff_ids, strict=True)]
        return BaseParts(img.reference, img.id, layers, doc if isinstance(doc, dict) else {})

    def layer_of_dir(self, root: str) -> StoredLayer:
        """A new layer of root's tree (overlayfs upper form), stored and unpacked."""
        with self.svc._gc.shared():
            desc, diff_id = layer_of_upper(self.svc.store, root)
            self._pin([desc.digest, diff_id])
        self.svc.layers.ensure(diff_id, lambda: self.svc.store.open_blob(desc.digest),
                               f"built layer {desc.digest}")
        return StoredLayer(diff_id, desc.digest, desc.size, desc.media_type,
                           self.svc.layers.path(diff_id))

    def find_layer(self, diff_id: str, digest: str, media_type: str) -> StoredLayer | None:
        """A layer made earlier (the build cache), if the store still has it whole."""
        self._pin([digest, diff_id])
        if not (self.svc.store.has_blob(digest) and self.svc.layers.has(diff_id)):
            return None
        return StoredLayer(diff_id, digest, self.svc.store.blob_size(digest), media_type,
                           self.svc.layers.path(diff_id))

    def commit(self, layers: list[StoredLayer], config: bytes,
               names: list[str]) -> tuple[str, str, list[str]]:
        """Store the config and manifest and name the image; (image id, manifest digest,
        the normalised names)."""
        refs = [str(parse_reference(n)) for n in names]
        with self.svc._gc.shared():
            cfg_digest = self.svc.store.put_bytes(config)
            raw = manifest_json(Descriptor(OCI_CONFIG, cfg_digest, len(config)),
                                [Descriptor(la.media_type, la.digest, la.size) for la in layers])
            mdigest = self.svc.store.put_bytes(raw)
            self._pin([cfg_digest, mdigest])
            for r in refs:
                self.svc._register(r, mdigest, mdigest)
        self.svc._auto_prune(keep=set(refs))
        return cfg_digest, mdigest, refs

    def push_target(self, ref: str) -> str:
        """Where --push sends ref: its own registry, but a Docker Hub name goes to the
        node's first docker.io mirror when it has one (a local cluster's own registry)."""
        from urllib.parse import urlsplit
        r = parse_reference(ref)
        host = self.svc.registries.hosts.get(r.domain)
        if r.domain == "docker.io" and host is not None and host.mirrors:
            netloc = urlsplit(host.mirrors[0]).netloc
            return f"{netloc}/{r.path}:{r.tag or 'latest'}"
        return str(r)

    def push(self, ref: str, target: str) -> str:
        """Push a stored image to target; the manifest digest the registry has."""
        return self.svc.push(ref, target)
