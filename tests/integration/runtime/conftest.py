"""Fixtures for the runtime's integration tests: real namespaces, cgroups, overlayfs.

Every test gets its own state dir and cgroup subtree; teardown removes every
container and pod sandbox, then asserts that no mount, cgroup or process is
left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from agent.images.__main__ import build_busybox
from agent.runtime import state
from agent.runtime.cgroups import CgroupManager
from agent.runtime.model import ContainerConfig
from agent.runtime.mountinfo import under, unmount_under
from agent.runtime.runtime import Runtime

T = TypeVar("T")

pytestmark = pytest.mark.root


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    with open("/proc/self/status") as f:
        cap_eff = next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapEff:"))
    if not cap_eff >> 21 & 1:
        return "needs CAP_SYS_ADMIN"
    if not Path("/bin/busybox").exists():
        return "needs busybox-static at /bin/busybox"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "needs overlayfs"
    return None


SKIP = _usable()


def wait_for(cond: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``cond`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def busybox_root() -> Iterator[Path]:
    if SKIP:
        pytest.skip(SKIP)
    tmp = Path(tempfile.mkdtemp(prefix="corral-bb-"))
    root = tmp / "rootfs"
    try:
        build_busybox(str(root))
        yield root
    finally:
        shutil.rmtree(tmp)


class Env:
    """A runtime in a temp state dir plus helpers to build container configs."""

    def __init__(self, rt: Runtime, root: Path, tmp: Path) -> None:
        self.rt = rt
        self.root = root
        self.tmp = tmp
        self.pod_uid = "pod-" + uuid.uuid4().hex[:8]
        self.pod_name = "testpod"
        self._n = 0

    def sandbox(self, pod_uid: str | None = None, pod_name: str | None = None) -> str:
        uid = pod_uid or self.pod_uid
        self.rt.create_pod_sandbox(uid, pod_name or self.pod_name)
        return uid

    def config(self, argv: list[str], **kw: object) -> ContainerConfig:
        self._n += 1
        fields: dict[str, object] = {
            "id": f"c{self._n}-{uuid.uuid4().hex[:6]}", "pod_uid": self.pod_uid,
            "name": f"c{self._n}", "pod_name": self.pod_name, "lower_dirs": [self.root],
            "argv": argv,
        }
        fields.update(kw)
        return ContainerConfig(**fields)  # type: ignore[arg-type]

    def wait_exited(self, cid: str, timeout: float = 15.0) -> None:
        wait_for(lambda: self.rt.status(cid).state == "exited", timeout, f"{cid} to exit")

    def log(self, cid: str) -> str:
        path = self.rt.status(cid).log_path
        assert path is not None
        return path.read_text() if path.exists() else ""

    def output(self, cid: str) -> str:
        """The log's message parts joined (full lines only)."""
        lines = [ln.split(" ", 3) for ln in self.log(cid).splitlines()]
        return "\n".join(p[3] if len(p) > 3 else "" for p in lines)


def cgroup_paths(root_name: str) -> list[Path]:
    """``root_name`` (a glob) in every v1 hierarchy, or in the one v2 tree."""
    base = Path("/sys/fs/cgroup")
    return [p for p in [*base.glob(root_name), *base.glob(f"*/{root_name}")] if p.is_dir()]


@pytest.fixture
def env(busybox_root: Path) -> Iterator[Env]:
    tmp = Path(tempfile.mkdtemp(prefix="corral-rt-"))
    top = f"corral-test-{uuid.uuid4().hex[:8]}"
    rt = Runtime(tmp / "state", f"{top}/node1")
    e = Env(rt, busybox_root, tmp)
    pids: list[int] = []
    try:
        yield e
    finally:
        try:
            for info in rt.list():
                if info.pid:
                    pids.append(info.pid)
            rt.cleanup_orphans(set(), set())
        finally:
            leftover_cgroups = cgroup_paths(f"{top}/node1/*")
            CgroupManager(top).driver.remove(top)
            leftover_mounts = under(str(tmp))
            unmount_under(str(tmp))
            shutil.rmtree(tmp, ignore_errors=True)
        assert not leftover_mounts, f"mounts left behind: {leftover_mounts}"
        assert not leftover_cgroups, f"cgroups left behind: {leftover_cgroups}"
        assert not cgroup_paths(top), "cgroup root could not be removed"
        # a zombie whose parent (a killed shim) is gone is init's to reap, not a leak
        alive = [p for p in pids if state.alive(p, None)]
        assert not alive, f"processes left behind: {alive}"
