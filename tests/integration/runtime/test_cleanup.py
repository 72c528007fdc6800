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


CRASHING_AGENT = """
import os, signal, sys
from pathlib import Path
from agent.runtime import launch
from agent.runtime.model import ContainerConfig
from agent.runtime.runtime import Runtime

def crash(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[5] == "after-spawn":
    launch.read_until_eof = crash  # the shim is started; we die before it reports
else:
    launch.spawn_shim = crash      # cgroup, dirs and spec exist; no shim yet
rt = Runtime(Path(sys.argv[1]), sys.argv[2])
rt.create_pod_sandbox(sys.argv[3], "crashy")
rt.start_container(ContainerConfig(
    id="crashy", pod_uid=sys.argv[3], name="main", pod_name="crashy",
    lower_dirs=[Path(sys.argv[4])], argv=["sleep", "1000"]))
"""


@pytest.mark.parametrize("when", ["before-spawn", "after-spawn"])
def test_agent_crash_mid_create_then_cleanup(env: Env, when: str) -> None:
    import subprocess
    import sys

    from agent.runtime.helpers import PROJECT_ROOT
    from agent.runtime.runtime import Runtime
    from tests.integration.runtime.conftest import wait_for

    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_AGENT, str(env.rt.state_dir), env.rt.cgroups.root_name,
         env.pod_uid, str(env.root), when], cwd=PROJECT_ROOT, check=False)
    assert proc.returncode == -9
    cdir = env.rt.containers_dir / "crashy"
    assert cdir.exists()
    rel = f"{env.rt.cgroups.root_name}/pod{env.pod_uid}/crashy"
    if when == "after-spawn":  # the shim carried on without the agent
        wait_for(lambda: env.rt.cgroups.pids(rel), what="the container to start")
    fresh = Runtime(env.rt.state_dir, env.rt.cgroups.root_name)
    fresh.cleanup_orphans(set())
    assert not cdir.exists()
    assert not fresh.cgroups.driver.exists(rel)
    assert not (env.rt.pods_dir / env.pod_uid).exists()
    assert under(str(env.tmp)) == []
