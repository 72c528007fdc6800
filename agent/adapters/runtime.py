"""The runtime port onto agent/runtime: containers, sandboxes, exec sessions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.adapters.attach import SocketAttachSession
from agent.adapters.pool import run_blocking
from agent.ports import (
    CREATED,
    EXITED,
    RUNNING,
    UNKNOWN,
    AttachSession,
    ContainerInfo,
    ContainerSpec,
    ContainerUsage,
    ExecResult,
    ExecSession,
    ExecStartError,
)


def _epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _signal(name: str) -> int:
    if not name:
        return int(signal.SIGTERM)
    n = name.upper()
    if n.isdigit():
        return int(n)
    if not n.startswith("SIG"):
        n = "SIG" + n
    try:
        return int(signal.Signals[n])
    except KeyError:
        raise ValueError(f"unknown stop signal {name!r}") from None


def _lookup_id(layer_dirs: list[str], file: str, name: str) -> int | None:
    """A user or group name from the image's /etc/passwd or /etc/group (topmost layer wins)."""
    for d in reversed(layer_dirs):
        path = os.path.join(d, "etc", file)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, errors="replace") as f:
                for line in f:
                    parts = line.split(":")
                    if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
                        return int(parts[2])
            return None
    return None


def resolve_user(user: str, layer_dirs: list[str]) -> tuple[int | None, int | None]:
    """'uid', 'uid:gid', 'name', 'name:group' -> numeric ids (names from the image)."""
    if not user:
        return None, None
    u, _, g = user.partition(":")
    uid = int(u) if u.isdigit() else _lookup_id(layer_dirs, "passwd", u)
    if uid is None:
        raise ValueError(f"user {u!r} is not in the image's /etc/passwd")
    gid: int | None = None
    if g:
        gid = int(g) if g.isdigit() else _lookup_id(layer_dirs, "group", g)
        if gid is None:
            raise ValueError(f"group {g!r} is not in the image's /etc/group")
    return uid, gid


# ---- the runtime ------------------------------------------------------------------------------


class _Session:
    """ExecSession over agent.runtime's ExecProcess (pipes or a pty)."""

    def __init__(self, proc: Any, tty: bool) -> None:
        self.proc = proc
        self.tty = tty
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        fds: list[tuple[str, int]] = []
        if tty and proc.master_fd is not None:
            fds.append(("stdout", proc.master_fd))
        else:
            if proc.stdout is not None:
                fds.append(("stdout", proc.stdout.fileno()))
            if proc.stderr is not None:
                fds.append(("stderr", proc.stderr.fileno()))
        self.open_streams = len(fds)
        for stream, fd in fds:
            threading.Thread(target=self._pump, args=(stream, fd), daemon=True).start()

    def _pump(self, stream: str, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                self.loop.call_soon_threadsafe(self.queue.put_nowait, None)
                return
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (stream, data))

    async def write(self, data: bytes) -> None:
        if self.tty and self.proc.master_fd is not None:
            await run_blocking(os.write, self.proc.master_fd, data)
        elif self.proc.stdin is not None and not self.proc.stdin.closed:
            def w() -> None:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            await run_blocking(w)

    async def close_stdin(self) -> None:
        if self.tty:
            if self.proc.master_fd is not None:
                with contextlib.suppress(OSError):
                    os.write(self.proc.master_fd, b"\x04")
        elif self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        if self.tty and width and height:
            with contextlib.suppress(Exception):
                self.proc.resize(height, width)

    async def read(self) -> tuple[str, bytes] | None:
        while self.open_streams > 0:
            item = await self.queue.get()
            if item is None:
                self.open_streams -= 1
                continue
            return item
        return None

    async def wait(self) -> int:
        return int(await run_blocking(self.proc.wait))

    async def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()


# what the agent keeps with each container, as runtime labels (meta.json)
_ATTEMPT, _NAMESPACE, _POD_NAME, _IMAGE, _IMAGE_ID = (
    "attempt", "namespace", "pod_name", "image", "image_id")


