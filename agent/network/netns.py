"""Named network namespaces (``/var/run/netns/<name>``) that outlive the agent.

Why not just ``pyroute2.netns.create``: in the local cluster the agent runs
under ``ip netns exec <node-ns>``, which puts it in a *new mount namespace*
whose mounts are slaves of the host's ("don't let any mounts propagate back").
A bind mount made there — which is what naming a netns is — would be visible
only to the agent and its children and would vanish with them: the pod netns
would be invisible to ``ip netns``, to other tools, and to the agent restarted
after a crash. So the bind mounts are made in the mount namespace that owns
``/var/run/netns`` (:func:`find_owner_mount_ns`): a forked, single-threaded
child ``setns()``es into it, unshares a fresh network namespace and binds it
there; the mount then propagates back down into the agent's view.

When the agent already runs in that mount namespace (Vagrant, tests that only
switch the network namespace) this reduces to what ``ip netns add`` does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import traceback
from collections.abc import Callable

from agent.network.errors import InvalidNetworkConfig, NetnsError

NETNS_RUN_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidNetworkConfig(f"network namespace name {name!r} is not a valid file name")
    return name


def path_of(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, check_name(name))


def exists(name: str) -> bool:
    """True if ``name`` is a bound network namespace in this process' view."""
    p = path_of(name)
    try:
        return os.stat(p).st_dev != os.stat(NETNS_RUN_DIR).st_dev
    except OSError:
        return False


def list_names(prefix: str = "") -> list[str]:
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def _mountinfo_field(mountinfo: str, mount_point: str) -> list[str] | None:
    """The optional fields (``shared:N``, ``master:N``) of ``mount_point``'s top mount."""
    found: list[str] | None = None
    for line in mountinfo.splitlines():
        parts = line.split()
        if len(parts) < 7 or parts[4] != mount_point:
            continue
        opt: list[str] = []
        for f in parts[6:]:
            if f == "-":
                break
            opt.append(f)
        found = opt  # the last one listed is the one on top
    return found


def find_owner_mount_ns() -> str | None:
    """The mount namespace new netns bind mounts must be made in, or None for ours.

    None when ``/var/run/netns`` in our mount namespace propagates to its peers
    (or is no mount at all). When it is a slave (``master:N``, as under ``ip netns
    exec``), find a process whose mount namespace holds the master copy
    (``shared:N`` and itself no slave) and return its ``/proc/<pid>/ns/mnt``.
    """
    run_dir = os.path.realpath(NETNS_RUN_DIR)
    try:
        with open("/proc/self/mountinfo") as f:
            mine = _mountinfo_field(f.read(), run_dir)
    except OSError:
        return None
    if mine is None:
        return None
    master = [f.split(":", 1)[1] for f in mine if f.startswith("master:")]
    if not master:
        return None
    want = f"shared:{master[0]}"
    own_ns = os.stat("/proc/self/ns/mnt").st_ino
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    for pid in pids:
        try:
            if os.stat(f"/proc/{pid}/ns/mnt").st_ino == own_ns:
                continue
            with open(f"/proc/{pid}/mountinfo") as f:
                theirs = _mountinfo_field(f.read(), run_dir)
        except OSError:
            continue
        if theirs and want in theirs and not any(x.startswith("master:") for x in theirs):
            return f"/proc/{pid}/ns/mnt"
    return None


def setns_net(fd: int) -> None:
    """Move the calling *thread* into the network namespace open at ``fd``."""
    _check(_lib().setns(fd, CLONE_NEWNET), "setns(network namespace)")


def open_mount_ns(path: str | None) -> int | None:
    """Open (and so pin) a mount namespace; None stays None (= our own)."""
    if path is None:
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetnsError(f"cannot open mount namespace {path}: {e}") from e


def _in_child(mount_ns_fd: int | None, fn_name: str, name: str) -> None:
    """Run ``_create_here``/``_remove_here`` in a forked child (setns needs one thread)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: single-threaded, may switch mount and network namespaces
        os.close(r)
        code = 0
        try:
            if mount_ns_fd is not None:
                _check(_lib().setns(mount_ns_fd, CLONE_NEWNS), "setns(mount namespace)")
            (_create_here if fn_name == "create" else _remove_here)(name)
        except BaseException as e:
            msg = f"{e}" if isinstance(e, OSError) else traceback.format_exc()
            os.write(w, msg.encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        err = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or err:
        raise NetnsError(f"cannot {fn_name} network namespace {name}: {err or 'child failed'}")


def _create_here(name: str) -> None:
    lib = _lib()
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    # Like iproute2: make the run dir a shared mount so netns mounts propagate.
    if lib.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None) != 0:
        _check(
            lib.mount(NETNS_RUN_DIR.encode(), NETNS_RUN_DIR.encode(), b"none",
                      MS_BIND | MS_REC, None),
            "bind-mount the netns run dir",
        )
        _check(lib.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None),
               "share the netns run dir")
    p = os.path.join(NETNS_RUN_DIR, name).encode()
    os.close(os.open(p, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        _check(lib.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        # thread-self: the same as self in the forked child; in a thread, its netns
        _check(lib.mount(b"/proc/thread-self/ns/net", p, b"none", MS_BIND, None), "bind netns")
    except OSError:
        os.unlink(p)
        raise


def _remove_here(name: str) -> None:
    p = os.path.join(NETNS_RUN_DIR, name)
    _lib().umount2(p.encode(), MNT_DETACH)  # EINVAL when not mounted: fine
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def create(name: str, mount_ns_fd: int | None = None,
           in_thread: Callable[[Callable[[], None]], None] | None = None) -> str:
    """Create the named netns (no-op if it exists); return its path.

    ``in_thread``: with no mount namespace to switch to, run the unshare-and-bind
    through it on the calling thread (``nlthread.away``, which brings the thread
    back to its own netns) instead of in a forked child."""
    p = path_of(name)
    if exists(name):
        return p
    if os.path.lexists(p):  # a stale, unmounted file (crash mid-create)
        remove(name, mount_ns_fd)
    if in_thread is not None and mount_ns_fd is None:
        try:
            in_thread(lambda: _create_here(name))
        except OSError as e:
            raise NetnsError(f"cannot create network namespace {name}: {e}") from e
    else:
        _in_child(mount_ns_fd, "create", name)
    if not exists(name):
        raise NetnsError(
            f"network namespace {name} was created but {p} is not visible here"
            " (mount propagation between mount namespaces?)"
        )
    return p


def remove(name: str, mount_ns_fd: int | None = None) -> None:
    """Unbind and delete the named netns; no-op if it does not exist."""
    p = path_of(name)
    if not os.path.lexists(p):
        return
    _lib().umount2(p.encode(), MNT_DETACH)  # our own view first (slave copies)
    if mount_ns_fd is None:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise NetnsError(f"cannot remove network namespace {name}: {e}") from e
    else:
        _in_child(mount_ns_fd, "remove", name)
