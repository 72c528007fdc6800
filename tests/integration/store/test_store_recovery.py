"""Compaction and etcd restarts: the store answers Gone / Unavailable and recovers."""

from __future__ import annotations

import asyncio

import aetcd
import pytest

from controlplane import errors
from controlplane.objects import meta_of as meta
from controlplane.store.compactor import run_compactor
from controlplane.store.etcd_store import Store
from proto import api_pb2
from tests.integration.store.test_store import pod, take
from tests.support.aio import eventually, run
from tests.support.etcd import EtcdProcess


def test_compaction_gone_then_relist_matches_etcd() -> None:
    async def main(etcd: EtcdProcess) -> None:
        store = Store(etcd.endpoint, history=3)
        try:
            for i in range(5):
                await store.create(pod(f"p{i}", "default"))
            _, rv0 = await store.list("pods")
            # the fan-out runs from here on
            live = store.watch("pods", "", str(rv0))
            live_task = asyncio.ensure_future(take(live, 1000, timeout=30))
            await eventually(lambda: store.fanout("pods").watcher_count == 1)
            for i in range(5, 10):
                await store.create(pod(f"p{i}", "default"))
            for i in (1, 3, 6):
                await store.delete("pods", "default", f"p{i}")
            o = await store.get("pods", "default", "p0")
            o.pod.metadata.labels["x"] = "y"
            await store.update(o)
            head = await store.revision()
            await store.compact(head)

            # a watcher lagging behind both the fan-out buffer and etcd's history
            with pytest.raises(errors.Gone, match="too old resource version"):
                await take(store.watch("pods", "", str(rv0)), 1)
            # relist: the same state as etcd holds, the deletions in the gap included
            items, rv = await store.list("pods")
            async with aetcd.Client(*etcd.endpoint.split(":")) as raw:
                kvs = await raw.get_prefix(b"/corral/pods/")
                truth = {kv.key.decode(): api_pb2.Object.FromString(kv.value) for kv in kvs}
            assert rv == head
            assert sorted(meta(i).name for i in items) == sorted(
                k.rsplit("/", 1)[1] for k in truth)
            assert sorted(meta(i).name for i in items) == [
                "p0", "p2", "p4", "p5", "p7", "p8", "p9"]
            for item in items:
                clean = api_pb2.Object()
                clean.CopyFrom(item)
                meta(clean).resource_version = ""
                assert truth[f"/corral/pods/default/{meta(item).name}"] == clean
            # watching from the relist revision works again
            w = store.watch("pods", "", str(rv))
            nxt = asyncio.ensure_future(take(w, 1))
            await eventually(lambda: store.fanout("pods").watcher_count == 2)
            created = await store.create(pod("new", "default"))
            assert (await nxt)[0].object == created
            await w.aclose()
            # the watcher that kept up was never interrupted
            live_task.cancel()
            await asyncio.gather(live_task, return_exceptions=True)
        finally:
            await store.close()

    with EtcdProcess() as etcd:
        run(main(etcd))


def test_etcd_restart_loses_nothing_and_store_recovers() -> None:
    async def main(etcd: EtcdProcess) -> None:
        store = Store(etcd.endpoint, timeout=2)
        try:
            for i in range(5):
                await store.create(pod(f"p{i}", "default"))
            w = store.watch("pods", "default")
            first = asyncio.ensure_future(take(w, 1, timeout=60))
            await eventually(lambda: store.fanout("pods").watcher_count == 1)

            await asyncio.to_thread(etcd.stop)
            with pytest.raises(errors.Unavailable, match=r"etcd at .* is unavailable"):
                await store.get("pods", "default", "p0")
            with pytest.raises(errors.Unavailable):
                await store.create(pod("down", "default"))
            await asyncio.to_thread(etcd.start)

            items = await eventually(lambda: store.list("pods"), timeout=20,
                                     what="store answers after etcd restart")
            assert sorted(meta(i).name for i in items[0]) == [f"p{i}" for i in range(5)]
            # the shared watch reopened itself: the next write reaches the old watcher
            created = await store.create(pod("after", "default"))
            ev = (await first)[0]
            assert ev.type == "ADDED" and ev.object == created
            await w.aclose()
        finally:
            await store.close()

    with EtcdProcess() as etcd:
        run(main(etcd), timeout=120)


def test_periodic_compactor_keeps_one_interval() -> None:
    async def main(etcd: EtcdProcess) -> None:
        store = Store(etcd.endpoint)
        task = asyncio.ensure_future(run_compactor(store, interval=0.2))
        try:
            first = await store.create(pod("c0", "default"))
            old_rv = str(int(meta(first).resource_version) - 1)

            async def compacted() -> bool:
                await store.create(pod(f"c{await store.revision()}", "default"))
                try:
                    await take(store.watch("pods", "", old_rv), 1, timeout=5)
                except errors.Gone:
                    return True
                return False

            await eventually(compacted, timeout=20, interval=0.2, what="old revision compacted")
            # the shared watch still serves recent revisions from its buffer
            _, rv = await store.list("pods")
            w = store.watch("pods", "", str(rv))
            nxt = asyncio.ensure_future(take(w, 1))
            await eventually(lambda: store.fanout("pods").watcher_count >= 1)
            created = await store.create(pod("last", "default"))
            assert (await nxt)[0].object == created
            await w.aclose()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()

    with EtcdProcess() as etcd:
        run(main(etcd))
