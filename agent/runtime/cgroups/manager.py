"""The cgroup manager: picks a driver by detection and lays out corral's tree.

Layout (relative to every hierarchy)::

    <root_name>/pod<pod_uid>/<container_id>

``root_name`` is configurable (e.g. ``corral/node-1``) so each node of a local
cluster has its own subtree.  Detection, like youki: a ``cgroup.controllers``
file at the root means a unified (v2) mount; v1 controller directories mean
legacy or hybrid, and hybrid uses the v1 driver (its v2 tree has no
controllers).  ``root`` defaults to /sys/fs/cgroup and may point at a fake
directory in tests.
"""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import CgroupStats, Driver, Limits
from agent.runtime.cgroups.v1.driver import V1Driver
from agent.runtime.cgroups.v2.driver import V2Driver
from agent.runtime.errors import CgroupError

DEFAULT_ROOT = Path("/sys/fs/cgroup")


def detect(root: Path = DEFAULT_ROOT) -> str:
    """'v2' for a unified mount, 'v1' for legacy or hybrid hosts."""
    if (root / "cgroup.controllers").exists():
        return "v2"
    if any((root / c).is_dir() for c in ("memory", "cpu", "pids", "cpu,cpuacct")):
        return "v1"
    raise CgroupError(f"no cgroup hierarchy found under {root}")


def make_driver(version: str, root: Path) -> Driver:
    if version == "v2":
        return V2Driver(root)
    if version == "v1":
        return V1Driver(root)
    raise CgroupError(f"unknown cgroup driver {version!r} (want 'v1' or 'v2')")


class CgroupManager:
    def __init__(
        self, root_name: str, root: Path = DEFAULT_ROOT, driver: str | None = None
    ) -> None:
        self.root_name = root_name.strip("/")
        if not self.root_name:
            raise CgroupError("cgroup root name must not be empty")
        self.root = root
        self.driver = make_driver(driver or detect(root), root)

    @property
    def version(self) -> str:
        return self.driver.version

    def pod_rel(self, pod_uid: str) -> str:
        return f"{self.root_name}/pod{pod_uid}"

    def container_rel(self, pod_uid: str, container_id: str) -> str:
        return f"{self.pod_rel(pod_uid)}/{container_id}"

    def create_pod(self, pod_uid: str, limits: Limits) -> None:
        self.driver.create(self.pod_rel(pod_uid), limits)

    def create_container(self, pod_uid: str, container_id: str, limits: Limits) -> str:
        rel = self.container_rel(pod_uid, container_id)
        if not self.driver.exists(self.pod_rel(pod_uid)):
            self.create_pod(pod_uid, Limits())
        self.driver.create(rel, limits)
        return rel

    def procs_files(self, rel: str) -> list[str]:
        return self.driver.procs_files(rel)

    def oom_file(self, rel: str) -> str:
        return self.driver.oom_file(rel)

    def pids(self, rel: str) -> list[int]:
        return self.driver.pids(rel)

    def stats(self, rel: str) -> CgroupStats:
        return self.driver.stats(rel)

    def kill_all(self, rel: str, timeout: float = 5.0) -> None:
        for child in self.driver.children(rel):
            self.kill_all(f"{rel}/{child}", timeout)
        self.driver.kill_all(rel, timeout)

    def remove(self, rel: str) -> None:
        """Kill what is left in ``rel`` (and its children), then remove the cgroups."""
        if self.driver.exists(rel):
            self.kill_all(rel)
            self.driver.remove(rel)

    def pods(self) -> list[str]:
        """Pod uids that have a cgroup under our root."""
        return [n[3:] for n in self.driver.children(self.root_name) if n.startswith("pod")]

    def containers(self, pod_uid: str) -> list[str]:
        return self.driver.children(self.pod_rel(pod_uid))
