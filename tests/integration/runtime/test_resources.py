"""cgroup limits enforced: OOM kill reported, fork bomb capped, stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.model import Resources
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def test_memory_hog_is_oom_killed(env: Env) -> None:
    env.sandbox()
    # tail keeps the whole (newline-free) "last line" of /dev/zero in memory
    cfg = env.config(["tail", "/dev/zero"],
                     resources=Resources(memory_limit_bytes=32 << 20))
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id, timeout=60)
    info = env.rt.status(cfg.id)
    assert info.oom_killed and info.reason == "OOMKilled"
    assert info.exit_code == 137 and info.signal == 9


def test_fork_bomb_stops_at_pids_max(env: Env) -> None:
    env.sandbox()
    # the inner shell forks until it cannot (and gives up); PID 1 then keeps the pod alive
    inner = "for i in $(seq 1 60); do sleep 1000 & done"
    script = f"sh -c '{inner}'; echo spawned; exec sleep 1000"
    cfg = env.config(["sh", "-c", script], resources=Resources(pids_limit=16))
    env.rt.start_container(cfg)
    wait_for(lambda: "spawned" in env.output(cfg.id), timeout=30, what="the loop to finish")
    assert "can't fork" in env.output(cfg.id).lower() or "resource temporarily" in \
        env.output(cfg.id).lower()
    assert 12 <= env.rt.stats(cfg.id).pids <= 16  # the inner shell itself has exited
    rel = f"{env.rt.cgroups.pod_rel(env.pod_uid)}/{cfg.id}"
    pids_dir = Path("/sys/fs/cgroup/pids") if env.rt.cgroups.version == "v1" \
        else env.rt.cgroups.root
    assert (pids_dir / rel / "pids.max").read_text().strip() == "16"
    env.rt.stop(cfg.id, grace_seconds=0)
    assert env.rt.stats(cfg.id).pids == 0


def test_stats_report_usage(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; "
                                  "echo done; sleep 1000"])
    env.rt.start_container(cfg)
    wait_for(lambda: "done" in env.output(cfg.id), timeout=60, what="busy loop")
    st = env.rt.stats(cfg.id)
    assert st.cpu_usage_ns > 10_000_000
    assert 0 < st.memory_working_set_bytes <= st.memory_usage_bytes
    assert st.pids >= 1


def _pod_files(env: Env) -> dict[str, Path]:
    """The kernel's files for the pod's cgroup, whatever the version."""
    cg = env.rt.cgroups
    rel = cg.pod_rel(env.pod_uid)
    if cg.version == "v1":
        base = Path("/sys/fs/cgroup")
        return {"memory": base / "memory" / rel / "memory.limit_in_bytes",
                "pids": base / "pids" / rel / "pids.max",
                "hit": base / "memory" / rel / "memory.max_usage_in_bytes"}
    d = cg.root / rel
    return {"memory": d / "memory.max", "pids": d / "pids.max", "hit": d / "memory.events"}


def _reached_limit(f: Path, limit: int) -> bool:
    """The cgroup's usage (its children's included) reached its limit: v1 its peak
    usage is the limit, v2 memory.events counts hits of memory.max (hierarchically)."""
    text = f.read_text()
    if f.name == "memory.max_usage_in_bytes":
        return int(text) == limit
    return int(dict(ln.split() for ln in text.splitlines())["max"]) > 0


def test_pod_level_limits(env: Env) -> None:
    """The pod's own cgroup carries the pod's limit (both versions), and the kernel
    enforces it on a container that has no limit of its own."""
    env.rt.create_pod_sandbox(env.pod_uid, "limited",
                              cgroup_limits=Resources(memory_limit_bytes=48 << 20))
    files = _pod_files(env)
    assert files["memory"].read_text().strip() == str(48 << 20)
    assert files["pids"].read_text().strip() == "max"
    cfg = env.config(["tail", "/dev/zero"])          # no limit of its own
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id, timeout=60)
    info = env.rt.status(cfg.id)
    assert info.oom_killed and info.exit_code == 137 and info.signal == 9
    assert _reached_limit(files["hit"], 48 << 20)   # the pod's limit, not the node's


def test_pod_stats_cover_all_containers(env: Env) -> None:
    env.sandbox()
    for _ in range(2):
        env.rt.start_container(env.config(["sleep", "1000"]))
    st = env.rt.pod_stats(env.pod_uid)
    assert st.pids == 2 and st.memory_usage_bytes > 0


def test_container_sees_its_own_limits_in_sys_fs_cgroup(env: Env) -> None:
    env.sandbox()
    if env.rt.cgroups.version == "v1":
        script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
                  "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us; ls /sys/fs/cgroup/memory | wc -l; "
                  "(echo 1 > /sys/fs/cgroup/pids/pids.max) 2>/dev/null && echo rw || echo ro")
        want = [str(48 << 20), "77", "50000"]
    else:
        script = ("cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; "
                  "cut -d' ' -f1 /sys/fs/cgroup/cpu.max; ls /sys/fs/cgroup | wc -l; "
                  "(echo 1 > /sys/fs/cgroup/pids.max) 2>/dev/null && echo rw || echo ro")
        want = [str(48 << 20), "77", "50000"]
    cfg = env.config(["sh", "-c", script], resources=Resources(
        memory_limit_bytes=48 << 20, pids_limit=77, cpu_quota_millis=500))
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id).splitlines()
    assert out[:3] == want
    assert int(out[3]) > 5  # the cgroup's files, no host sub-tree
    assert out[4] == "ro"


UNIFIED = Path("/sys/fs/cgroup/unified")


@pytest.mark.cgroup_specific
@pytest.mark.skipif(not (UNIFIED / "cgroup.procs").exists(),
                    reason="cgroup hybrid hosts only: no v2 hierarchy beside v1 here")
def test_v2_driver_on_the_real_unified_hierarchy(busybox_root: Path) -> None:
    """On a hybrid host the v2 tree has no cpu/memory/pids: limits are skipped, but
    creating, joining, stats, kill-all (cgroup.kill) and removal run on a real cgroup2fs."""
    import shutil
    import tempfile
    import uuid

    from agent.runtime.model import ContainerConfig
    from agent.runtime.mountinfo import under
    from agent.runtime.runtime import Runtime

    tmp = Path(tempfile.mkdtemp(prefix="corral-v2-"))
    top = f"corral-test-v2-{uuid.uuid4().hex[:6]}"
    rt = Runtime(tmp / "state", f"{top}/node1", cgroup_driver="v2", cgroup_root=UNIFIED)
    try:
        rt.create_pod_sandbox("p1", "v2pod")
        info = rt.start_container(ContainerConfig(
            id="v2c", pod_uid="p1", name="m", pod_name="v2pod", lower_dirs=[busybox_root],
            argv=["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
                              "sleep 1000 & sleep 1000"],
            resources=Resources(memory_limit_bytes=64 << 20)))
        rel = f"{top}/node1/podp1/v2c"
        procs = (UNIFIED / rel / "cgroup.procs").read_text().split()
        assert str(info.pid) in procs
        # the limit is where the kernel offers the controller, and only there
        offered = (UNIFIED / rel).parent.joinpath("cgroup.controllers").read_text().split()
        if "memory" in offered:
            assert (UNIFIED / rel / "memory.max").read_text().strip() == str(64 << 20)
        else:       # a hybrid host: memory belongs to v1, the v2 tree has no memory.max
            assert not (UNIFIED / rel / "memory.max").exists()
        # cpu.stat exists with or without the cpu controller: usage is the kernel's
        def kernel_ns() -> int:
            stat = (UNIFIED / rel / "cpu.stat").read_text().splitlines()
            return int(dict(ln.split() for ln in stat)["usage_usec"]) * 1000
        wait_for(lambda: rt.stats("v2c").cpu_usage_ns > 0, 30, "the busy loop's CPU time")
        before = kernel_ns()
        reported = rt.stats("v2c").cpu_usage_ns
        assert before <= reported <= kernel_ns()
        after = rt.stop("v2c", grace_seconds=0)
        assert after.exit_code == 137
        rt.remove_pod_sandbox("p1")
        assert not (UNIFIED / rel).exists()
    finally:
        rt.cleanup_orphans(set(), set())
        rt.cgroups.driver.remove(top)
        leftover = under(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    assert not (UNIFIED / top).exists()
    assert leftover == []
