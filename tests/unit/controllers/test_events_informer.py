"""EventRecorder aggregation and Informer relist-on-Gone with a fake registry."""

from __future__ import annotations

import asyncio

from controlplane import errors
from controlplane.events import EventRecorder
from controlplane.informer import Handler, Informer
from proto import api_pb2
from tests.support.aio import eventually


class FakeRegistry:
    def __init__(self):
        self.objs: dict[tuple[str, str, str], api_pb2.Object] = {}
        self.rv = 0
        self.fail_create = False
        self.watch_script: list = []
        self.gate = asyncio.Event()

    async def create(self, obj):
        if self.fail_create:
            raise errors.Unavailable("etcd down")
        self.rv += 1
        o = api_pb2.Object()
        o.CopyFrom(obj)
        o.event.metadata.resource_version = str(self.rv)
        m = o.event.metadata
        self.objs[("events", m.namespace, m.name)] = o
        return o

    async def get(self, resource, ns, name):
        try:
            o = self.objs[(resource, ns, name)]
        except KeyError:
            raise errors.NotFound(name) from None
        c = api_pb2.Object()
        c.CopyFrom(o)
        return c

    async def update(self, obj):
        m = obj.event.metadata
        cur = self.objs[("events", m.namespace, m.name)]
        if cur.event.metadata.resource_version != m.resource_version:
            raise errors.Conflict("stale")
        self.rv += 1
        o = api_pb2.Object()
        o.CopyFrom(obj)
        o.event.metadata.resource_version = str(self.rv)
        self.objs[("events", m.namespace, m.name)] = o
        return o

    async def create_all(self, objs):   # cannot batch: the recorder writes one at a time
        raise errors.BadRequest("batched creates are not supported")

    # informer side: pods
    async def list(self, resource, namespace="", label_selector="", field_selector=""):
        items = [o for (r, _, _), o in self.objs.items() if r == resource]
        return api_pb2.ObjectList(items=items, resource_version=str(self.rv))

    async def watch(self, resource, namespace="", label_selector="", field_selector="",
                    resource_version=""):
        step = self.watch_script.pop(0) if self.watch_script else "block"
        if step == "gone":
            await self.gate.wait()
            raise errors.Gone("too old")
        if isinstance(step, list):
            for ev in step:
                yield ev
            return
        await asyncio.Event().wait()


def pod_obj(name, rv="1"):
    o = api_pb2.Object()
    o.pod.metadata.name = name
    o.pod.metadata.namespace = "default"
    o.pod.metadata.uid = f"uid-{name}"
    o.pod.metadata.resource_version = rv
    return o


def test_event_aggregation():
    async def main():
        reg = FakeRegistry()
        rec = EventRecorder(reg, "test", "host-1", repeat_interval=0)
        p = pod_obj("web-1")
        for _ in range(3):
            rec.record(p, "Warning", "FailedScheduling", "0/1 nodes are available")
        rec.record(p, "Normal", "Scheduled", "ok")
        await rec.flush()
        evs = [o.event for o in reg.objs.values()]
        by_reason = {e.reason: e for e in evs}
        assert len(evs) == 2
        assert by_reason["FailedScheduling"].count == 3
        assert by_reason["FailedScheduling"].involved_object.name == "web-1"
        assert by_reason["FailedScheduling"].involved_object.kind == "Pod"
        assert by_reason["Scheduled"].count == 1
        assert by_reason["Scheduled"].source.component == "test"
        await rec.close()

    asyncio.run(main())


def test_event_spam_filter_folds_repeats():
    async def main():
        reg = FakeRegistry()
        rec = EventRecorder(reg, "test", repeat_interval=3600)
        p = pod_obj("web-1")
        for _ in range(5):
            rec.record(p, "Warning", "FailedScheduling", "same")
        await rec.flush()
        (ev,) = [o.event for o in reg.objs.values()]
        assert ev.count == 1  # the 4 repeats wait for the next write after the interval
        rec.repeat_interval = 0
        rec.record(p, "Warning", "FailedScheduling", "same")
        await rec.flush()
        (ev,) = [o.event for o in reg.objs.values()]
        assert ev.count == 6
        await rec.close()

    asyncio.run(main())


class BatchRegistry(FakeRegistry):
    """Also creates many events in one call, all or none (as Registry.create_all)."""

    def __init__(self):
        super().__init__()
        self.batches: list[int] = []

    async def create_all(self, objs):
        keys = [("events", o.event.metadata.namespace, o.event.metadata.name) for o in objs]
        if any(k in self.objs for k in keys):
            raise errors.AlreadyExists("taken")
        self.batches.append(len(objs))
        return [await self.create(o) for o in objs]


def test_queued_events_are_created_in_batches_and_still_aggregate():
    async def main():
        reg = BatchRegistry()
        rec = EventRecorder(reg, "default-scheduler", repeat_interval=0, concurrency=1)
        for i in range(30):
            rec.record(pod_obj(f"web-{i}"), "Normal", "Scheduled", f"assigned web-{i}")
        for _ in range(3):
            rec.record(pod_obj("web-0"), "Warning", "BackOff", "again")
        await rec.flush()
        evs = [o.event for o in reg.objs.values()]
        scheduled = sorted(e.involved_object.name for e in evs if e.reason == "Scheduled")
        assert scheduled == sorted(f"web-{i}" for i in range(30))
        (backoff,) = [e for e in evs if e.reason == "BackOff"]
        assert backoff.count == 3
        assert reg.batches and sum(reg.batches) >= 30 and len(reg.batches) < 30
        await rec.close()

    asyncio.run(main())


def test_event_recorder_never_raises():
    async def main():
        reg = FakeRegistry()
        reg.fail_create = True
        rec = EventRecorder(reg, "test")
        rec.record(pod_obj("x"), "Normal", "R", "m")
        await rec.record_now(pod_obj("x"), "Normal", "R", "m")
        rec.record(api_pb2.Object(), "Normal", "R", "m")  # not even an object
        await rec.flush()
        await rec.close()

    asyncio.run(main())


def test_informer_relists_on_gone():
    async def main():
        reg = FakeRegistry()
        reg.objs[("pods", "default", "a")] = pod_obj("a")
        reg.objs[("pods", "default", "b")] = pod_obj("b")
        added, updated, deleted = [], [], []
        inf = Informer(reg, "pods", resync_period=3600)
        inf.add_handler(Handler(lambda o: added.append(o.pod.metadata.name),
                                lambda o, n: updated.append(n.pod.metadata.name),
                                lambda o: deleted.append(o.pod.metadata.name)))
        mod = api_pb2.WatchEvent(type="MODIFIED", object=pod_obj("a", "5"),
                                 resource_version="5")
        reg.watch_script = [[mod], "gone"]
        task = asyncio.create_task(inf.run())
        await asyncio.wait_for(inf.wait_synced(), 2)
        # after the watch ends with Gone the informer relists: b is gone meanwhile
        del reg.objs[("pods", "default", "b")]
        reg.objs[("pods", "default", "c")] = pod_obj("c")
        reg.gate.set()

        await eventually(lambda: inf.relists >= 2 and "c" in added, timeout=5,
                         what="relisted after Gone")
        assert sorted(added) == ["a", "b", "c"]
        assert "a" in updated
        assert deleted == ["b"]
        assert sorted(o.pod.metadata.name for o in inf.list()) == ["a", "c"]
        task.cancel()

    asyncio.run(main())
