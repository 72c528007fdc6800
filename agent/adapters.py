"""Thin adapters from the agent's ports (agent/ports.py) onto the real things:
the control plane's Api over gRPC, agent/runtime, agent/images, agent/network.

Blocking calls of the runtime, image and network modules run in threads
(asyncio.to_thread) so the event loop keeps serving probes, watches and
the Agent service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc

from agent.config import AgentConfig
from agent.ports import (
    CREATED,
    EXITED,
    RUNNING,
    UNKNOWN,
    ApiAlreadyExists,
    ApiConflict,
    ApiGone,
    ApiNotFound,
    ApiUnavailable,
    ContainerInfo,
    ContainerSpec,
    ContainerUsage,
    ExecResult,
    ExecSession,
    ImageInfo,
    ImageNeverPullError,
    ImagePullError,
    ImageSummaryInfo,
    PodNet,
    Progress,
)
from proto import api_pb2, api_pb2_grpc

T = TypeVar("T")

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN,
              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL}


def translate(e: grpc.aio.AioRpcError) -> Exception:
    code = e.code()
    msg = e.details() or code.name
    if code == grpc.StatusCode.NOT_FOUND:
        return ApiNotFound(msg)
    if code == grpc.StatusCode.ABORTED:
        return ApiConflict(msg)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return ApiAlreadyExists(msg)
    if code == grpc.StatusCode.OUT_OF_RANGE:
        return ApiGone(msg)
    if code in _RETRYABLE:
        return ApiUnavailable(f"{code.name}: {msg}")
    return RuntimeError(f"{code.name}: {msg}")


class GrpcApi:
    """ApiPort over the control plane's `Api` gRPC service."""

    OPTIONS = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5_000),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ]

    def __init__(self, address: str, timeout: float = 10.0,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        """`credentials`: mTLS with the node certificate (None: plaintext, --insecure)."""
        self.address = address
        self.timeout = timeout
        self.channel = self._dial(credentials)
        self.stub = api_pb2_grpc.ApiStub(self.channel)

    def _dial(self, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
        if credentials is None:
            return grpc.aio.insecure_channel(self.address, options=self.OPTIONS)
        return grpc.aio.secure_channel(self.address, credentials, options=self.OPTIONS)

    async def reconnect(self, credentials: grpc.ChannelCredentials) -> None:
        """Use new credentials (a renewed certificate) from now on; calls in flight on
        the old channel end (CANCELLED, retried by their loops)."""
        old, self.channel = self.channel, self._dial(credentials)
        self.stub = api_pb2_grpc.ApiStub(self.channel)
        await old.close(grace=5)

    async def close(self) -> None:
        await self.channel.close()

    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object:
        try:
            obj: api_pb2.Object = await self.stub.Get(
                api_pb2.GetRequest(resource=resource, namespace=namespace, name=name),
                timeout=self.timeout)
            return obj
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def list(self, resource: str, namespace: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList:
        try:
            out: api_pb2.ObjectList = await self.stub.List(
                api_pb2.ListRequest(resource=resource, namespace=namespace,
                                    field_selector=field_selector), timeout=self.timeout * 3)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def watch(self, resource: str, namespace: str = "", field_selector: str = "",
                    resource_version: str = "") -> AsyncIterator[api_pb2.WatchEvent]:
        call = self.stub.Watch(api_pb2.WatchRequest(
            resource=resource, namespace=namespace, field_selector=field_selector,
            resource_version=resource_version, allow_bookmarks=True))
        try:
            async for ev in call:
                yield ev
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None
        finally:
            call.cancel()

    async def create(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.Create(api_pb2.CreateRequest(object=obj),
                                                         timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def update(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.Update(api_pb2.UpdateRequest(object=obj),
                                                         timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def update_status(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.UpdateStatus(
                api_pb2.UpdateRequest(object=obj), timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def delete(self, resource: str, namespace: str, name: str,
                     grace_period_seconds: int | None = None) -> api_pb2.Object:
        req = api_pb2.DeleteRequest(resource=resource, namespace=namespace, name=name)
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        try:
            out: api_pb2.Object = await self.stub.Delete(req, timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None



# ---- blocking work off the event loop -----------------------------------------------------

_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="agent-io")


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call in the agent's own pool (stops wait out grace periods,
    so the default small pool would starve)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, functools.partial(fn, *args))


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
            await _run(os.write, self.proc.master_fd, data)
        elif self.proc.stdin is not None and not self.proc.stdin.closed:
            def w() -> None:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            await _run(w)

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
        return int(await _run(self.proc.wait))

    async def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()


class RuntimeAdapter:
    """ContainerRuntimePort over agent.runtime.Runtime.

    The runtime knows a container's id, pod uid and name; the agent keeps the
    rest (attempt, namespace, pod name, image) in a small sidecar record per
    container under <data-dir>/agent-containers/.
    """

    def __init__(self, runtime: Any, data_dir: str) -> None:
        self.rt = runtime
        self.meta_dir = os.path.join(data_dir, "agent-containers")
        os.makedirs(self.meta_dir, exist_ok=True)

    def version(self) -> str:
        return "corral://0.1.0"

    def _meta_path(self, cid: str) -> str:
        return os.path.join(self.meta_dir, cid + ".json")

    def _read_meta(self, cid: str) -> dict[str, Any]:
        try:
            with open(self._meta_path(cid)) as f:
                d: dict[str, Any] = json.load(f)
                return d
        except (OSError, ValueError):
            return {}

    def _write_meta(self, cid: str, meta: dict[str, Any]) -> None:
        path = self._meta_path(cid)
        with open(path + ".tmp", "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)

    def _info(self, c: Any) -> ContainerInfo:
        meta = self._read_meta(c.id)
        exit_code = c.exit_code
        state = c.state if c.state in (RUNNING, EXITED, CREATED) else UNKNOWN
        return ContainerInfo(
            id=c.id, pod_uid=c.pod_uid, name=c.name, attempt=int(meta.get("attempt", 0)),
            state=state, pid=c.pid or 0, exit_code=exit_code, signal=c.signal or 0,
            oom_killed=c.oom_killed, created_at=_epoch(c.created_at) or meta.get("created", 0.0),
            started_at=_epoch(c.started_at), finished_at=_epoch(c.finished_at),
            image=meta.get("image", ""), image_id=meta.get("image_id", ""),
            log_path=str(c.log_path or ""), namespace=meta.get("namespace", ""),
            pod_name=meta.get("pod_name", ""), init=bool(meta.get("init", False)),
            reason=c.reason or "", message=c.message or "")

    async def ensure_sandbox(self, pod_uid: str, namespace: str, name: str,
                             netns_path: str) -> None:
        await _run(self.rt.create_pod_sandbox, pod_uid, name,
                   Path(netns_path) if netns_path else None)

    async def remove_sandbox(self, pod_uid: str) -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await _run(self.rt.remove_pod_sandbox, pod_uid, 0)
        except ContainerNotFound:
            pass

    async def volume_dir(self, pod_uid: str, name: str, medium: str, size_bytes: int) -> str:
        path = await _run(self.rt.empty_dir, pod_uid, name, medium, size_bytes or None)
        return str(path)

    async def start_container(self, spec: ContainerSpec) -> ContainerInfo:
        from agent.runtime.model import ContainerConfig, Mount, Resources
        cid = secrets.token_hex(16)
        uid, gid = resolve_user(spec.user, spec.layer_dirs)
        shares = None
        if spec.cpu_request_millis or spec.cpu_millis:
            shares = max(2, (spec.cpu_request_millis or spec.cpu_millis) * 1024 // 1000)
        cfg = ContainerConfig(
            id=cid, pod_uid=spec.pod_uid, name=spec.name, pod_name=spec.hostname or spec.pod_name,
            lower_dirs=[Path(d) for d in reversed(spec.layer_dirs)], argv=list(spec.argv),
            env=dict(spec.env), working_dir=spec.working_dir or "/", user=uid, group=gid,
            resources=Resources(cpu_shares=shares, cpu_quota_millis=spec.cpu_millis or None,
                                memory_limit_bytes=spec.memory_bytes or None),
            stop_signal=signal.Signals(_signal(spec.stop_signal)), tty=spec.tty,
            stdin=spec.stdin,
            mounts=[Mount(m.container_path, m.host_path, m.read_only) for m in spec.mounts])
        self._write_meta(cid, {
            "attempt": spec.attempt, "namespace": spec.namespace, "pod_name": spec.pod_name,
            "image": spec.image, "image_id": spec.image_id, "init": spec.init,
            "created": time.time()})
        try:
            info = await _run(self.rt.start_container, cfg)
        except Exception:
            try:
                await _run(self.rt.status, cid)     # the shim recorded a start error
            except Exception:
                with contextlib.suppress(OSError):
                    os.unlink(self._meta_path(cid))
            raise
        return self._info(info)

    async def list_containers(self) -> list[ContainerInfo]:
        return [self._info(c) for c in await _run(self.rt.list)]

    async def stop_container(self, container_id: str, grace_seconds: float,
                             stop_signal: str = "") -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await _run(self.rt.stop, container_id, grace_seconds)
        except ContainerNotFound:
            pass

    async def remove_container(self, container_id: str) -> None:
        from agent.runtime.errors import ContainerNotFound
        try:
            await _run(self.rt.remove, container_id, 0)
        except ContainerNotFound:
            pass
        with contextlib.suppress(OSError):
            os.unlink(self._meta_path(container_id))

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        proc = await _run(self.rt.exec, container_id, argv, False)

        def communicate() -> ExecResult:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
                out, err = proc.proc.communicate(timeout=timeout)
                return ExecResult(int(proc.proc.returncode), (out or b"") + (err or b""))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.proc.communicate()
                return ExecResult(-1, b"", timed_out=True)
        return await _run(communicate)

    async def exec_session(self, container_id: str, argv: list[str], tty: bool, stdin: bool,
                           width: int, height: int) -> ExecSession:
        proc = await _run(self.rt.exec, container_id, argv, tty)
        s = _Session(proc, tty)
        await s.resize(width, height)
        if not stdin:
            await s.close_stdin()
        return s

    async def usage(self, container_id: str) -> ContainerUsage:
        st = await _run(self.rt.stats, container_id)
        return ContainerUsage(cpu_usage_core_nano_seconds=st.cpu_usage_ns,
                              memory_usage_bytes=st.memory_usage_bytes,
                              memory_working_set_bytes=st.memory_working_set_bytes,
                              pids=st.pids)

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        keep = {c.id for c in await _run(self.rt.list) if c.pod_uid in keep_pod_uids}
        await _run(self.rt.cleanup_orphans, keep, set(keep_pod_uids))
        for n in os.listdir(self.meta_dir):
            if n.endswith(".json") and n[:-5] not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.meta_dir, n))


# ---- images -----------------------------------------------------------------------------------


def _image_info(svc: Any, img: Any) -> ImageInfo:
    c = img.config
    return ImageInfo(ref=img.reference, id=img.id, layer_dirs=list(img.layer_dirs),
                     entrypoint=list(c.entrypoint), cmd=list(c.cmd), env=list(c.env),
                     working_dir=c.working_dir, user=c.user, stop_signal=c.stop_signal)


def _image_error(e: Exception) -> Exception:
    if getattr(e, "reason", "") == "ErrImageNeverPull":
        return ImageNeverPullError(str(e))
    return ImagePullError(str(e))


class ImagesAdapter:
    """ImagePort over agent.images.ImageService."""

    def __init__(self, service: Any, tmp_dir: str) -> None:
        self.svc = service
        self.tmp_dir = tmp_dir
        os.makedirs(tmp_dir, exist_ok=True)

    async def ensure(self, ref: str, pull_policy: str) -> ImageInfo:
        from agent.images.errors import ImageError
        try:
            img = await _run(self.svc.ensure, ref, pull_policy)
        except ImageError as e:
            raise _image_error(e) from None
        return _image_info(self.svc, img)

    async def list_images(self) -> list[ImageSummaryInfo]:
        out = []
        for img in await _run(self.svc.list):
            created = 0.0
            if img.created:
                with contextlib.suppress(ValueError):
                    created = datetime.fromisoformat(img.created.replace("Z", "+00:00")
                                                     ).timestamp()
            out.append(ImageSummaryInfo([img.reference], img.id, int(img.size), created))
        return out

    async def _stream(self, fn: Callable[..., Any], *args: Any) -> AsyncIterator[Progress]:
        from agent.images.errors import ImageError
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[Progress | None] = asyncio.Queue()

        def cb(p: Any) -> None:
            loop.call_soon_threadsafe(q.put_nowait, Progress(
                getattr(p, "layer", ""), getattr(p, "status", ""),
                int(getattr(p, "current", 0)), int(getattr(p, "total", 0))))

        def work() -> None:
            try:
                fn(*args, progress=cb)
            finally:
                loop.call_soon_threadsafe(q.put_nowait, None)

        fut = loop.run_in_executor(_POOL, work)
        while True:
            item = await q.get()
            if item is None:
                break
            yield item
        try:
            await fut
        except ImageError as e:
            raise _image_error(e) from None

    def pull(self, ref: str) -> AsyncIterator[Progress]:
        return self._stream(self.svc.pull, ref)

    def push(self, ref: str, target: str) -> AsyncIterator[Progress]:
        return self._stream(self.svc.push, ref, target or None)

    async def load(self, chunks: AsyncIterator[bytes]) -> list[str]:
        from agent.images.errors import ImageError
        fd, path = tempfile.mkstemp(prefix="load-", suffix=".tar", dir=self.tmp_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                async for c in chunks:
                    await _run(f.write, c)
            try:
                names: list[str] = await _run(self.svc.load_archive, path)
            except ImageError as e:
                raise ValueError(str(e)) from None
            return names
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def prune(self, keep: set[str]) -> tuple[list[str], int]:
        removed, freed = await _run(self.svc.prune, keep)
        return list(removed), int(freed)


# ---- network ----------------------------------------------------------------------------------


class NetworkAdapter:
    """NetworkPort over agent.network.PodNetwork, made once the pod CIDR is known."""

    def __init__(self, data_dir: str, node_ip: str, netns_prefix: str,
                 bridge_name: str = "corral0") -> None:
        self.data_dir = data_dir
        self.node_ip = node_ip
        self.bridge_name = bridge_name
        self.netns_prefix = netns_prefix
        self.net: Any = None
        self._ready = False

    def ready(self) -> bool:
        return self._ready

    async def ensure_node(self, pod_cidr: str) -> None:
        from agent.network import PodNetwork
        if self.net is None or str(self.net.pod_cidr) != pod_cidr:
            self.net = PodNetwork(self.data_dir, pod_cidr, self.bridge_name, self.node_ip,
                                  netns_prefix=self.netns_prefix)
        await _run(self.net.ensure_node)
        self._ready = True

    def _need(self) -> Any:
        if self.net is None:
            raise RuntimeError("the node's pod network is not set up yet (no podCIDR)")
        return self.net

    async def setup_pod(self, pod_uid: str, namespace: str, name: str) -> PodNet:
        info = await _run(self._need().setup_pod, pod_uid, namespace, name)
        return PodNet(info.ip, info.netns_path, info.gateway)

    async def teardown_pod(self, pod_uid: str) -> None:
        await _run(self._need().teardown_pod, pod_uid)

    async def sync_routes(self, routes: Iterable[tuple[str, str]]) -> None:
        if self.net is not None:
            await _run(self.net.sync_routes, list(routes))

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        if self.net is not None:
            await _run(self.net.cleanup_orphans, set(keep_pod_uids))


def build_ports(cfg: AgentConfig) -> tuple[RuntimeAdapter, ImagesAdapter, NetworkAdapter]:
    from agent.images import ImageService
    from agent.runtime.runtime import Runtime
    data = os.path.abspath(cfg.data_dir)
    runtime = RuntimeAdapter(Runtime(Path(data) / "runtime", cfg.cgroup_root), data)
    images = ImagesAdapter(ImageService(data, registries_config=dict(cfg.registries)),
                           os.path.join(data, "tmp"))
    network = NetworkAdapter(os.path.join(data, "network"), cfg.node_ip, cfg.netns_prefix)
    return runtime, images, network