class RuntimeAdapter:
    """ContainerRuntimePort over agent.runtime.Runtime.

    The runtime knows a container's id, pod uid and name; what else the agent
    needs back (attempt, namespace, pod name, image) rides along as the
    container's labels, which the runtime keeps in its meta.json.
    """

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self._listed: dict[str, tuple[object, ContainerInfo]] = {}

    def version(self) -> str:
        return "corral://0.1.0"

    def _info(self, c: Any) -> ContainerInfo:
        labels: dict[str, str] = c.labels
        attempt = labels.get(_ATTEMPT, "0")
        state = c.state if c.state in (RUNNING, EXITED, CREATED) else UNKNOWN
        return ContainerInfo(
            id=c.id, pod_uid=c.pod_uid, name=c.name,
            attempt=int(attempt) if attempt.isdigit() else 0,
            state=state, pid=c.pid or 0, exit_code=c.exit_code, signal=c.signal or 0,
            oom_killed=c.oom_killed, created_at=_epoch(c.created_at) or 0.0,
            started_at=_epoch(c.started_at), finished_at=_epoch(c.finished_at),
            image=labels.get(_IMAGE, ""), image_id=labels.get(_IMAGE_ID, ""),
            log_path=str(c.log_path or ""), namespace=labels.get(_NAMESPACE, ""),
            pod_name=labels.get(_POD_NAME, ""), reason=c.reason or "", message=c.message or "")

    async def ensure_sandbox(self, pod_uid: str, namespace: str, name: str,
                             netns_path: str) -> None:
        await run_blocking(self.rt.create_pod_sandbox, pod_uid, name,
                   Path(netns_path) if netns_path else None)

    async def remove_sandbox(self, pod_uid: str) -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await run_blocking(self.rt.remove_pod_sandbox, pod_uid, 0)
        except ContainerNotFound:
            pass

    async def volume_dir(self, pod_uid: str, name: str, medium: str, size_bytes: int) -> str:
        path = await run_blocking(self.rt.empty_dir, pod_uid, name, medium, size_bytes or None)
        return str(path)

    async def start_container(self, spec: ContainerSpec) -> ContainerInfo:
        from agent.runtime.model import ContainerConfig, Mount, Resources
        cid = secrets.token_hex(16)
        uid, gid = resolve_user(spec.user, spec.layer_dirs)
        cfg = ContainerConfig(
            id=cid, pod_uid=spec.pod_uid, name=spec.name, pod_name=spec.hostname or spec.pod_name,
            lower_dirs=[Path(d) for d in reversed(spec.layer_dirs)], argv=list(spec.argv),
            env=dict(spec.env), working_dir=spec.working_dir or "/", user=uid, group=gid,
            resources=Resources(
                # requests.cpu, or limits.cpu without one (Kubernetes' default)
                cpu_request_millis=spec.cpu_request_millis or spec.cpu_millis or None,
                cpu_quota_millis=spec.cpu_millis or None,
                memory_limit_bytes=spec.memory_bytes or None),
            stop_signal=signal.Signals(_signal(spec.stop_signal)), tty=spec.tty,
            stdin=spec.stdin, stdin_once=spec.stdin_once,
            mounts=[Mount(m.container_path, m.host_path, m.read_only) for m in spec.mounts],
            privileged=spec.security.privileged, cap_add=list(spec.security.cap_add),
            cap_drop=list(spec.security.cap_drop), no_new_privs=spec.security.no_new_privs,
            read_only_rootfs=spec.security.read_only_rootfs,
            seccomp_profile=spec.security.seccomp_profile,
            labels={_ATTEMPT: str(spec.attempt), _NAMESPACE: spec.namespace,
                    _POD_NAME: spec.pod_name, _IMAGE: spec.image, _IMAGE_ID: spec.image_id})
        return self._info(await run_blocking(self.rt.start_container, cfg))

    async def list_containers(self) -> list[ContainerInfo]:
        listed = await run_blocking(self.rt.list)
        # the runtime answers an unchanged container with the same object: its
        # conversion is the one made last time (nobody changes a listed ContainerInfo)
        known, self._listed = self._listed, {}
        out = []
        for c in listed:
            prev = known.get(c.id)
            info = prev[1] if prev is not None and prev[0] is c else self._info(c)
            self._listed[c.id] = (c, info)
            out.append(info)
        return out

    async def stop_container(self, container_id: str, grace_seconds: float,
                             stop_signal: str = "") -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await run_blocking(self.rt.stop, container_id, grace_seconds)
        except ContainerNotFound:
            pass

    async def remove_container(self, container_id: str) -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await run_blocking(self.rt.remove, container_id, 0)
        except ContainerNotFound:
            pass

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        from agent.runtime.errors import ContainerNotFound, ExecError
        try:
            proc = await run_blocking(self.rt.exec, container_id, argv, False)
        except (ExecError, ContainerNotFound) as e:
            raise ExecStartError(str(e)) from e

        def communicate() -> ExecResult:
            # communicate() closes stdin itself (an empty input); closing it first made
            # it flush a closed file: ValueError, every exec probe failed
            try:
                out, err = proc.proc.communicate(timeout=timeout)
                return ExecResult(int(proc.proc.returncode), (out or b"") + (err or b""))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.proc.communicate()
                return ExecResult(-1, b"", timed_out=True)
        return await run_blocking(communicate)

    async def exec_session(self, container_id: str, argv: list[str], tty: bool, stdin: bool,
                           width: int, height: int) -> ExecSession:
        proc = await run_blocking(self.rt.exec, container_id, argv, tty)
        s = _Session(proc, tty)
        await s.resize(width, height)
        if not stdin:
            await s.close_stdin()
        return s

    async def attach_session(self, container_id: str, stdin: bool, width: int,
                             height: int) -> AttachSession | None:
        from agent.runtime.errors import AttachError
        try:
            sock = await run_blocking(self.rt.attach, container_id, stdin)
        except AttachError:
            return None
        session = await SocketAttachSession.open(sock)
        await session.resize(width, height)
        return session

    async def usage(self, container_id: str) -> ContainerUsage:
        st = await run_blocking(self.rt.stats, container_id)
        return ContainerUsage(cpu_usage_core_nano_seconds=st.cpu_usage_ns,
                              memory_usage_bytes=st.memory_usage_bytes,
                              memory_working_set_bytes=st.memory_working_set_bytes,
                              pids=st.pids)

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        keep = {c.id for c in await run_blocking(self.rt.list) if c.pod_uid in keep_pod_uids}
        await run_blocking(self.rt.cleanup_orphans, keep, set(keep_pod_uids))


# ---- images -----------------------------------------------------------------------------------
