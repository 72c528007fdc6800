"""A single-layer image from a directory, as a `docker save` archive (for `corral image
import`, which sends it to the nodes like `corral image load`).

    with open("app.tar", "w+b") as out:
        docker_save_of_dir("rootfs/", "app:1", out, cmd=["/bin/sh"])

The layer is the directory's tree as tar (owners, modes and symlinks as they are;
links are not followed); the config names the machine's platform and the diffID.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
import tempfile
from typing import BinaryIO

_ARCH = {"x86_64": ("amd64", ""), "aarch64": ("arm64", "v8"), "armv7l": ("arm", "v7"),
         "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


class ImageImportError(Exception):
    """The directory cannot be made into an image (the message says why)."""


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tf.addfile(info, io.BytesIO(data))


def _layer(root: str, out: BinaryIO) -> str:
    """Write the tree under `root` as a tar to `out`; its sha256 digest."""
    h = hashlib.sha256()

    class Hashing(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:   # type: ignore[override]
            h.update(b)
            return out.write(b)

    with tarfile.open(fileobj=Hashing(), mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(os.listdir(root)):
            tf.add(os.path.join(root, name), arcname=name, recursive=True)
    return "sha256:" + h.hexdigest()


def docker_save_of_dir(root: str, tag: str, out: BinaryIO, cmd: list[str] | None = None,
                       env: list[str] | None = None) -> None:
    if not os.path.isdir(root):
        raise ImageImportError(f"{root}: not a directory")
    arch, variant = _ARCH.get(platform.machine(), (platform.machine(), ""))
    with tempfile.TemporaryFile() as layer:
        try:
            diff_id = _layer(root, layer)
        except OSError as e:
            raise ImageImportError(f"{root}: cannot read {e.filename or ''}: {e.strerror}") from e
        config = json.dumps({
            "architecture": arch, "os": "linux", **({"variant": variant} if variant else {}),
            "config": {"Cmd": list(cmd or []), "Env": list(env or ["PATH=/usr/local/sbin:"
                       "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }, sort_keys=True).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_name = diff_id.removeprefix("sha256:") + "/layer.tar"
        with tarfile.open(fileobj=out, mode="w|") as tf:
            info = tarfile.TarInfo(layer_name)
            info.size, info.mode = layer.tell(), 0o644
            layer.seek(0)
            tf.addfile(info, layer)
            _add_bytes(tf, config_name, config)
            _add_bytes(tf, "manifest.json", json.dumps([{
                "Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]).encode())
