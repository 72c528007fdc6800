"""In-memory fakes of the agent's ports (runtime, images, network, Api)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

from agent.ports import (
    EXITED,
    RUNNING,
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
    ImagePullError,
    ImageSummaryInfo,
    PodNet,
    Progress,
)
from proto import api_pb2, core_pb2, kinds


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


class FakeRuntime:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.containers: dict[str, ContainerInfo] = {}
        self.specs: dict[str, ContainerSpec] = {}
        self.sandboxes: set[str] = set()
        self.stopped: list[tuple[str, float]] = []
        self.removed: list[str] = []
        self.exec_results: dict[tuple[str, ...], ExecResult] = {}
        self.orphan_calls: list[set[str]] = []
        self.fail_start: str = ""
        self.volumes_root: str | None = None     # a real directory: volumes are made there
        self.volume_media: dict[str, str] = {}   # volume name -> medium asked for
        self._ids = itertools.count(1)
        self._pids = itertools.count(1000)

    async def ensure_sandbox(self, pod_uid: str, namespace: str, name: str,
                             netns_path: str) -> None:
        self.sandboxes.add(pod_uid)

    async def remove_sandbox(self, pod_uid: str) -> None:
        self.sandboxes.discard(pod_uid)

    async def volume_dir(self, pod_uid: str, name: str, medium: str, size_bytes: int) -> str:
        if self.volumes_root is None:
            return f"/vol/{pod_uid}/{name}"
        path = os.path.join(self.volumes_root, pod_uid, name)
        os.makedirs(path, exist_ok=True)
        self.volume_media[name] = medium
        return path

    async def start_container(self, spec: ContainerSpec) -> ContainerInfo:
        if self.fail_start:
            raise RuntimeError(self.fail_start)
        cid = f"c{next(self._ids)}"
        info = ContainerInfo(
            id=cid, pod_uid=spec.pod_uid, name=spec.name, attempt=spec.attempt, state=RUNNING,
            pid=next(self._pids), created_at=self.clock(), started_at=self.clock(),
            image=spec.image, image_id=spec.image_id, log_path=f"/logs/{cid}.log",
            namespace=spec.namespace, pod_name=spec.pod_name)
        self.containers[cid] = info
        self.specs[cid] = spec
        return info

    async def list_containers(self) -> list[ContainerInfo]:
        return [ContainerInfo(**vars(c)) for c in self.containers.values()]

    def exit(self, cid: str, code: int, oom: bool = False) -> None:
        c = self.containers[cid]
        c.state, c.exit_code, c.finished_at, c.oom_killed = EXITED, code, self.clock(), oom

    def by_name(self, uid: str, name: str) -> list[ContainerInfo]:
        cs = [c for c in self.containers.values() if c.pod_uid == uid and c.name == name]
        return sorted(cs, key=lambda c: c.attempt, reverse=True)

    def running(self) -> list[ContainerInfo]:
        return [c for c in self.containers.values() if c.state == RUNNING]

    async def stop_container(self, container_id: str, grace_seconds: float,
                             stop_signal: str = "") -> None:
        self.stopped.append((container_id, grace_seconds))
        c = self.containers.get(container_id)
        if c is not None and c.state != EXITED:
            c.state, c.exit_code, c.finished_at = EXITED, 137, self.clock()
            c.signal = 9

    async def remove_container(self, container_id: str) -> None:
        self.removed.append(container_id)
        self.containers.pop(container_id, None)

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        return self.exec_results.get(tuple(argv), ExecResult(0))

    async def exec_session(self, container_id: str, argv: list[str], tty: bool, stdin: bool,
                           width: int, height: int) -> ExecSession:
        raise NotImplementedError

    async def usage(self, container_id: str) -> ContainerUsage:
        return ContainerUsage(cpu_usage_core_nano_seconds=5, memory_usage_bytes=100,
                              memory_working_set_bytes=90, pids=1)

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        self.orphan_calls.append(set(keep_pod_uids))

    def version(self) -> str:
        return "fake"


class FakeImages:
    def __init__(self) -> None:
        self.images: dict[str, ImageInfo] = {}
        self.fail: dict[str, str] = {}
        self.pulls: list[tuple[str, str]] = []
        self.pull_secrets: list[list[bytes]] = []

    def add(self, ref: str, entrypoint: list[str] | None = None, cmd: list[str] | None = None,
            env: list[str] | None = None) -> ImageInfo:
        img = ImageInfo(ref=ref, id=f"sha256:{abs(hash(ref)):x}", layer_dirs=["/l/" + ref],
                        entrypoint=entrypoint or [], cmd=cmd or ["sh"], env=env or [])
        self.images[ref] = img
        return img

    async def ensure(self, ref: str, pull_policy: str,
                     on_pulling: Callable[[], None] | None = None,
                     pull_secrets: Sequence[bytes] = ()) -> ImageInfo:
        self.pulls.append((ref, pull_policy))
        self.pull_secrets.append(list(pull_secrets))
        if ref in self.fail:
            raise ImagePullError(self.fail[ref])
        if ref not in self.images:
            raise ImagePullError(f"{ref}: not found")
        return self.images[ref]

    async def list_images(self) -> list[ImageSummaryInfo]:
        return [ImageSummaryInfo([r], i.id, 10) for r, i in self.images.items()]

    async def pull(self, ref: str) -> AsyncIterator[Progress]:
        yield Progress("", "Done")

    async def push(self, ref: str, target: str) -> AsyncIterator[Progress]:
        yield Progress("", "Done")

    async def load(self, chunks: AsyncIterator[bytes]) -> list[str]:
        return []

    async def prune(self, keep: set[str]) -> tuple[list[str], int]:
        return [], 0


class FakeNetwork:
    def __init__(self) -> None:
        self.pods: dict[str, PodNet] = {}
        self.node_cidr = ""
        self.routes: list[tuple[str, str]] = []
        self.torn_down: list[str] = []
        self.orphan_calls: list[set[str]] = []
        self.is_ready = True
        self._n = itertools.count(2)

    async def ensure_node(self, pod_cidr: str) -> None:
        self.node_cidr = pod_cidr

    def ready(self) -> bool:
        return self.is_ready

    async def setup_pod(self, pod_uid: str, namespace: str, name: str) -> PodNet:
        if pod_uid not in self.pods:
            self.pods[pod_uid] = PodNet(f"10.1.0.{next(self._n)}", f"/run/netns/{pod_uid}")
        return self.pods[pod_uid]

    async def teardown_pod(self, pod_uid: str) -> None:
        self.torn_down.append(pod_uid)
        self.pods.pop(pod_uid, None)

    async def sync_routes(self, routes: Iterable[tuple[str, str]]) -> None:
        self.routes = list(routes)

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        self.orphan_calls.append(set(keep_pod_uids))


class FakeApi:
    """Pods (and other objects) in a dict; `down` makes every call Unavailable."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], api_pb2.Object] = {}
        self.down = False
        self.rv = 1
        self.statuses: list[core_pb2.Pod] = []
        self.deletes: list[tuple[str, str, str, int | None]] = []
        self.watchers: list[asyncio.Queue[api_pb2.WatchEvent | Exception]] = []
        self.gone_once = False
        self.calls: list[str] = []
        self.on_call: Callable[[str], None] | None = None

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise ApiUnavailable("connection refused")

    def _key(self, resource: str, namespace: str, name: str) -> tuple[str, str, str]:
        return (resource, namespace, name)

    def put(self, obj: api_pb2.Object, ev: str = "") -> api_pb2.Object:
        k = kinds.of(obj)
        m = kinds.unwrap(obj)
        self.rv += 1
        m.metadata.resource_version = str(self.rv)  # type: ignore[attr-defined]
        key = (k.resource, m.metadata.namespace if k.namespaced else "",  # type: ignore
               m.metadata.name)  # type: ignore[attr-defined]
        ev = ev or ("MODIFIED" if key in self.objects else "ADDED")
        self.objects[key] = obj
        self._emit(ev, obj)
        return obj

    def _emit(self, ev: str, obj: api_pb2.Object) -> None:
        for q in self.watchers:
            q.put_nowait(api_pb2.WatchEvent(type=ev, object=obj, resource_version=str(self.rv)))

    def break_watches(self, exc: Exception) -> None:
        for q in self.watchers:
            q.put_nowait(exc)

    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object:
        self._check("get")
        o = self.objects.get(self._key(resource, namespace, name))
        if o is None:
            raise ApiNotFound(f"{resource} {name} not found")
        out = api_pb2.Object()
        out.CopyFrom(o)
        return out

    @staticmethod
    def _selects(o: api_pb2.Object, namespace: str, field_selector: str) -> bool:
        """spec.nodeName=N or metadata.name=N (one term), and the namespace."""
        key, _, value = field_selector.partition("=")
        meta = kinds.unwrap(o).metadata  # type: ignore[attr-defined]
        got = {"spec.nodeName": o.pod.spec.node_name, "metadata.name": meta.name}.get(key, value)
        return (not namespace or meta.namespace == namespace) and got == value

    async def list(self, resource: str, namespace: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList:
        self._check("list")
        out = api_pb2.ObjectList(resource_version=str(self.rv))
        for (r, _, _), o in self.objects.items():
            if r == resource and self._selects(o, namespace, field_selector):
                out.items.append(o)
        return out

    async def watch(self, resource: str, namespace: str = "", field_selector: str = "",
                    resource_version: str = "") -> AsyncIterator[api_pb2.WatchEvent]:
        self._check("watch")
        if self.gone_once:
            self.gone_once = False
            raise ApiGone("too old resource version")
        q: asyncio.Queue[api_pb2.WatchEvent | Exception] = asyncio.Queue()
        self.watchers.append(q)
        try:
            while True:
                ev = await q.get()
                if isinstance(ev, Exception):
                    raise ev
                kind = kinds.of(ev.object).resource
                if kind == resource and self._selects(ev.object, namespace, field_selector):
                    yield ev
        finally:
            self.watchers.remove(q)

    async def create(self, obj: api_pb2.Object) -> api_pb2.Object:
        self._check("create")
        return self.put(obj, "ADDED")

    async def update(self, obj: api_pb2.Object) -> api_pb2.Object:
        self._check("update")
        return self.put(obj, "MODIFIED")

    async def update_status(self, obj: api_pb2.Object) -> api_pb2.Object:
        """As the API server does: only the status is written, compare-and-swap on the
        resourceVersion when one is given."""
        self._check("update_status")
        k = kinds.of(obj)
        m = kinds.unwrap(obj)
        key = self._key(k.resource, m.metadata.namespace if k.namespaced else "",  # type: ignore
                        m.metadata.name)  # type: ignore[attr-defined]
        old = self.objects.get(key)
        if old is None:
            raise ApiNotFound(f"{k.resource} {key[2]} not found")
        stored = kinds.unwrap(old)
        want = m.metadata.resource_version  # type: ignore[attr-defined]
        if want and want != stored.metadata.resource_version:  # type: ignore[attr-defined]
            raise ApiConflict(f"resourceVersion {want} is stale")
        new = api_pb2.Object()
        new.CopyFrom(old)
        kinds.unwrap(new).status.CopyFrom(m.status)  # type: ignore[attr-defined]
        if k.resource == "pods":
            self.statuses.append(new.pod)
        out = self.put(new, "MODIFIED")
        copy = api_pb2.Object()
        copy.CopyFrom(out)
        return copy

    async def delete(self, resource: str, namespace: str, name: str,
                     grace_period_seconds: int | None = None) -> api_pb2.Object:
        self._check("delete")
        self.deletes.append((resource, namespace, name, grace_period_seconds))
        o = self.objects.pop(self._key(resource, namespace, name), None)
        if o is None:
            raise ApiNotFound(name)
        self.rv += 1
        self._emit("DELETED", o)
        return o


def make_pod(name: str = "web", uid: str = "uid-1", node: str = "n1",
             containers: list[core_pb2.Container] | None = None,
             init: list[core_pb2.Container] | None = None,
             restart_policy: str = "Always") -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.metadata.uid = uid
    pod.spec.node_name = node
    pod.spec.restart_policy = restart_policy
    pod.spec.containers.extend(containers or [core_pb2.Container(name="app", image="busybox")])
    pod.spec.init_containers.extend(init or [])
    return pod
