"""``python -m localcluster.seedimage REGISTRY WORKDIR``: the local cluster's demo
images, built and pushed by one process.

Builds a busybox-static rootfs offline, imports it as demo:latest and (with
another /www/index.html) as demo:v2 into a scratch image store under WORKDIR,
waits until the registry at REGISTRY answers, and pushes both as
library/demo:latest and library/demo:v2. One interpreter instead of one per
step, and the building overlaps the registry's start. Prints
``demo:latest <digest>`` last; exits 1 with the reason on stderr.

The built image store is kept in $CORRAL_CACHE_DIR (default /var/cache/corral)
as ``demo-images-<key>``, the key a hash of /bin/busybox (size, mtime, inode),
the image-building code and the demo constants; the next cluster copies it
and only pushes (building is most of the cost: gzip of the layers). Remove the
directory to rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from localcluster.registry import DEMO_CMD, DEMO_IMAGE, DEMO_IMAGE_V2, V2_INDEX_HTML


def _wait_for_registry(registry: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{registry}/v2/", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the registry at {registry} did not answer")
        time.sleep(0.05)


def cache_dir() -> Path:
    return Path(os.environ.get("CORRAL_CACHE_DIR", "/var/cache/corral"))


def cache_key() -> str:
    """What the built store depends on; "" when it cannot be told (no cache then)."""
    from agent.images import __main__ as builder

    h = hashlib.sha256()
    try:
        st = os.stat(builder.BUSYBOX)
        h.update(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode())
        here = Path(builder.__file__).parent
        for name in ("__main__.py", "build.py"):
            h.update((here / name).read_bytes())
    except OSError:
        return ""
    for text in (DEMO_IMAGE, DEMO_IMAGE_V2, DEMO_CMD, V2_INDEX_HTML):
        h.update(text.encode())
    return h.hexdigest()[:16]


def _keep(store: Path, key: str) -> None:
    """Put a built store in the cache (atomically: whole or not at all)."""
    final = cache_dir() / f"demo-images-{key}"
    tmp = cache_dir() / f".demo-images-{key}.{os.getpid()}"
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(store, tmp, symlinks=True)
        os.rename(tmp, final)
    except OSError:   # another cluster cached it first, or no room: fine either way
        shutil.rmtree(tmp, ignore_errors=True)


def seed(registry: str, work: Path, timeout: float = 60.0) -> str:
    """Build (or take from the cache) and push both demo images; the digest of demo:latest."""
    from agent.images.__main__ import main as images

    rootfs, store = work / "rootfs", work / "store"
    key = cache_key()
    cached = cache_dir() / f"demo-images-{key}"
    if key and cached.is_dir():
        shutil.copytree(cached, store, symlinks=True)
        built = False
    else:
        built = True

    def step(*argv: str) -> str:
        out = io.StringIO()
        err = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = images(list(argv))
        if code != 0:
            raise RuntimeError(f"building the demo image failed: {' '.join(argv[2:4])}: "
                               f"{(err.getvalue() or out.getvalue()).strip()}")
        return out.getvalue().strip()

    if built:
        step("build-busybox", str(rootfs))
        step("--data-dir", str(store), "import-rootfs", str(rootfs), DEMO_IMAGE,
             "--cmd", DEMO_CMD)
        (rootfs / "www" / "index.html").write_text(V2_INDEX_HTML)
        step("--data-dir", str(store), "import-rootfs", str(rootfs), DEMO_IMAGE_V2,
             "--cmd", DEMO_CMD)
        if key:
            _keep(store, key)
    _wait_for_registry(registry, timeout)
    digest = ""
    for ref in (DEMO_IMAGE, DEMO_IMAGE_V2):
        tag = ref.split(":", 1)[1]
        out = step("--data-dir", str(store), "--insecure", registry, "push", ref,
                   "--to", f"{registry}/library/demo:{tag}")
        digest = digest or out.rsplit(" ", 1)[-1]
    return digest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m localcluster.seedimage REGISTRY WORKDIR", file=sys.stderr)
        return 2
    try:
        digest = seed(args[0], Path(args[1]))
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{DEMO_IMAGE} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
