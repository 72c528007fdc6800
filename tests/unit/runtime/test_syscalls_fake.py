"""Kernel calls recorded through a fake Syscalls: no root needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.runtime import caps, container, rootfs
from agent.runtime import syscalls as sc
from agent.runtime.spec import InitSpec, MountSpec
from tests.unit.runtime.fakes import RecordingSyscalls


def _spec(tmp_path: Path, **kw: object) -> InitSpec:
    fields: dict[str, object] = {
        "container_id": "c1", "hostname": "pod", "argv": ["sh"], "env": [],
        "rootfs": str(tmp_path / "rootfs"), "lower_dirs": ["/l1", "/l2"],
        "upper_dir": "/u", "work_dir": "/w",
    }
    fields.update(kw)
    return InitSpec(**fields)  # type: ignore[arg-type]


def test_join_namespaces_setns_then_unshare(tmp_path: Path) -> None:
    ipc = tmp_path / "ipc"
    ipc.touch()
    fake = RecordingSyscalls()
    container.join_namespaces(_spec(tmp_path, ipc_ns=str(ipc)), fake)
    assert fake.calls == [
        ("setns", (sc.CLONE_NEWIPC,)),
        ("unshare", (sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWCGROUP | sc.CLONE_NEWNET,)),
    ]


def test_overlay_and_pivot(tmp_path: Path) -> None:
    fake = RecordingSyscalls()
    spec = _spec(tmp_path)
    rootfs.mount_overlay(spec, fake)
    assert fake.calls[0] == ("mount", ("overlay", spec.rootfs, "overlay", 0,
                                       "lowerdir=/l1:/l2,upperdir=/u,workdir=/w"))
    (tmp_path / "rootfs").mkdir()
    cwd = os.getcwd()
    try:
        rootfs.pivot(spec.rootfs, fake)
    finally:
        os.chdir(cwd)
    assert fake.calls[1:] == [("pivot_root", (".", ".")), ("umount2", (".", sc.MNT_DETACH))]


def test_volume_mounts(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    fake = RecordingSyscalls()
    rootfs.mount_volume(str(root), MountSpec(target="/data", source=str(src), read_only=True),
                        fake)
    rootfs.mount_volume(str(root), MountSpec(target="/scratch", kind="tmpfs",
                                             size_bytes=1024), fake)
    assert fake.calls == [
        ("mount", (str(src), str(root / "data"), None, sc.MS_BIND | sc.MS_REC, None)),
        ("mount", (None, str(root / "data"), None,
                   sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None)),
        ("mount", ("tmpfs", str(root / "scratch"), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV,
                   "mode=1777,size=1024")),
    ]
    assert (root / "data").is_dir() and (root / "scratch").is_dir()


@pytest.mark.skipif(not Path("/proc/sys").is_dir(), reason="needs /proc")
def test_harden_masks_and_read_only_paths(tmp_path: Path) -> None:
    fake = RecordingSyscalls()
    spec = _spec(tmp_path, masked_paths=["/proc/sys", "/proc/version"],
                 readonly_paths=["/proc/bus", "/nonexistent"], read_only_rootfs=True)
    rootfs.harden(spec, fake)
    targets = [(c[1][0], c[1][1]) for c in fake.calls]
    assert ("tmpfs", "/proc/sys") in targets           # a directory: empty read-only tmpfs
    assert ("/dev/null", "/proc/version") in targets    # a file: /dev/null bound over it
    assert ("/proc/bus", "/proc/bus") in targets and (None, "/proc/bus") in targets
    assert all(t[1] != "/nonexistent" for t in targets)
    assert fake.calls[-1] == ("mount", (None, "/", None,
                                        sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None))


def test_privileged_skips_masks(tmp_path: Path) -> None:
    fake = RecordingSyscalls()
    rootfs.harden(_spec(tmp_path, privileged=True), fake)
    assert fake.calls == []


def test_capability_calls(tmp_path: Path) -> None:
    fake = RecordingSyscalls()
    mask = caps.resolve()
    caps.drop_bounding(mask, fake)
    dropped = {c[1][1] for c in fake.calls if c[1][0] == sc.PR_CAPBSET_DROP}
    assert dropped == {n for n in range(caps.last_cap() + 1) if not mask >> n & 1}
    fake.calls.clear()
    caps.set_process_caps(mask, 0, fake)
    assert fake.calls == [("capset", (mask, mask, mask)),
                          ("prctl", (sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL))]
    fake.calls.clear()
    caps.set_process_caps(mask, 1000, fake)
    assert fake.names() == ["prctl"]


def test_lookup_reports_like_docker(tmp_path: Path) -> None:
    assert container.lookup("sh", ["PATH=/bin"], "/") == "/bin/sh"
    with pytest.raises(container.InitError,
                       match='exec: "nope": executable file not found in \\$PATH'):
        container.lookup("nope", ["PATH=/bin"], "/")


def test_cgroup_mounts_v1_and_v2(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "sys" / "fs" / "cgroup").mkdir(parents=True)
    fake = RecordingSyscalls()
    spec = _spec(tmp_path, cgroup_mounts=[["cgroup", "cpu,cpuacct", "cpu,cpuacct"],
                                          ["cgroup", "memory", "memory"]])
    rootfs.mount_cgroups(str(root), spec, fake)
    base = str(root / "sys" / "fs" / "cgroup")
    ro = sc.MS_RDONLY | rootfs.NOSUID_NODEV_NOEXEC
    assert fake.calls[1:3] == [
        ("mount", ("cgroup", f"{base}/cpu,cpuacct", "cgroup", ro, "cpu,cpuacct")),
        ("mount", ("cgroup", f"{base}/memory", "cgroup", ro, "memory")),
    ]
    assert os.readlink(f"{base}/cpu") == "cpu,cpuacct"
    assert os.readlink(f"{base}/cpuacct") == "cpu,cpuacct"
    fake = RecordingSyscalls()
    rootfs.mount_cgroups(str(root), _spec(tmp_path, cgroup_mounts=[["cgroup2", "", ""]]), fake)
    assert fake.calls == [("mount", ("cgroup", base, "cgroup2", ro, None))]
