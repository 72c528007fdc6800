"""ImageService: the images package's facade (documented in agent/images/__init__.py)."""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import agent.images.gc as gc
import agent.images.progress as prog
from agent.images.errors import DEFAULT_MAX_SIZE, ImageError, ImageNotPresent, Unsupported
from agent.images.imageconfig import ContainerDefaults, parse_config
from agent.images.layers import LayerStore, OverlayLower
from agent.images.manifest import Descriptor, Index, Manifest, Platform, parse, select_platform
from agent.images.policy import PullPolicy
from agent.images.reference import Reference, find_record
from agent.images.reference import parse as parse_reference
from agent.images.registries import RegistriesConfig
from agent.images.store import ContentStore

if TYPE_CHECKING:   # the registry code (http.client, urllib) is imported on the first pull/push
    from agent.images.client import RegistryClient
    from agent.images.pullsecrets import RegistryCredential


@dataclass(frozen=True)
class Image:
    reference: str
    digest: str
    manifest_digest: str
    id: str
    config: ContainerDefaults
    layer_dirs: list[str]
    diff_ids: list[str]
    size: int
    platform: str
    created: str = ""


class ImageService:
    def __init__(
        self,
        data_dir: str,
        registries_config: RegistriesConfig | str | dict[str, Any] | None = None,
        platform: str | Platform | None = None,
        *,
        client: RegistryClient | None = None,
        max_layer_size: int = DEFAULT_MAX_SIZE,
        gc_high_percent: float | None = None,
        gc_low_percent: float | None = None,
        in_use: Callable[[], set[str]] | None = None,
    ) -> None:
        self.root = os.path.join(os.path.abspath(data_dir), "images")
        # metrics hook: on_pull(ref, layer bytes downloaded, seconds, ok) after each pull
        self.on_pull: Callable[[str, int, float, bool], None] | None = None
        self.store = ContentStore(self.root)
        self.layers = LayerStore(self.root, self.store.lock, max_layer_size)
        if isinstance(registries_config, RegistriesConfig):
            self.registries = registries_config
        else:
            self.registries = RegistriesConfig.load(registries_config)
        if isinstance(platform, Platform):
            self.platform = platform
        elif platform or self.registries.platform:
            self.platform = Platform.parse(str(platform or self.registries.platform))
        else:
            self.platform = Platform.host()
        self._client = client
        self.gc_high_percent = gc_high_percent
        self.gc_low_percent = gc_low_percent if gc_low_percent is not None else (
            (gc_high_percent - 5) if gc_high_percent is not None else None)
        # the images pods use (any reference form, ids, diffIDs); settable after start
        self.in_use = in_use
        self._gc = gc.SharedExclusive()
        self.pins = gc.Pins()      # what running builds hold (agent/images/buildstore.py)

    @property
    def client(self) -> RegistryClient:
        """The registry client, made on first use: an idle node never loads it."""
        if self._client is None:
            from agent.images.client import RegistryClient
            self._client = RegistryClient(self.registries)
        return self._client

    # -- lookups -----------------------------------------------------------------

    def _image(self, name: str, rec: dict[str, Any]) -> Image:
        m = parse(self.store.read_blob(rec["manifest"]), None, f"image {name}")
        if not isinstance(m, Manifest):
            raise ImageError(f"image {name}: stored manifest is not an image manifest")
        cfg = parse_config(self.store.read_blob(m.config.digest), f"image {name} config")
        plat = "/".join(p for p in (cfg.os, cfg.architecture, cfg.variant) if p)
        return Image(
            reference=name,
            digest=rec["digest"],
            manifest_digest=rec["manifest"],
            id=m.config.digest,
            config=cfg.defaults,
            layer_dirs=[self.layers.path(d) for d in cfg.diff_ids],
            diff_ids=list(cfg.diff_ids),
            size=sum(self.layers.size(d) for d in cfg.diff_ids),
            platform=plat,
            created=cfg.created,
        )

    def _find(self, ref: str) -> tuple[str, dict[str, Any]] | None:
        return find_record(self.store.records(), ref)

    def get(self, ref: str) -> Image | None:
        found = self._find(ref)
        if found is None:
            return None
        img = self._image(*found)
        if not all(os.path.isdir(d) for d in img.layer_dirs):
            return None
        return img

    def list(self) -> list[Image]:
        out = []
        for name, rec in sorted(self.store.records().items()):
            with contextlib.suppress(ImageError, OSError):
                out.append(self._image(name, rec))
        return out

    def overlay_lowerdir(self, image: Image) -> OverlayLower:
        return self.layers.overlay_lowerdir(image.layer_dirs)

    # -- pull --------------------------------------------------------------------

    def ensure(
        self,
        ref: str,
        pull_policy: str | PullPolicy | None = None,
        progress: prog.ProgressFn | None = None,
        credentials: Sequence[RegistryCredential] = (),
    ) -> Image:
        r = parse_reference(ref)
        policy = PullPolicy.parse(pull_policy, r)
        img = self.get(str(r))
        if policy is PullPolicy.NEVER:
            if img is None:
                raise ImageNotPresent(
                    f"image {r} is not present on this node and imagePullPolicy is Never")
            return img
        if policy is PullPolicy.IF_NOT_PRESENT and img is not None:
            self.store.touch_record(img.reference)
            return img
        return self.pull(str(r), progress, credentials)

    def pull(self, ref: str, progress: prog.ProgressFn | None = None,
             credentials: Sequence[RegistryCredential] = ()) -> Image:
        """A pod's pull-secret `credentials` for the registry in turn, else the node's."""
        import agent.images.pullsecrets as pullsecrets
        t0, fetched, ok = time.monotonic(), {"bytes": 0}, False
        clients = pullsecrets.clients_for(self.client, self.registries, ref, credentials)
        try:
            img = pullsecrets.first_admitted(clients, lambda c: self._pull(ref, progress,
                                                                           fetched, c))
            ok = True
            return img
        finally:
            if self.on_pull is not None:
                self.on_pull(ref, fetched["bytes"], time.monotonic() - t0, ok)

    def _pull(self, ref: str, progress: prog.ProgressFn | None,
              stats: dict[str, int], client: RegistryClient) -> Image:
        r = parse_reference(ref)
        with self._gc.shared():
            prog.emit(progress, "", prog.RESOLVING)
            raw, ctype, top = client.get_manifest(r)
            prog.emit(progress, "", prog.RESOLVING, 1, 1)
            self.store.put_bytes(raw, top)
            m = parse(raw, ctype, f"image {r}")
            mdigest = top
            if isinstance(m, Index):
                d = select_platform(m, self.platform, f"image {r}")
                raw, ctype, mdigest = client.get_manifest(r, d.digest, d.size)
                self.store.put_bytes(raw, mdigest)
                m = parse(raw, ctype or d.media_type, f"image {r}")
                if not isinstance(m, Manifest):
                    raise Unsupported(f"image {r}: nested image indexes are not supported")
            self._fetch(client, r, m.config, None)
            cfg = parse_config(self.store.read_blob(m.config.digest), f"image {r} config")
            if len(cfg.diff_ids) != len(m.layers):
                raise ImageError(f"image {r}: manifest has {len(m.layers)} layers, the config "
                                 f"lists {len(cfg.diff_ids)} diff_ids")
            fetched = [self._fetch(client, r, d, progress) for d in m.layers]
            stats["bytes"] = sum(d.size for d, f in zip(m.layers, fetched, strict=True) if f)
            for d, diff_id, was_fetched in zip(m.layers, cfg.diff_ids, fetched, strict=True):
                self._unpack(str(r), d, diff_id, progress, was_fetched)
            self.store.set_record(str(r), {"digest": top, "manifest": mdigest,
                                           "config": m.config.digest, "last_used": time.time()})
            prog.emit(progress, "", prog.DONE)
        self._auto_prune(keep={str(r)})
        return self._image(str(r), self.store.records()[str(r)])

    def _fetch(self, client: RegistryClient, r: Reference, d: Descriptor,
               progress: prog.ProgressFn | None) -> bool:
        with self.store.lock(d.digest):
            if self.store.has_blob(d.digest, d.size):
                return False
            prog.emit(progress, d.digest, prog.DOWNLOADING, 0, d.size)
            on_bytes = prog.throttled(progress, d.digest, prog.DOWNLOADING, d.size)
            client.fetch_blob(r, d, self.store, on_bytes)
            prog.emit(progress, d.digest, prog.VERIFYING, d.size, d.size)
            return True

    def _unpack(self, name: str, d: Descriptor, diff_id: str,
                progress: prog.ProgressFn | None, fetched: bool) -> None:
        if self.layers.has(diff_id) and not fetched:
            prog.emit(progress, d.digest, prog.ALREADY_EXISTS, d.size, d.size)
            return
        prog.emit(progress, d.digest, prog.EXTRACTING, 0, d.size)
        self.layers.ensure(diff_id, lambda: self.store.open_blob(d.digest), f"{name} {d.digest}",
                           prog.throttled(progress, d.digest, prog.EXTRACTING, d.size))
        prog.emit(progress, d.digest, prog.DONE, d.size, d.size)

    # -- local images ------------------------------------------------------------

    def _register(self, name: str, top: str, mdigest: str,
                  progress: prog.ProgressFn | None = None) -> None:
        m = parse(self.store.read_blob(mdigest), None, f"image {name}")
        if not isinstance(m, Manifest):
            raise ImageError(f"image {name}: {mdigest} is not an image manifest")
        cfg = parse_config(self.store.read_blob(m.config.digest), f"image {name} config")
        if len(cfg.diff_ids) != len(m.layers):
            raise ImageError(f"image {name}: manifest has {len(m.layers)} layers, the config "
                             f"lists {len(cfg.diff_ids)} diff_ids")
        for d, diff_id in zip(m.layers, cfg.diff_ids, strict=True):
            self._unpack(name, d, diff_id, progress, fetched=False)
        self.store.set_record(name, {"digest": top, "manifest": mdigest,
                                     "config": m.config.digest, "last_used": time.time()})

    def load_archive(self, src: str | BinaryIO, label: str = "") -> builtins.list[str]:
        from agent.images.archive import load_archive  # tarfile: on first use
        names: builtins.list[str] = []
        with self._gc.shared():
            for item in load_archive(self.store, src, self.platform, label):
                for name in item.names or [item.digest]:
                    self._register(name, item.digest, item.manifest)
                    names.append(name)
        self._auto_prune(keep=set(names))
        return names

    def save(self, refs: Iterable[str], out: BinaryIO) -> None:
        from agent.images.archive import save_oci
        images = []
        for ref in refs:
            found = self._find(ref)
            if found is None:
                raise ImageNotPresent(f"image {ref} is not present on this node")
            images.append((found[0], found[1]["manifest"]))
        save_oci(self.store, images, out)

    def import_rootfs(self, root: str, ref: str, defaults: ContainerDefaults | None = None,
                      base: str | None = None) -> Image:
        from agent.images.build import build_image
        r = parse_reference(ref)
        with self._gc.shared():
            base_manifest = None
            if base is not None:
                found = self._find(base)
                if found is None:
                    raise ImageNotPresent(f"base image {base} is not present on this node")
                base_manifest = found[1]["manifest"]
            mdigest = build_image(self.store, root, self.platform, defaults, base_manifest)
            self._register(str(r), mdigest, mdigest)
        self._auto_prune(keep={str(r)})
        return self._image(str(r), self.store.records()[str(r)])

    # -- push --------------------------------------------------------------------

    def push(self, ref: str, target: str | None = None,
             progress: prog.ProgressFn | None = None) -> str:
        """Push the image (its platform manifest) to target (default: ref); its digest."""
        found = self._find(ref)
        if found is None:
            raise ImageNotPresent(f"image {ref} is not present on this node")
        name, rec = found
        t = parse_reference(target or name)
        raw = self.store.read_blob(rec["manifest"])
        m = parse(raw, None, f"image {name}")
        if not isinstance(m, Manifest):
            raise ImageError(f"image {name}: stored manifest is not an image manifest")
        for d in [*m.layers, m.config]:
            if not self.store.has_blob(d.digest, d.size):
                raise ImageError(f"image {name}: blob {d.digest} is missing from the store")
            on_bytes = prog.throttled(progress, d.digest, prog.PUSHING, d.size)
            uploaded = self.client.upload_blob(
                t, d.digest, d.size, functools.partial(self.store.open_blob, d.digest), on_bytes)
            prog.emit(progress, d.digest, prog.DONE if uploaded else prog.ALREADY_EXISTS,
                      d.size, d.size)
        digest = self.client.put_manifest(t, raw, m.media_type)
        prog.emit(progress, "", prog.DONE)
        return digest

    # -- removal and garbage collection --------------------------------------------

    def remove(self, ref: str) -> bool:
        found = self._find(ref)
        return found is not None and self.store.delete_record(found[0])

    def prune(self, in_use: set[str]) -> tuple[builtins.list[str], int]:
        """Remove every image no container uses, then every blob and layer nothing references.

        in_use holds image references as pods name them (any form: "nginx", "nginx:1.25",
        "repo@sha256:..."), image digests or ids, layer diffIDs or layer dirs.
        """
        removed: builtins.list[str] = []
        in_use = gc.normalise(in_use | self.pins.keys())
        with self._gc.exclusive():
            for name, rec in self.store.records().items():
                if not (gc.image_keys(self.store, self.layers, name, rec) & in_use):
                    self.store.delete_record(name)
                    removed.append(name)
            freed = gc.collect(self.store, self.layers, in_use)
        return removed, freed

    def _auto_prune(self, keep: set[str]) -> None:
        """Above gc_high_percent, drop unused images (LRU first) until below gc_low_percent.

        `keep`: the images just pulled/loaded, which a container is about to use.
        """
        if self.gc_high_percent is None or self.in_use is None:
            return
        if gc.usage_percent(self.root) <= self.gc_high_percent:
            return
        low = self.gc_low_percent if self.gc_low_percent is not None else self.gc_high_percent
        in_use = gc.normalise(self.in_use() | keep | self.pins.keys())
        with self._gc.exclusive():
            records = sorted(self.store.records().items(),
                             key=lambda kv: float(kv[1].get("last_used", 0)))
            for name, rec in records:
                if gc.usage_percent(self.root) <= low:
                    break
                if gc.image_keys(self.store, self.layers, name, rec) & in_use:
                    continue
                self.store.delete_record(name)
                gc.collect(self.store, self.layers, in_use)
