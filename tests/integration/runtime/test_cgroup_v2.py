"""cgroup v2 on a real kernel (pure v2 hosts: the VM lane runs these in a guest):
what the driver writes is what the kernel enforces.  CPU weight and quota,
throttling, memory.max with no swap and the OOM kill counted in memory.events,
pids.max refusing forks, the cgroup a container's processes are in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.runtime.cgroups import Limits
from agent.runtime.cgroups.base import read_keyed, shares_to_weight
from agent.runtime.cgroups.v2 import devices
from agent.runtime.model import Resources
from tests.integration.runtime.conftest import SKIP, Env, wait_for
from tests.integration.runtime.v2env import host_version

pytestmark = [
    pytest.mark.root, pytest.mark.cgroup_specific,
    pytest.mark.skipif(bool(SKIP), reason=SKIP or ""),
    pytest.mark.skipif(host_version() != "v2", reason="cgroup v2 hosts only (the VM lane)"),
]

CG = Path("/sys/fs/cgroup")


def cgroup_of(env: Env, cid: str) -> Path:
    return CG / env.rt.cgroups.container_rel(env.pod_uid, cid)


def test_limits_as_the_kernel_holds_them(env: Env) -> None:
    env.sandbox()
    res = Resources(cpu_request_millis=500, cpu_quota_millis=250, memory_limit_bytes=64 << 20,
                    pids_limit=77)
    cfg = env.config(["sleep", "1000"], resources=res)
    info = env.rt.start_container(cfg)
    cg = cgroup_of(env, cfg.id)
    assert (cg / "cpu.weight").read_text().strip() == str(shares_to_weight(512)) == "20"
    assert (cg / "cpu.max").read_text().split() == ["25000", "100000"]
    assert (cg / "memory.max").read_text().strip() == str(64 << 20)
    assert (cg / "memory.swap.max").read_text().strip() == "0"
    assert (cg / "pids.max").read_text().strip() == "77"
    pod = CG / env.rt.cgroups.pod_rel(env.pod_uid)
    assert {"cpu", "memory", "pids"} <= set((pod / "cgroup.subtree_control").read_text().split())
    # the container's init is in its cgroup (v2: one line, "0::<path>")
    rel = "/" + env.rt.cgroups.container_rel(env.pod_uid, cfg.id)
    assert Path(f"/proc/{info.pid}/cgroup").read_text().strip() == f"0::{rel}"
    assert str(info.pid) in (cg / "cgroup.procs").read_text().split()
    assert len(devices.attached(cg)) == 1


def test_pod_level_limits(env: Env) -> None:
    """A pod's own limits cover all its containers; no pids limit at that level."""
    env.rt.create_pod_sandbox(env.pod_uid, "limited", cgroup_limits=Resources(
        memory_limit_bytes=256 << 20, cpu_quota_millis=1500))
    pod = CG / env.rt.cgroups.pod_rel(env.pod_uid)
    assert (pod / "memory.max").read_text().strip() == str(256 << 20)
    assert (pod / "cpu.max").read_text().split() == ["150000", "100000"]
    assert (pod / "pids.max").read_text().strip() == "max"
    assert len(devices.attached(pod)) == 0   # device access is the containers' business


def test_cpu_weight_range_accepted_by_the_kernel(env: Env) -> None:
    """Kubernetes' shares -> weight conversion lands inside the kernel's [1, 10000]."""
    env.sandbox()
    rel = env.rt.cgroups.create_container(env.pod_uid, "w", Limits(cpu_shares=2))
    assert (CG / rel / "cpu.weight").read_text().strip() == "1"
    env.rt.cgroups.driver.apply(rel, Limits(cpu_shares=262_144))
    assert (CG / rel / "cpu.weight").read_text().strip() == "10000"
    env.rt.cgroups.driver.apply(rel, Limits(cpu_shares=1024))
    assert (CG / rel / "cpu.weight").read_text().strip() == "39"


def test_cpu_quota_throttles_a_busy_loop(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "while :; do :; done"],
                     resources=Resources(cpu_quota_millis=100))
    env.rt.start_container(cfg)
    cg = cgroup_of(env, cfg.id)
    assert (cg / "cpu.max").read_text().split() == ["10000", "100000"]

    def stat() -> dict[str, int]:
        return read_keyed(cg / "cpu.stat")
    wait_for(lambda: stat().get("nr_throttled", 0) >= 5, 60, "cpu.stat nr_throttled >= 5")
    before, t0 = stat(), time.monotonic()
    wait_for(lambda: stat()["nr_periods"] >= before["nr_periods"] + 10, 60,
             "10 more CFS periods")
    after, wall_us = stat(), (time.monotonic() - t0) * 1e6
    used_us = after["usage_usec"] - before["usage_usec"]
    # 100m: at most 10 ms of CPU per 100 ms period, however busy the loop (slack for
    # the periods cut short where we sampled)
    assert used_us <= 0.25 * wall_us + 20_000, (used_us, wall_us, after)
    assert after["nr_throttled"] > before["nr_throttled"]
    assert after["throttled_usec"] > before["throttled_usec"]


def test_oom_kill_is_counted_in_memory_events(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["tail", "/dev/zero"], resources=Resources(memory_limit_bytes=24 << 20))
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id, timeout=120)
    info = env.rt.status(cfg.id)
    assert info.oom_killed and info.reason == "OOMKilled" and info.exit_code == 137
    events = read_keyed(cgroup_of(env, cfg.id) / "memory.events")
    assert events.get("oom_kill", 0) >= 1 and events.get("max", 0) >= 1, events
    assert env.rt.stats(cfg.id).oom_kills >= 1
    # hierarchical: the pod's memory.events counts its containers' kills
    pod_events = read_keyed(CG / env.rt.cgroups.pod_rel(env.pod_uid) / "memory.events")
    assert pod_events.get("oom_kill", 0) >= 1, pod_events


def test_pids_max_refuses_forks(env: Env) -> None:
    env.sandbox()
    # the inner shell forks until it cannot (ash then gives up); PID 1 carries on
    inner = "for i in $(seq 1 30); do sleep 1000 & done"
    script = f"sh -c '{inner}'; echo spawned; exec sleep 1000"
    cfg = env.config(["sh", "-c", script], resources=Resources(pids_limit=8))
    env.rt.start_container(cfg)
    wait_for(lambda: "spawned" in env.output(cfg.id), 60, "the loop to finish")
    assert "can't fork" in env.output(cfg.id).lower(), env.output(cfg.id)
    cg = cgroup_of(env, cfg.id)
    assert (cg / "pids.max").read_text().strip() == "8"
    assert int((cg / "pids.current").read_text()) <= 8
    assert read_keyed(cg / "pids.events").get("max", 0) >= 1   # forks refused
    assert env.rt.stats(cfg.id).pids <= 8
