"""Pod sandboxes: the pod's state dir, cgroup, and persistent IPC (and net) namespaces.

A ``/proc/<pid|self>/ns/net`` network namespace (hostNetwork pods: the agent's
own, which is the node's) is bind-mounted into ``pods/<uid>/ns/net`` too, but
never created or owned: removing the sandbox only drops that bind.
The IPC namespace (and the network namespace when the caller gives none) is
created and kept alive by bind-mounting its ns file into ``pods/<uid>/ns/``;
every container of the pod setns()es into them.  The runtime's zygote makes
them itself and setns()es back (zygote_child.make_namespaces, no fork: ~0.5 ms),
else a throwaway util-linux ``unshare --ipc=FILE [--net=FILE]`` running
``true`` (or ``ip link set lo up`` for a new netns): ~5-10 ms, else our
Python ``nsholder`` helper (~60-140 ms, bench/README.md).
emptyDir volumes live in ``pods/<uid>/volumes/<name>``: a plain directory, or
a tmpfs of ``size_limit_bytes`` for medium Memory.  A disk emptyDir's
sizeLimit is not enforced (Kubernetes evicts the pod instead; we have no
eviction yet).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import agent.runtime.mountinfo as mountinfo
import agent.runtime.state as state
import agent.runtime.syscalls as sc
from agent.runtime.cgroups import CgroupManager, Limits
from agent.runtime.errors import InvalidConfig, MountError, SandboxNotFound
from agent.runtime.helpers import check_id, remove_cgroup, run_helper
from agent.runtime.model import Sandbox

Holder = Callable[[dict[str, Path]], bool]   # makes and mounts namespaces; False: did not


def load(pods_dir: Path, pod_uid: str) -> Sandbox:
    rec = state.read_json(pods_dir / pod_uid / "sandbox.json")
    if rec is None:
        raise SandboxNotFound(pod_uid)
    return Sandbox(
        pod_uid=rec["pod_uid"], pod_name=rec["pod_name"], dir=Path(rec["dir"]),
        ipc_ns=Path(rec["ipc_ns"]), net_ns=Path(rec["net_ns"]),
        owns_netns=rec["owns_netns"], cgroup=rec["cgroup"],
    )


def create(pods_dir: Path, cgroups: CgroupManager, pod_uid: str, pod_name: str,
           netns_path: Path | None, limits: Limits, holder: Holder | None = None) -> Sandbox:
    check_id("pod uid", pod_uid)
    try:
        return load(pods_dir, pod_uid)
    except SandboxNotFound:
        pass
    if netns_path is not None and not netns_path.exists():
        raise InvalidConfig(f"network namespace {netns_path} does not exist")
    pod_dir = pods_dir / pod_uid
    ns_dir = pod_dir / "ns"
    (pod_dir / "volumes").mkdir(parents=True, exist_ok=True)
    ns_dir.mkdir(exist_ok=True)
    try:
        cgroups.create_pod(pod_uid, limits)
        kinds = {"ipc": ns_dir / "ipc"}
        if netns_path is None:
            kinds["net"] = ns_dir / "net"
        for path in kinds.values():
            path.touch()
        hold_namespaces(kinds, holder)
        if netns_path is not None and netns_path.is_relative_to("/proc"):
            netns_path = pin_namespace(netns_path, ns_dir / "net")
        box = Sandbox(pod_uid=pod_uid, pod_name=pod_name, dir=pod_dir, ipc_ns=kinds["ipc"],
                      net_ns=netns_path or kinds["net"], owns_netns=netns_path is None,
                      cgroup=cgroups.pod_rel(pod_uid))
        rec = {"pod_uid": pod_uid, "pod_name": pod_name, "dir": str(pod_dir),
               "ipc_ns": str(box.ipc_ns), "net_ns": str(box.net_ns),
               "owns_netns": box.owns_netns, "cgroup": box.cgroup}
        state.write_json_atomic(pod_dir / "sandbox.json", rec)
        return box
    except BaseException:
        destroy(pods_dir, cgroups, pod_uid)
        raise


def hold_namespaces(kinds: dict[str, Path], holder: Holder | None = None) -> None:
    """New namespaces of ``kinds`` ("ipc", "net"), bind-mounted on their (existing) files;
    a new network namespace gets its loopback up.  ``holder`` (the runtime's zygote:
    a fork, no exec) is tried first."""
    if holder is not None:
        if holder(kinds):
            return
        for p in kinds.values():   # in case it failed after a mount
            mountinfo.unmount_under(str(p))
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare and (ip or "net" not in kinds):
        argv = [unshare, *(f"--{k}={p}" for k, p in kinds.items()), "--"]
        argv += [ip, "link", "set", "lo", "up"] if "net" in kinds and ip else ["true"]
        r = subprocess.run(argv, cwd="/", capture_output=True, timeout=30, check=False)
        if r.returncode == 0:
            return
        for p in kinds.values():   # in case it failed after a mount
            mountinfo.unmount_under(str(p))
    # no util-linux unshare (or no iproute2 for the loopback): our helper does it all
    run_helper("nsholder", *(f"{k}={p}" for k, p in kinds.items()))


def pin_namespace(proc_ns: Path, target: Path) -> Path:
    """Bind a live process's namespace (``/proc/self/ns/net``: the agent's own, i.e. the
    node's, for hostNetwork pods) onto ``target``, so the pod keeps that namespace whoever
    starts its containers later.  Unmounting the bind (destroy) leaves the namespace be."""
    target.touch()
    try:
        sc.SYS.mount(str(proc_ns), str(target), None, sc.MS_BIND)
    except OSError as e:
        raise MountError(f"cannot pin network namespace {proc_ns} on {target}: {e}") from e
    return target


def empty_dir(pods_dir: Path, pod_uid: str, name: str, medium: str = "",
              size_limit_bytes: int | None = None) -> Path:
    check_id("volume name", name)
    if not (pods_dir / pod_uid / "sandbox.json").exists():
        raise SandboxNotFound(pod_uid)
    path = pods_dir / pod_uid / "volumes" / name
    path.mkdir(mode=0o777, exist_ok=True)
    path.chmod(0o777)
    if medium == "Memory":
        if str(path.resolve()) not in mountinfo.mount_points():
            data = "mode=1777" + (f",size={size_limit_bytes}" if size_limit_bytes else "")
            try:
                sc.SYS.mount("tmpfs", str(path), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, data)
            except OSError as e:
                raise MountError(f"emptyDir {name}: {e}") from e
    elif medium:
        raise InvalidConfig(f"emptyDir {name}: unsupported medium {medium!r}")
    return path


def destroy(pods_dir: Path, cgroups: CgroupManager, pod_uid: str,
            discard: Callable[[Path], None] = shutil.rmtree,
            mounts: Sequence[str] | None = None) -> None:
    """Unmount namespaces and volumes, remove the cgroup and the directory (`discard`:
    the runtime's trash, trash.py, deletes it in the background).  ``mounts``: the
    mount table (``mountinfo.mount_points()``) as the caller read it just before;
    when it shows nothing below the pod but its namespace files, it is not read again."""
    pod_dir = pods_dir / pod_uid
    left: list[str] = []
    if pod_dir.exists():
        ns_files = [str(pod_dir / "ns" / kind) for kind in ("ipc", "net")]
        for path in ns_files:   # what create mounted: detached without a lookup
            try:
                sc.SYS.umount2(path, sc.MNT_DETACH)
            except OSError:
                pass   # not mounted (a failed create), or no such file
        seen = None if mounts is None else mountinfo.below(str(pod_dir), mounts)
        if seen is None or len(seen) != len(set(seen)) or set(seen) - set(ns_files):
            # anything else (volumes, a namespace mounted twice): the mount table again
            left = mountinfo.unmount_under(str(pod_dir))
    remove_cgroup(cgroups, cgroups.pod_rel(pod_uid))
    if pod_dir.exists():
        if left:
            raise MountError(f"mounts left under {pod_dir}")
        discard(pod_dir)
