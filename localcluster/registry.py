"""The local cluster's image registry: Debian's `docker-registry` on the
cluster bridge, storage in the cluster's directory. Optional: without the
binary the cluster still comes up, and images are loaded into the nodes
instead (`corral image load`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from localcluster import procs, state

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


def available() -> bool:
    return shutil.which(BINARY) is not None


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


def start_seeding(rec: state.ClusterRecord) -> subprocess.Popen[str]:
    """Start building the demo images and pushing them to the registry, in one
    process (localcluster/seedimage.py) that may start before the registry
    answers: demo:latest from busybox-static, offline (the nodes use the
    registry as their docker.io mirror, so `image: demo:latest` pulls it), and
    the same rootfs with another /www/index.html as demo:v2 (for `corral set
    image` and `corral rollout undo`). `finish_seeding` waits for it."""
    work = Path(rec.dir) / "demo-image"
    return subprocess.Popen(
        [sys.executable, "-m", "localcluster.seedimage", rec.registry, str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_seeding(rec: state.ClusterRecord, proc: subprocess.Popen[str],
                   timeout: float) -> str:
    """Wait for `start_seeding`'s process; the digest of demo:latest."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"building the demo image took over {timeout:.0f} s") from None
    finally:
        shutil.rmtree(Path(rec.dir) / "demo-image", ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError((err or out).strip().removeprefix("error: "))
    return out.strip().rsplit(" ", 1)[-1]


def seed(rec: state.ClusterRecord, timeout: float = 120.0) -> str:
    """Build and push the demo images (see `start_seeding`); the digest of demo:latest."""
    return finish_seeding(rec, start_seeding(rec), timeout)


class Seeding:
    """The registry started (in a thread: it takes a moment to answer) and the demo
    images built and pushed (`start_seeding`), both while the caller goes on.
    `save` records the registry's PID (the cluster record) once it runs."""

    def __init__(self, rec: state.ClusterRecord, save: Callable[[], None]) -> None:
        self.rec = rec
        self.proc = start_seeding(rec)
        self.errors: list[BaseException] = []

        def start_registry() -> None:
            try:
                rec.registry_pid = start(rec)
                save()
            except BaseException as e:   # reported by finish()
                self.errors.append(e)

        self.starter = threading.Thread(target=start_registry, daemon=True)
        self.starter.start()

    def finish(self, timeout: float) -> str:
        """Wait for both; the digest of demo:latest. RuntimeError if either failed."""
        self.starter.join(timeout)
        if self.errors:
            self.abort(timeout)
            raise RuntimeError(str(self.errors[0]))
        return finish_seeding(self.rec, self.proc, timeout)

    def abort(self, timeout: float) -> None:
        """Stop the seeding; wait for the registry's start so that its PID is recorded
        (for `cluster down`)."""
        self.proc.kill()
        self.proc.wait()
        self.starter.join(timeout)
