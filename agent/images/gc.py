"""Garbage collection of images, blobs and unpacked layers.

An image is in use when any of its keys is in the `in_use` set the agent
passes: its reference (in any form a pod spec may use: "nginx" counts as
docker.io/library/nginx:latest), its digest, manifest digest or config digest
(the image id), or one of its layer diffIDs or layer dirs. `collect` removes
every blob no image record references and every unpacked layer no record and
no `in_use` entry references. `SharedExclusive` keeps collection away from a
pull in progress (whose fresh blobs no record names yet).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from agent.images.errors import ImageError
from agent.images.imageconfig import parse_config
from agent.images.layers import LayerStore
from agent.images.manifest import Manifest, parse
from agent.images.reference import is_digest
from agent.images.reference import parse as parse_reference
from agent.images.store import ContentStore


class SharedExclusive:
    """Pulls/loads share; prune is exclusive."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cv:
            self._cv.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._cv:
                self._shared -= 1
                self._cv.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cv:
            self._cv.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._exclusive = True
        try:
            yield
        finally:
            with self._cv:
                self._exclusive = False
                self._cv.notify_all()


class Pins:
    """Keys (blob digests, diffIDs) that running builds hold: never collected while held.
    Counted, so two builds sharing a layer may each let go of it."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._counts: dict[str, int] = {}

    def pin(self, keys: Iterable[str]) -> None:
        with self._mu:
            for k in keys:
                self._counts[k] = self._counts.get(k, 0) + 1

    def unpin(self, keys: Iterable[str]) -> None:
        with self._mu:
            for k in keys:
                n = self._counts.get(k, 0) - 1
                if n > 0:
                    self._counts[k] = n
                else:
                    self._counts.pop(k, None)

    def keys(self) -> set[str]:
        with self._mu:
            return set(self._counts)


def normalise(in_use: Iterable[str]) -> set[str]:
    """in_use plus normal forms: "nginx" also counts as docker.io/library/nginx:latest."""
    items = set(in_use)
    out = set(items)
    for item in items:
        if not item or is_digest(item) or item.startswith("/"):
            continue
        with contextlib.suppress(ImageError):
            r = parse_reference(item)
            out.add(str(r))
            if r.digest:
                out.add(r.digest)
    return out


def _parts(store: ContentStore, rec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(layer blob digests, diffIDs) of a record; empty when its metadata is gone."""
    with contextlib.suppress(ImageError, OSError, KeyError):
        m = parse(store.read_blob(rec["manifest"]))
        if isinstance(m, Manifest):
            cfg = parse_config(store.read_blob(m.config.digest))
            return [d.digest for d in m.layers], list(cfg.diff_ids)
    return [], []


def image_keys(store: ContentStore, layers: LayerStore, name: str,
               rec: dict[str, Any]) -> set[str]:
    keys = {name, rec.get("digest", ""), rec.get("manifest", ""), rec.get("config", "")}
    _, diff_ids = _parts(store, rec)
    keys.update(diff_ids)
    keys.update(layers.path(d) for d in diff_ids)
    keys.discard("")
    return keys


def collect(store: ContentStore, layers: LayerStore, in_use: set[str]) -> int:
    """Remove unreferenced blobs and layers; returns the bytes freed."""
    blobs: set[str] = set()
    diffs: set[str] = set()
    for rec in store.records().values():
        blobs.update(k for k in (rec.get("digest"), rec.get("manifest"), rec.get("config")) if k)
        layer_blobs, diff_ids = _parts(store, rec)
        blobs.update(layer_blobs)
        diffs.update(diff_ids)
    freed = 0
    for digest in store.list_blobs():
        if digest not in blobs and digest not in in_use:
            freed += store.remove_blob(digest)
    for diff_id in layers.list():
        if diff_id in diffs or diff_id in in_use or layers.path(diff_id) in in_use:
            continue
        freed += layers.remove(diff_id)
    return freed


def usage_percent(path: str) -> float:
    du = shutil.disk_usage(path)
    return 100.0 * du.used / du.total if du.total else 0.0
