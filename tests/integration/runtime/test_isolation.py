"""What a container sees inside, and what the host sees from outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.runtime.model import Resources
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]

DOCKER_CAPS = "00000000a80425fb"

INSIDE = r"""
echo "hostname=$(hostname)"
echo "pid=$$"
echo "ps=$(ps -o pid,comm | tail -n +2 | tr -s ' ' | tr '\n' ',')"
grep -E '^(NoNewPrivs|CapEff|CapBnd|CapPrm|CapInh|CapAmb):' /proc/self/status
for fd in /proc/self/fd/*; do echo "fd=${fd##*/}->$(readlink $fd)"; done
[ -e /proc/kcore ] && echo "kcore=$(wc -c </proc/kcore 2>/dev/null),\
masks=$(grep -c ' /proc/kcore ' /proc/self/mountinfo)" || echo kcore=absent
echo "timer_list=$(wc -c < /proc/timer_list)"
touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro
(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo procsys=rw || echo procsys=ro
echo "cgroup=$(cat /proc/self/cgroup | tr '\n' ',')"
ls /dev | tr '\n' ' '; echo
echo "uid=$(id -u)"
grep -E '^Seccomp:' /proc/self/status
(echo b > /proc/sysrq-trigger) 2>/dev/null && echo sysrq=written || echo sysrq=refused
mkdir -p /mnt/t && mount -t tmpfs none /mnt/t 2>/dev/null && echo mount=ok || echo mount=refused
nsenter -t 1 -n true 2>/dev/null && echo setns=ok || echo setns=refused
unshare -m true 2>/dev/null && echo unshare=ok || echo unshare=refused
unshare -U true 2>/dev/null && echo userns=ok || echo userns=refused
[ -e "/dev/$DISK" ] && echo disk=present || echo disk=absent
mknod /tmp/disk b $DISK_DEV 2>/dev/null && echo mknod=ok || echo mknod=refused
(exec 3</tmp/disk) 2>/dev/null && echo rawdisk=opened || echo rawdisk=refused
"""


def host_disk() -> tuple[str, str]:
    """A block device of this host ("vda", "254 0"), or a made-up one if it has none."""
    for dev in sorted(Path("/sys/block").glob("*/dev")):
        if not dev.parent.name.startswith(("loop", "ram", "zram")):
            return dev.parent.name, dev.read_text().strip().replace(":", " ")
    return "sda", "8 0"


def test_inside_view(env: Env) -> None:
    env.sandbox(pod_name="inside-pod")
    disk, disk_dev = host_disk()
    cfg = env.config(["sh", "-c", INSIDE], pod_name="inside-pod",
                     env={"DISK": disk, "DISK_DEV": disk_dev})
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id)
    assert env.rt.status(cfg.id).exit_code == 0, out
    assert "hostname=inside-pod" in out
    assert "pid=1" in out
    ps = next(ln for ln in out.splitlines() if ln.startswith("ps="))
    # only the shell, the ps/tail/tr pipeline: all of them small pids in our namespace
    pids = [int(x.split()[0]) for x in ps[3:].split(",") if x.strip()]
    assert 1 in pids and max(pids) < 50, ps
    assert "NoNewPrivs:\t1" in out
    for field in ("CapEff", "CapPrm", "CapBnd", "CapInh"):
        assert f"{field}:\t{DOCKER_CAPS}" in out, out
    assert "CapAmb:\t0000000000000000" in out
    fds = [ln for ln in out.splitlines() if ln.startswith("fd=")]
    extra = [f for f in fds if f.split("=")[1].split("->")[0] not in ("0", "1", "2")]
    # the only other fd is the one the glob used to read /proc/self/fd (closed by now)
    assert all(f.endswith("->") or "/proc/" in f for f in extra), fds
    assert len(extra) <= 1, fds
    # masked (/dev/null bound over it: reads nothing) where the kernel has one
    assert "kcore=absent" in out or "kcore=0,masks=1" in out, out
    assert "timer_list=0" in out
    assert "sys=ro" in out
    assert "procsys=ro" in out
    assert "cgroup=" in out and "corral-test" not in out  # cgroup namespace hides the path
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
                "fd", "stdin", "stdout", "stderr"):
        assert f" {dev} " in f" {out} " or f"{dev} " in out, (dev, out)
    assert "uid=0" in out
    # the default seccomp profile (mode 2: filter), and what it and the caps refuse
    assert "Seccomp:\t2" in out, out
    for refused in ("sysrq", "mount", "setns", "unshare", "userns", "mknod", "rawdisk"):
        assert f"{refused}=refused" in out, (refused, out)
    assert "disk=absent" in out


def test_outside_view(env: Env) -> None:
    env.sandbox()
    res = Resources(cpu_request_millis=500, cpu_quota_millis=250, memory_limit_bytes=64 << 20,
                    pids_limit=None)
    cfg = env.config(["sleep", "1000"], resources=res)
    info = env.rt.start_container(cfg)
    assert info.state == "running" and info.pid
    pid = info.pid
    for ns in ("mnt", "pid", "uts", "ipc", "net", "cgroup"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    box = env.rt.pod_sandbox(env.pod_uid)
    assert os.stat(f"/proc/{pid}/ns/ipc").st_ino == os.stat(box.ipc_ns).st_ino
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(box.net_ns).st_ino
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2"]
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"CapEff:\t{DOCKER_CAPS}" in status and "NoNewPrivs:\t1" in status
    rel = f"{env.rt.cgroups.root_name}/pod{env.pod_uid}/{cfg.id}"
    cg = Path("/sys/fs/cgroup")
    if env.rt.cgroups.version == "v1":
        assert (cg / "cpu" / rel / "cpu.shares").read_text().strip() == "512"
        assert (cg / "cpu" / rel / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (cg / "cpu" / rel / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (cg / "memory" / rel / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        memsw = cg / "memory" / rel / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            assert memsw.read_text().strip() == str(64 << 20)
        assert (cg / "pids" / rel / "pids.max").read_text().strip() == "1024"
        assert str(pid) in (cg / "memory" / rel / "cgroup.procs").read_text().split()
    else:
        assert (cg / rel / "cpu.max").read_text().split() == ["25000", "100000"]
        assert (cg / rel / "memory.max").read_text().strip() == str(64 << 20)
        assert (cg / rel / "pids.max").read_text().strip() == "1024"
    stats = env.rt.stats(cfg.id)
    assert stats.memory_usage_bytes > 0 and stats.pids == 1
    env.rt.stop(cfg.id, grace_seconds=0.2)
    assert env.rt.status(cfg.id).state == "exited"


def test_pod_containers_share_ipc_and_net(env: Env) -> None:
    env.sandbox()
    a = env.rt.start_container(env.config(["sleep", "1000"]))
    b = env.rt.start_container(env.config(["sleep", "1000"]))
    assert a.pid and b.pid
    for ns in ("ipc", "net"):
        assert os.readlink(f"/proc/{a.pid}/ns/{ns}") == os.readlink(f"/proc/{b.pid}/ns/{ns}")
    for ns in ("pid", "mnt", "uts"):
        assert os.readlink(f"/proc/{a.pid}/ns/{ns}") != os.readlink(f"/proc/{b.pid}/ns/{ns}")


def test_run_as_user_and_caps(env: Env) -> None:
    env.sandbox()
    cfg = env.config(
        ["sh", "-c", "id -u; id -g; grep -E '^Cap(Eff|Bnd)' /proc/self/status"],
        user=65534, group=65534, cap_drop=["NET_RAW"], cap_add=["SYS_TIME"],
    )
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id).splitlines()
    assert out[0] == "65534" and out[1] == "65534"
    assert "CapEff:\t0000000000000000" in out
    expected = (0xA80425FB & ~(1 << 13)) | (1 << 25)
    assert f"CapBnd:\t{expected:016x}" in out


PRIVILEGED = (
    "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; "
    "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && touch /mnt/t/f && echo mount=ok; "
    "unshare -m true && echo unshare=ok"
)


def test_privileged_has_all_caps_no_seccomp_and_can_mount(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", PRIVILEGED], privileged=True)
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id)
    bnd = next(ln for ln in Path("/proc/self/status").read_text().splitlines()
               if ln.startswith("CapBnd:")).split()[1]
    assert f"CapEff:\t{bnd}" in out
    assert "Seccomp:\t0" in out and "NoNewPrivs:\t0" in out, out
    assert "mount=ok" in out and "unshare=ok" in out, out


def test_working_dir_created(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "pwd"], working_dir="/srv/app/data")
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert env.output(cfg.id).strip() == "/srv/app/data"


def test_env_passed(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", 'echo "$GREETING $HOSTNAME"'], env={"GREETING": "hi"})
    env.rt.start_container(cfg)
    wait_for(lambda: "hi testpod" in env.output(cfg.id), what="output")


LOOP_CONTROL = (
    "mknod /tmp/lc c 10 237 && "  # /dev/loop-control: not in a container's allow list
    "( (exec 3</tmp/lc) 2>/dev/null && echo dev=opened || echo dev=denied)"
)


def test_devices_cgroup_denies_other_devices(env: Env) -> None:
    """v1: the devices controller; v2: the eBPF device filter (test_devices_v2.py)."""
    if not Path("/dev/loop-control").exists():
        pytest.skip("no /dev/loop-control on this host")
    env.sandbox()
    # seccomp refuses the mknod itself: without it, the devices cgroup must still refuse the open
    cfg = env.config(["sh", "-c", LOOP_CONTROL], seccomp_profile="Unconfined")
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert "dev=denied" in env.output(cfg.id)


def test_privileged_may_open_devices(env: Env) -> None:
    if not Path("/dev/loop-control").exists():
        pytest.skip("no /dev/loop-control on this host")
    env.sandbox()
    cfg = env.config(["sh", "-c", LOOP_CONTROL], privileged=True)
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert "dev=opened" in env.output(cfg.id)


def test_pod_network_namespace(env: Env) -> None:
    """Without a netns path the pod gets its own, loopback up; with one, it is joined."""
    env.sandbox()
    cfg = env.config(["sh", "-c", "cat /sys/class/net/lo/flags; ls /sys/class/net"])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    flags, ifaces = env.output(cfg.id).splitlines()[:2]
    assert int(flags, 16) & 0x1 and ifaces.split() == ["lo"]
    given = env.rt.pod_sandbox(env.pod_uid).net_ns  # reuse it as "the network room's" netns
    other = "other-pod"
    box = env.rt.create_pod_sandbox(other, "other", netns_path=given)
    assert box.net_ns == given and not box.owns_netns
    c = env.rt.start_container(env.config(["sleep", "1000"], pod_uid=other))
    assert os.stat(f"/proc/{c.pid}/ns/net").st_ino == os.stat(given).st_ino
    env.rt.remove_pod_sandbox(other)
    assert given.exists()  # not ours to remove
