"""cgroup v2's device filter (an eBPF program on the container's cgroup) on a real
kernel: a device outside Docker's default list cannot be opened (EPERM) even by
root with CAP_MKNOD and no seccomp, the allowed ones can, privileged gets all."""

from __future__ import annotations

import errno
import os

import pytest

from agent.runtime import bpf
from agent.runtime.cgroups import Limits
from agent.runtime.cgroups.v2 import devices
from tests.integration.runtime.conftest import Env, wait_for
from tests.integration.runtime.v2env import v2env_fixture  # noqa: F401  (the v2env fixture)

pytestmark = [pytest.mark.root, pytest.mark.cgroup_specific]

# Devices outside the list that anyone may open when nothing filters: /dev/kmsg (1:11)
# write-only (reading it needs CAP_SYSLOG, which would refuse it with EPERM anyway)
# and /dev/loop-control (10:237).
PROBE = r"""
mknod /tmp/kmsg c 1 11 && echo mknod=ok
(exec 3>/tmp/kmsg) 2>/tmp/err && echo kmsg=opened || echo "kmsg=refused $(cat /tmp/err)"
mknod /tmp/lc c 10 237
(exec 3</tmp/lc) 2>/tmp/err && echo lc=opened || echo "lc=refused $(cat /tmp/err)"
mknod /tmp/null c 1 3 && echo hi > /tmp/null && echo mknull=ok
echo hi > /dev/null && echo null=ok
echo "urandom=$(head -c 16 /dev/urandom | wc -c)"
"""


def _run(env: Env, privileged: bool) -> tuple[str, str]:
    env.sandbox()
    cfg = env.config(["sh", "-c", PROBE], seccomp_profile="Unconfined", privileged=privileged)
    env.rt.start_container(cfg)
    cg = env.rt.cgroups.root / env.rt.cgroups.container_rel(env.pod_uid, cfg.id)
    progs = devices.attached(cg)
    env.wait_exited(cfg.id)
    assert env.rt.status(cfg.id).exit_code == 0, env.output(cfg.id)
    return env.output(cfg.id), f"{len(progs)} device program(s) on {cg}"


def test_device_filter_refuses_devices_outside_the_list(v2env: Env) -> None:
    out, progs = _run(v2env, privileged=False)
    assert progs.startswith("1 "), progs
    assert "mknod=ok" in out and "mknull=ok" in out, out   # mknod of anything is allowed
    for dev in ("kmsg", "lc"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{dev}="))
        # EPERM from the filter, not ENXIO from a missing driver
        assert line.startswith(f"{dev}=refused") and "Operation not permitted" in line, out
    assert "null=ok" in out and "urandom=16" in out, out


def test_without_the_filter_the_same_probe_opens_them(v2env: Env,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutation check of the test above: a runtime with the device filter left out
    (devices.apply a no-op) runs the same unprivileged probe, and /dev/kmsg opens and
    /dev/loop-control is not refused with EPERM, so the refusals asserted above come
    from the filter alone and that test fails without it."""
    monkeypatch.setattr(devices, "apply", lambda *_a, **_k: None)
    out, progs = _run(v2env, privileged=False)
    assert progs.startswith("0 "), progs
    assert "kmsg=opened" in out, out
    lc = next(ln for ln in out.splitlines() if ln.startswith("lc="))
    assert "Operation not permitted" not in lc, out


def test_privileged_may_open_any_device(v2env: Env) -> None:
    out, progs = _run(v2env, privileged=True)
    assert progs.startswith("0 "), progs
    assert "kmsg=opened" in out and "null=ok" in out, out


def loaded(prog_id: int) -> bool:
    """Whether the kernel still holds the program ``prog_id``."""
    try:
        os.close(bpf.prog_fd_by_id(prog_id))
        return True
    except OSError as e:
        assert e.errno == errno.ENOENT, e
        return False


def test_reapplying_replaces_the_program_and_none_is_left(v2env: Env) -> None:
    v2env.sandbox()
    rel = v2env.rt.cgroups.create_container(v2env.pod_uid, "devs", Limits(devices="default"))
    path = v2env.rt.cgroups.root / rel
    first = devices.attached(path)
    v2env.rt.cgroups.driver.apply(rel, Limits(devices="default"))
    second = devices.attached(path)
    assert len(first) == len(second) == 1 and first != second
    wait_for(lambda: not loaded(first[0]), 10, "the replaced program to be freed")
    v2env.rt.cgroups.driver.apply(rel, Limits(devices="all"))
    assert devices.attached(path) == []
    wait_for(lambda: not loaded(second[0]), 10, "the detached program to be freed")
    v2env.rt.cgroups.driver.apply(rel, Limits(devices="default"))
    third = devices.attached(path)
    # removing the cgroup releases its program: nothing of ours stays in the kernel
    v2env.rt.cgroups.remove(rel)
    wait_for(lambda: not loaded(third[0]), 30, "the removed cgroup's program to be freed")
