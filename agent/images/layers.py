"""Unpacked layers, one directory per diffID, shared by every image and container.

Layout under `root` (the images dir):

    layers/<diffID hex>/diff      the layer's files, whiteouts in overlayfs form
    layers/<diffID hex>/size      uncompressed size in bytes
    layers/.tmp-*                 unpacks in progress (removed at start-up)
    l/<20 hex>                    short symlink -> ../layers/<hex>/diff

A layer is unpacked into layers/.tmp-XXXX/diff, its diffID (sha256 of the
uncompressed tar) checked against the one the image config names, and the
temp dir renamed to layers/<hex> in one step: a crash leaves either nothing
or a complete layer. Unpacks of one diffID are serialised by a lock, so a
layer two images share is unpacked once.

Overlay lower dirs: overlayfs takes `lowerdir=top:...:bottom` (the LEFTMOST
is the TOPMOST layer) and mount(2) accepts at most one page (4096 bytes) of
options. `overlay_lowerdir(layer_dirs)` takes the image's layer dirs lowest
first (as Image.layer_dirs gives them) and returns the option value reversed
into overlay order. When the absolute paths fit into the budget it returns
them with cwd None; otherwise it returns the short relative links
("l/<id>:l/<id>:...", ~23 bytes a layer, like Docker's overlay2) with cwd =
the images dir, and the runtime must chdir(cwd) before calling mount(2) (the
kernel resolves relative lowerdirs against the caller's cwd).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from agent.images.digest import check_digest
from agent.images.errors import DEFAULT_MAX_SIZE, DigestMismatch, Unsupported

DEFAULT_OPTION_BUDGET = 4096 - 768  # leave room for upperdir=, workdir= and the rest
_SHORT = 20


@dataclass(frozen=True)
class OverlayLower:
    option: str  # the value for lowerdir=, topmost layer first
    cwd: str | None  # chdir here before mount(2) when the option holds relative paths


class LayerStore:
    def __init__(
        self,
        root: str,
        lock: Callable[[str], AbstractContextManager[None]],
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        self.root = os.path.abspath(root)
        self.layers_dir = os.path.join(self.root, "layers")
        self.links_dir = os.path.join(self.root, "l")
        self.max_size = max_size
        self._lock = lock
        os.makedirs(self.layers_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.links_dir, mode=0o700, exist_ok=True)
        for name in os.listdir(self.layers_dir):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.layers_dir, name), ignore_errors=True)

    def dir(self, diff_id: str) -> str:
        return os.path.join(self.layers_dir, check_digest(diff_id))

    def path(self, diff_id: str) -> str:
        """The directory holding the layer's files (an overlay lower dir)."""
        return os.path.join(self.dir(diff_id), "diff")

    def has(self, diff_id: str) -> bool:
        return os.path.isdir(self.path(diff_id))

    def size(self, diff_id: str) -> int:
        try:
            with open(os.path.join(self.dir(diff_id), "size")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def list(self) -> list[str]:
        return [
            "sha256:" + n for n in os.listdir(self.layers_dir) if len(n) == 64 and "." not in n
        ]

    def ensure(
        self,
        diff_id: str,
        open_blob: Callable[[], BinaryIO],
        label: str = "",
        on_bytes: Callable[[int], None] | None = None,
    ) -> bool:
        """Unpack the layer unless present; True when this call unpacked it."""
        check_digest(diff_id)
        with self._lock("layer:" + diff_id):
            if self.has(diff_id):
                return False
            tmp = tempfile.mkdtemp(prefix=".tmp-", dir=self.layers_dir)
            try:
                diff = os.path.join(tmp, "diff")
                os.mkdir(diff, 0o755)
                from agent.images.unpack import unpack_layer  # tarfile, zstd: on first use
                with open_blob() as f:
                    got, size = unpack_layer(f, diff, label or diff_id, self.max_size, on_bytes)
                if got != diff_id:
                    raise DigestMismatch(
                        f"layer {label or diff_id}: uncompressed content has diffID {got}, "
                        f"the image config says {diff_id}"
                    )
                with open(os.path.join(tmp, "size"), "w") as sf:
                    sf.write(str(size))
                os.chmod(tmp, 0o700)
                os.rename(tmp, self.dir(diff_id))
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._link(diff_id)
            return True

    def _link(self, diff_id: str) -> str:
        hexd = check_digest(diff_id)
        link = os.path.join(self.links_dir, hexd[:_SHORT])
        if not os.path.islink(link):
            with contextlib.suppress(FileExistsError):
                os.symlink(os.path.join("..", "layers", hexd, "diff"), link)
        return link

    def remove(self, diff_id: str) -> int:
        """Delete an unpacked layer; returns the bytes it held (its uncompressed size)."""
        with self._lock("layer:" + diff_id):
            if not os.path.isdir(self.dir(diff_id)):
                return 0
            size = self.size(diff_id)
            hexd = check_digest(diff_id)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.links_dir, hexd[:_SHORT]))
            # rename first so a half-removed layer is never taken for a whole one
            doomed = tempfile.mkdtemp(prefix=".tmp-rm-", dir=self.layers_dir)
            os.rename(self.dir(diff_id), os.path.join(doomed, "x"))
            shutil.rmtree(doomed, ignore_errors=True)
            return size

    def overlay_lowerdir(
        self, layer_dirs: Sequence[str], budget: int = DEFAULT_OPTION_BUDGET
    ) -> OverlayLower:
        """The lowerdir= value for layer_dirs (given lowest first); see the module doc."""
        if not layer_dirs:
            raise Unsupported("an overlay needs at least one lower dir")
        top_first = list(reversed(layer_dirs))
        plain = ":".join(top_first)
        if len(plain) <= budget and not any(("," in d or ":" in d) for d in top_first):
            return OverlayLower(plain, None)
        short = []
        for d in top_first:
            hexd = os.path.basename(os.path.dirname(d))
            self._link("sha256:" + hexd)
            short.append(os.path.join("l", hexd[:_SHORT]))
        option = ":".join(short)
        if len(option) > budget:
            raise Unsupported(
                f"image has {len(layer_dirs)} layers; even short lowerdir links "
                f"({len(option)} bytes) exceed the mount option budget of {budget}"
            )
        return OverlayLower(option, self.root)
