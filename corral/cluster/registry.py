"""The local cluster's image registry: Debian's `docker-registry` on the
cluster bridge, storage in the cluster's directory. Optional: without the
binary the cluster still comes up, and images are loaded into the nodes
instead (`corral image load`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from corral.cluster import procs, state

BINARY = "docker-registry"


def config_text(rec: state.ClusterRecord) -> str:
    storage = Path(rec.dir) / "registry"
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        "http:\n"
        f"  addr: {rec.registry}\n"
    )


def start(rec: state.ClusterRecord, timeout: float = 15.0) -> int:
    """Start the registry; return its PID, or 0 when the binary is missing."""
    exe = shutil.which(BINARY)
    if exe is None:
        return 0
    cfg = Path(rec.dir) / "registry.yml"
    cfg.write_text(config_text(rec))
    pid = procs.start([exe, "serve", str(cfg)], Path(rec.dir) / "logs" / "registry.log")

    def answers() -> bool:
        if not procs.alive(pid):
            raise RuntimeError(f"docker-registry exited; see {rec.dir}/logs/registry.log")
        try:
            with urllib.request.urlopen(f"http://{rec.registry}/v2/", timeout=1) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    if not procs.wait_for(answers, timeout, interval=0.05):
        raise RuntimeError(f"docker-registry not answering at {rec.registry}")
    return pid


DEMO_IMAGE = "demo:latest"          # what manifests/ use: docker.io/library/demo:latest
DEMO_IMAGE_V2 = "demo:v2"           # the same rootfs with another page, for rolling updates
DEMO_CMD = "httpd -f -p 8080 -h /www"

V2_INDEX_HTML = """<!doctype html>
<title>corral demo v2</title>
<h1>Hello from corral, version 2</h1>
<p>Served by busybox httpd in a corral pod, from the demo:v2 image.</p>
"""


def seed(rec: state.ClusterRecord) -> str:
    """Build the demo image from busybox-static, offline, and push it to the
    registry as library/demo:latest (the nodes use the registry as their
    docker.io mirror, so `image: demo:latest` pulls it), then the same rootfs
    with a different /www/index.html as library/demo:v2 (for `corral set image`
    and `corral rollout undo`). Returns the digest of demo:latest.
    """
    work = Path(rec.dir) / "demo-image"
    rootfs, store = work / "rootfs", work / "store"
    tool = [sys.executable, "-m", "agent.images"]

    def image(ref: str) -> list[list[str]]:
        tag = ref.split(":", 1)[1]
        return [
            [*tool, "--data-dir", str(store), "import-rootfs", str(rootfs), ref,
             "--cmd", DEMO_CMD],
            [*tool, "--data-dir", str(store), "--insecure", rec.registry, "push", ref,
             "--to", f"{rec.registry}/library/demo:{tag}"],
        ]

    def run(steps: list[list[str]]) -> str:
        out = ""
        for argv in steps:
            r = subprocess.run(argv, capture_output=True, text=True, check=False)
            if r.returncode != 0:
                raise RuntimeError(f"building the demo image failed: {' '.join(argv[2:4])}: "
                                   f"{(r.stderr or r.stdout).strip()}")
            out = r.stdout.strip()
        return out

    out = run([[*tool, "build-busybox", str(rootfs)], *image(DEMO_IMAGE)])
    (rootfs / "www" / "index.html").write_text(V2_INDEX_HTML)
    run(image(DEMO_IMAGE_V2))
    shutil.rmtree(work, ignore_errors=True)
    return out.rsplit(" ", 1)[-1]
