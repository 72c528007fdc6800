"""cgroup limits enforced: OOM kill reported, fork bomb capped, stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime import Resources
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
    if env.rt.cgroups.version == "v1":
        rel = f"{env.rt.cgroups.root_name}/pod{env.pod_uid}/{cfg.id}"
        assert Path("/sys/fs/cgroup/pids", rel, "pids.max").read_text().strip() == "16"
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
