"""The container's root filesystem, set up inside its new mount namespace.

Order (all in the container's init, before exec): make ``/`` private,
mount the overlay (read-only image layers + per-container upper/work),
/proc, a minimal /dev (tmpfs with null zero full random urandom tty, a
newinstance devpts with /dev/ptmx, /dev/shm, the fd/stdin/stdout/stderr
symlinks), /sys read-only with the container's own cgroups (cgroup
namespace view) at /sys/fs/cgroup, the volumes; pivot_root into it and detach the
old root; then mask (/dev/null or an empty read-only tmpfs over) and
re-mount read-only the OCI default kernel paths.  Mount targets are resolved
inside the new root, so a symlink in an image cannot point a mount outside.
"""

from __future__ import annotations

import errno
import os
import stat

import agent.runtime.syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from agent.runtime.spec import InitSpec, MountSpec

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
             ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))
NOSUID_NODEV_NOEXEC = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def secure_join(root: str, path: str) -> str:
    """``root``/``path`` with every symlink resolved as if ``root`` were /."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 255:
                raise OSError(errno.ELOOP, f"too many symlinks in {path}")
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _ensure(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, exist_ok=True)
    elif not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def mount_overlay(spec: InitSpec, sys_: sc.Syscalls) -> None:
    lower = ":".join(spec.lower_dirs)
    data = f"lowerdir={lower},upperdir={spec.upper_dir},workdir={spec.work_dir}"
    sys_.mount("overlay", spec.rootfs, "overlay", 0, data)


def mount_dev(root: str, sys_: sc.Syscalls) -> None:
    dev = secure_join(root, "/dev")
    _ensure(dev, True)
    sys_.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        path = os.path.join(dev, name)
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    sys_.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=0620,gid=5")
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o1777)
    sys_.mount("shm", shm, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k")
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue, 0o755)
    sys_.mount("mqueue", mqueue, "mqueue", NOSUID_NODEV_NOEXEC)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))


def mount_volume(root: str, m: MountSpec, sys_: sc.Syscalls) -> None:
    target = secure_join(root, m.target)
    if m.kind == "tmpfs":
        _ensure(target, True)
        data = "mode=1777" + (f",size={m.size_bytes}" if m.size_bytes else "")
        flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if m.read_only else 0)
        sys_.mount("tmpfs", target, "tmpfs", flags, data)
        return
    _ensure(target, os.path.isdir(m.source))
    sys_.mount(m.source, target, None, sc.MS_BIND | sc.MS_REC)
    if m.read_only:
        sys_.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def mount_cgroups(root: str, spec: InitSpec, sys_: sc.Syscalls) -> None:
    """/sys/fs/cgroup as the container's cgroup namespace shows it, read-only."""
    if not spec.cgroup_mounts:
        return
    base = secure_join(root, "/sys/fs/cgroup")
    ro = 0 if spec.privileged else sc.MS_RDONLY
    if spec.cgroup_mounts[0][0] == "cgroup2":
        sys_.mount("cgroup", base, "cgroup2", NOSUID_NODEV_NOEXEC | ro)
        return
    sys_.mount("tmpfs", base, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755,size=64k")
    for fstype, name, data in spec.cgroup_mounts:
        target = os.path.join(base, name)
        os.mkdir(target, 0o755)
        sys_.mount("cgroup", target, fstype, NOSUID_NODEV_NOEXEC | ro, data)
        for alias in name.split(","):
            if alias != name:
                os.symlink(name, os.path.join(base, alias))
    sys_.mount(None, base, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | NOSUID_NODEV_NOEXEC)


def build(spec: InitSpec, sys_: sc.Syscalls = sc.SYS) -> None:
    """Mount everything under ``spec.rootfs`` (not yet pivoted)."""
    sys_.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    mount_overlay(spec, sys_)
    root = spec.rootfs
    proc = secure_join(root, "/proc")
    _ensure(proc, True)
    sys_.mount("proc", proc, "proc", NOSUID_NODEV_NOEXEC)
    mount_dev(root, sys_)
    sysfs = secure_join(root, "/sys")
    _ensure(sysfs, True)
    ro = 0 if spec.privileged else sc.MS_RDONLY
    sys_.mount("sysfs", sysfs, "sysfs", NOSUID_NODEV_NOEXEC | ro)
    mount_cgroups(root, spec, sys_)
    for m in spec.mounts:
        mount_volume(root, m, sys_)


def pivot(root: str, sys_: sc.Syscalls = sc.SYS) -> None:
    """pivot_root(".", ".") then lazily detach the old root stacked beneath."""
    os.chdir(root)
    sys_.pivot_root(".", ".")
    sys_.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def harden(spec: InitSpec, sys_: sc.Syscalls = sc.SYS) -> None:
    """After pivot: masked paths, read-only paths, read-only root."""
    if not spec.privileged:
        for path in spec.masked_paths:
            try:
                is_dir = stat.S_ISDIR(os.stat(path).st_mode)
            except FileNotFoundError:
                continue   # nothing to mask
            try:
                if is_dir:
                    sys_.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, "size=0")
                else:
                    sys_.mount("/dev/null", path, None, sc.MS_BIND)
            except FileNotFoundError:
                pass
        for path in spec.readonly_paths:
            if not os.path.exists(path):
                continue
            sys_.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
            sys_.mount(None, path, None,
                       sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | NOSUID_NODEV_NOEXEC)
    if spec.read_only_rootfs:
        sys_.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
