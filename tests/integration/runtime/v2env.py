"""A runtime on a real cgroup2 hierarchy, wherever this host has one: /sys/fs/cgroup
on a pure v2 host (the VM lane's guests), /sys/fs/cgroup/unified on a hybrid one
(no controllers there, but eBPF device programs and cgroup.kill work).

Test modules import ``v2env_fixture``; their tests take ``v2env``."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime import state
from agent.runtime.cgroups import detect
from agent.runtime.errors import CgroupError
from agent.runtime.mountinfo import under, unmount_under
from agent.runtime.runtime import Runtime
from tests.integration.runtime.conftest import SKIP, Env


def host_version() -> str:
    try:
        return detect()
    except CgroupError:
        return ""


def cgroup2_root() -> Path | None:
    if host_version() == "v2":
        return Path("/sys/fs/cgroup")
    unified = Path("/sys/fs/cgroup/unified")
    return unified if (unified / "cgroup.procs").exists() else None


@pytest.fixture(name="v2env")
def v2env_fixture(busybox_root: Path) -> Iterator[Env]:
    """Like conftest's ``env``, with the v2 driver on the host's cgroup2 mount."""
    root = cgroup2_root()
    if root is None or SKIP:
        pytest.skip(SKIP or "cgroup v1 only host: no cgroup2 hierarchy to filter devices on")
    tmp = Path(tempfile.mkdtemp(prefix="corral-rt2-"))
    top = f"corral-test-{uuid.uuid4().hex[:8]}"
    rt = Runtime(tmp / "state", f"{top}/node1", cgroup_driver="v2", cgroup_root=root)
    e = Env(rt, busybox_root, tmp)
    pids: list[int] = []
    try:
        yield e
    finally:
        try:
            pids = [i.pid for i in rt.list() if i.pid]
            rt.cleanup_orphans(set(), set())
        finally:
            leftover_cgroups = sorted(str(p) for p in (root / top).rglob("*")
                                      if p.is_dir()) if (root / top).is_dir() else []
            rt.cgroups.driver.remove(top)
            leftover_mounts = under(str(tmp))
            unmount_under(str(tmp))
            shutil.rmtree(tmp, ignore_errors=True)
        # the removed container's and pod's cgroups; node1 itself stays until the end
        assert leftover_cgroups in ([], [str(root / top / "node1")]), \
            f"cgroups left behind: {leftover_cgroups}"
        assert not (root / top).exists(), "cgroup root could not be removed"
        assert not leftover_mounts, f"mounts left behind: {leftover_mounts}"
        alive = [p for p in pids if state.alive(p, None)]
        assert not alive, f"processes left behind: {alive}"
