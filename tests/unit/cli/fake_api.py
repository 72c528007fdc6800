"""An in-memory `Api` servicer on a real in-process gRPC server, for CLI unit tests.

It keeps objects in a dict, bumps a revision on each write, fans writes out to
watchers, and deletes at once (no grace). Enough of the API's meaning for the
CLI's verbs, nothing more.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from proto import agent_pb2, api_pb2, api_pb2_grpc, codec, kinds, labels, meta_pb2
from proto.patch import apply_patch

Key = tuple[str, str, str]


def _meta(obj: api_pb2.Object) -> meta_pb2.ObjectMeta:
    meta: meta_pb2.ObjectMeta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return meta


class FakeApi(api_pb2_grpc.ApiServicer):
    def __init__(self) -> None:
        self.objects: dict[Key, api_pb2.Object] = {}
        self.rev = 1
        self.lock = threading.Lock()
        self.watchers: list[tuple[str, str, queue.Queue[api_pb2.WatchEvent | None]]] = []
        self.logs: dict[tuple[str, str], bytes] = {}
        self.exec_calls: list[agent_pb2.ExecStart] = []
        self.top = api_pb2.TopResponse()
        self.images = api_pb2.NodeImagesResponse()
        self.deletes: list[api_pb2.DeleteRequest] = []
        self.watch_started = threading.Event()
        self.exec_started = threading.Event()
        self.resized = threading.Event()
        self.resizes: list[agent_pb2.TerminalSize] = []

    # -- helpers -------------------------------------------------------------------------------

    def put(self, obj: api_pb2.Object, event: str = "") -> api_pb2.Object:
        """Store an object directly (test setup), notifying watchers."""
        with self.lock:
            return self._store(obj, event)

    def _store(self, obj: api_pb2.Object, event: str = "") -> api_pb2.Object:
        k = kinds.of(obj)
        m = _meta(obj)
        key = (k.resource, m.namespace if k.namespaced else "", m.name)
        existed = key in self.objects
        self.rev += 1
        m.resource_version = str(self.rev)
        if not m.uid:
            m.uid = str(uuid.uuid4())
        if not m.creation_timestamp.seconds:
            m.creation_timestamp.GetCurrentTime()
        if not m.generation:
            m.generation = 1
        stored = api_pb2.Object()
        stored.CopyFrom(obj)
        self.objects[key] = stored
        self._notify(k.resource, event or ("MODIFIED" if existed else "ADDED"), stored)
        return stored

    def _notify(self, resource: str, type_: str, obj: api_pb2.Object) -> None:
        for res, ns, q in list(self.watchers):
            if res == resource and (not ns or _meta(obj).namespace == ns):
                q.put(api_pb2.WatchEvent(type=type_, object=obj,
                                         resource_version=_meta(obj).resource_version))

    def _key(self, resource: str, namespace: str, name: str) -> Key:
        k = kinds.lookup(resource)
        return (k.resource, namespace if k.namespaced else "", name)

    def _not_found(self, context: grpc.ServicerContext, resource: str,
                   name: str) -> NoReturn:
        context.abort(grpc.StatusCode.NOT_FOUND, f'{resource} "{name}" not found')

    def end_watches(self) -> None:
        """Finish every open watch stream normally."""
        for _, _, q in list(self.watchers):
            q.put(None)

    # -- the service ---------------------------------------------------------------------------

    def Create(self, request: api_pb2.CreateRequest, context: grpc.ServicerContext
               ) -> api_pb2.Object:
        obj = request.object
        k = kinds.of(obj)
        m = _meta(obj)
        with self.lock:
            if (k.resource, m.namespace if k.namespaced else "", m.name) in self.objects:
                context.abort(grpc.StatusCode.ALREADY_EXISTS,
                              f'{k.resource} "{m.name}" already exists')
            if request.dry_run:
                return obj
            return self._store(obj)

    def Get(self, request: api_pb2.GetRequest, context: grpc.ServicerContext) -> api_pb2.Object:
        key = self._key(request.resource, request.namespace, request.name)
        obj = self.objects.get(key)
        if obj is None:
            self._not_found(context, request.resource, request.name)
        return obj

    def _select(self, resource: str, namespace: str, label_selector: str,
                field_selector: str) -> list[api_pb2.Object]:
        sel = labels.parse_selector(label_selector)
        fsel = labels.parse_field_selector(field_selector)
        out = []
        for (res, ns, _), obj in sorted(self.objects.items()):
            if res != resource or (namespace and ns != namespace):
                continue
            if sel.matches(_meta(obj).labels) and fsel.matches(obj):
                out.append(obj)
        return out

    def List(self, request: api_pb2.ListRequest, context: grpc.ServicerContext
             ) -> api_pb2.ObjectList:
        with self.lock:
            items = self._select(request.resource, request.namespace, request.label_selector,
                                 request.field_selector)
            return api_pb2.ObjectList(items=items, resource_version=str(self.rev))

    def Watch(self, request: api_pb2.WatchRequest, context: grpc.ServicerContext
              ) -> Iterator[api_pb2.WatchEvent]:
        q: queue.Queue[api_pb2.WatchEvent | None] = queue.Queue()
        entry = (request.resource, request.namespace, q)
        with self.lock:
            self.watchers.append(entry)
        self.watch_started.set()
        context.add_callback(lambda: q.put(None))
        sel = labels.parse_selector(request.label_selector)
        fsel = labels.parse_field_selector(request.field_selector)
        try:
            while True:
                ev = q.get()
                if ev is None:
                    return
                if request.resource_version and int(ev.resource_version or 0) <= int(
                        request.resource_version):
                    continue
                if sel.matches(_meta(ev.object).labels) and fsel.matches(ev.object):
                    yield ev
        finally:
            with self.lock:
                self.watchers.remove(entry)

    def Update(self, request: api_pb2.UpdateRequest, context: grpc.ServicerContext
               ) -> api_pb2.Object:
        obj = request.object
        k = kinds.of(obj)
        m = _meta(obj)
        with self.lock:
            key = (k.resource, m.namespace if k.namespaced else "", m.name)
            old = self.objects.get(key)
            if old is None:
                self._not_found(context, k.resource, m.name)
            if m.resource_version and m.resource_version != _meta(old).resource_version:
                context.abort(grpc.StatusCode.ABORTED, "the object has been modified")
            if getattr(kinds.unwrap(obj), "spec", None) != getattr(kinds.unwrap(old), "spec",
                                                                    None):
                m.generation = _meta(old).generation + 1
            return self._store(obj)

    def UpdateStatus(self, request: api_pb2.UpdateRequest, context: grpc.ServicerContext
                     ) -> api_pb2.Object:
        return self.Update(request, context)

    def Apply(self, request: api_pb2.ApplyRequest, context: grpc.ServicerContext
              ) -> api_pb2.ApplyResponse:
        obj = request.object
        k = kinds.of(obj)
        m = _meta(obj)
        with self.lock:
            key = (k.resource, m.namespace if k.namespaced else "", m.name)
            old = self.objects.get(key)
            if old is None:
                return api_pb2.ApplyResponse(object=self._store(obj), result="created")
            new_msg, old_msg = kinds.unwrap(obj), kinds.unwrap(old)
            same = (getattr(new_msg, "spec", None) == getattr(old_msg, "spec", None)
                    and dict(m.labels) == dict(_meta(old).labels))
            if same:
                return api_pb2.ApplyResponse(object=old, result="unchanged")
            m.uid = _meta(old).uid
            m.creation_timestamp.CopyFrom(_meta(old).creation_timestamp)
            m.generation = _meta(old).generation + 1
            return api_pb2.ApplyResponse(object=self._store(obj), result="configured")

    def Patch(self, request: api_pb2.PatchRequest, context: grpc.ServicerContext
              ) -> api_pb2.Object:
        """json / merge / strategic with proto/patch; apply as a merge of the configuration."""
        key = self._key(request.resource, request.namespace, request.name)
        with self.lock:
            old = self.objects.get(key)
            if old is None:
                self._not_found(context, request.resource, request.name)
            doc = codec.encode(old, precise=True)
            kind = "merge" if request.type == "apply" else request.type
            new = codec.decode(apply_patch(kind, doc, json.loads(request.patch),
                                           kinds.of(old).message.DESCRIPTOR))
            if request.dry_run:
                return new
            if codec.encode(new, full=True) == codec.encode(old, full=True):
                return old
            return self._store(new)

    def Delete(self, request: api_pb2.DeleteRequest, context: grpc.ServicerContext
               ) -> api_pb2.Object:
        self.deletes.append(request)
        key = self._key(request.resource, request.namespace, request.name)
        with self.lock:
            obj = self.objects.get(key)
            if obj is None:
                self._not_found(context, request.resource, request.name)
            if request.dry_run:
                return obj
            del self.objects[key]
            self.rev += 1
            gone = api_pb2.Object()
            gone.CopyFrom(obj)
            _meta(gone).resource_version = str(self.rev)
            self._notify(key[0], "DELETED", gone)
            return gone

    def Bind(self, request: api_pb2.BindRequest, context: grpc.ServicerContext
             ) -> api_pb2.Object:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake")

    def Version(self, request: api_pb2.VersionRequest, context: grpc.ServicerContext
                ) -> api_pb2.VersionInfo:
        return api_pb2.VersionInfo(version="v9.9.9", python_version="3.11")

    def ApiResources(self, request: api_pb2.ApiResourcesRequest,
                     context: grpc.ServicerContext) -> api_pb2.ApiResourceList:
        return api_pb2.ApiResourceList(resources=[
            api_pb2.ApiResource(name=k.resource, singular_name=k.singular,
                                short_names=k.short_names, api_version=k.api_version,
                                kind=k.kind, namespaced=k.namespaced) for k in kinds.KINDS])

    def Logs(self, request: agent_pb2.LogsRequest, context: grpc.ServicerContext
             ) -> Iterator[agent_pb2.LogChunk]:
        data = self.logs.get((request.namespace, request.pod))
        if data is None:
            self._not_found(context, "pods", request.pod)
        lines = data.splitlines(keepends=True)
        if request.HasField("tail_lines"):
            lines = lines[-request.tail_lines:] if request.tail_lines else []
        for ln in lines:
            yield agent_pb2.LogChunk(data=ln, container="main", stream="stdout")

    def Exec(self, request_iterator: Iterator[agent_pb2.ExecInput],
             context: grpc.ServicerContext) -> Iterator[agent_pb2.ExecOutput]:
        first = next(request_iterator)
        start = first.start
        self.exec_calls.append(start)
        self.exec_started.set()
        if start.tty:
            # an interactive session: echo stdin, record resizes, end at "q"
            for item in request_iterator:
                which = item.WhichOneof("input")
                if which == "resize":
                    self.resizes.append(item.resize)
                    self.resized.set()
                elif which == "stdin":
                    yield agent_pb2.ExecOutput(stdout=item.stdin)
                    if b"q" in item.stdin:
                        break
            yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=0))
            return
        out = (" ".join(start.command) + "\n").encode()
        if start.stdin:
            for item in request_iterator:
                if item.WhichOneof("input") == "stdin":
                    out += item.stdin
                elif item.WhichOneof("input") == "close_stdin":
                    break
        yield agent_pb2.ExecOutput(stdout=out)
        yield agent_pb2.ExecOutput(stderr=b"warn\n")
        code = 3 if start.command and start.command[0] == "false" else 0
        yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=code))

    def Top(self, request: api_pb2.TopRequest, context: grpc.ServicerContext
            ) -> api_pb2.TopResponse:
        return self.top

    def NodeImages(self, request: api_pb2.NodeImagesRequest, context: grpc.ServicerContext
                   ) -> api_pb2.NodeImagesResponse:
        return self.images


class FakeServer:
    def __init__(self) -> None:
        self.api = FakeApi()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        api_pb2_grpc.add_ApiServicer_to_server(self.api, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"
        self.server.start()

    def stop(self) -> None:
        for _, _, q in list(self.api.watchers):
            q.put(None)
        self.server.stop(grace=None)


def now_minus(seconds: int) -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    ts.seconds -= seconds
    return ts
