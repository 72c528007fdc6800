"""Nothing is left behind: removal, orphans after a crash mid-create."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.runtime.cgroups import Limits
from agent.runtime.mountinfo import under
from tests.integration.runtime.conftest import SKIP, Env, cgroup_paths

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def test_remove_pod_sandbox_leaves_nothing(env: Env) -> None:
    env.sandbox()
    vol = env.rt.empty_dir(env.pod_uid, "mem", medium="Memory", size_limit_bytes=1 << 20)
    a = env.rt.start_container(env.config(["sleep", "1000"]))
    b = env.rt.start_container(env.config(["sh", "-c", "sleep 1000 & sleep 1000"],
                                          mounts=[]))
    assert under(str(env.tmp)) and vol.exists()
    env.rt.remove_pod_sandbox(env.pod_uid)
    assert env.rt.list() == []
    assert under(str(env.tmp)) == []
    assert not cgroup_paths(f"{env.rt.cgroups.root_name}/pod{env.pod_uid}")
    for pid in (a.pid, b.pid):
        assert not Path(f"/proc/{pid}").exists()
    assert not (env.rt.pods_dir / env.pod_uid).exists()
    assert list(env.rt.containers_dir.iterdir()) == []


def test_cleanup_orphans_after_crash_mid_create(env: Env) -> None:
    env.sandbox()
    kept = env.rt.start_container(env.config(["sleep", "1000"]))
    stray = env.rt.start_container(env.config(["sleep", "1000"]))
    # a create that crashed after the directory and the cgroup, before the shim
    half = env.rt.containers_dir / "half-made"
    for sub in ("rootfs", "upper", "work"):
        (half / sub).mkdir(parents=True)
    env.rt.cgroups.create_container(env.pod_uid, "half-made", Limits(pids_max=10))
    # a cgroup whose container directory is gone
    env.rt.cgroups.create_container(env.pod_uid, "ghost", Limits())
    # a pod sandbox nobody wants any more
    env.rt.create_pod_sandbox("old-pod", "old")
    env.rt.cleanup_orphans({kept.id})
    assert [c.id for c in env.rt.list()] == [kept.id]
    assert stray.pid and not Path(f"/proc/{stray.pid}").exists()
    assert kept.pid and Path(f"/proc/{kept.pid}").exists()
    assert not half.exists()
    assert sorted(env.rt.cgroups.containers(env.pod_uid)) == [kept.id]
    assert env.rt.cgroups.pods() == [env.pod_uid]
    assert not (env.rt.pods_dir / "old-pod").exists()
    assert not under(str(env.rt.pods_dir / "old-pod"))
    os.kill(kept.pid, 0)  # still ours to stop in teardown
