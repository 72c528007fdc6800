"""The etcd store against a real etcd process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from controlplane import errors
from controlplane.objects import meta_of as meta
from controlplane.store.etcd_store import Store
from controlplane.store.watch import StoreEvent
from proto import api_pb2
from tests.support.aio import eventually, run
from tests.support.etcd import EtcdProcess


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


def pod(name: str, ns: str = "default", image: str = "nginx") -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    obj.pod.metadata.namespace = ns
    obj.pod.spec.containers.add(name="c", image=image)
    return obj


def uniq() -> str:
    return "t" + uuid.uuid4().hex[:8]


async def take(it: AsyncIterator[StoreEvent], n: int, timeout: float = 10.0,
               ) -> list[StoreEvent]:
    out: list[StoreEvent] = []

    async def go() -> None:
        async for ev in it:
            if ev.type == "BOOKMARK":   # progress only; not counted
                continue
            out.append(ev)
            if len(out) == n:
                return

    await asyncio.wait_for(go(), timeout)
    return out


def test_crud(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            ns = uniq()
            created = await store.create(pod("a", ns))
            rv = meta(created).resource_version
            assert rv and int(rv) > 0
            with pytest.raises(errors.AlreadyExists):
                await store.create(pod("a", ns))
            got = await store.get("pods", ns, "a")
            assert got == created
            with pytest.raises(errors.NotFound, match='Pod "'):
                await store.get("pods", ns, "nope")
            await store.create(pod("b", ns))
            items, list_rv = await store.list("pods", ns)
            assert [meta(i).name for i in items] == ["a", "b"]
            assert list_rv >= int(meta(items[1]).resource_version)
            all_items, _ = await store.list("pods")
            assert len(all_items) >= 2

            got.pod.spec.containers[0].image = "busybox"
            updated = await store.update(got)
            assert int(meta(updated).resource_version) > int(rv)
            assert (await store.get("pods", ns, "a")).pod.spec.containers[0].image == "busybox"
            # stale resourceVersion
            with pytest.raises(errors.Conflict):
                await store.update(got)
            with pytest.raises(errors.NotFound):
                await store.update(pod("ghost", ns))
            with pytest.raises(errors.Conflict):
                await store.delete("pods", ns, "a", resource_version=rv)
            gone = await store.delete("pods", ns, "a",
                                      resource_version=meta(updated).resource_version)
            assert gone.pod.spec.containers[0].image == "busybox"
            with pytest.raises(errors.NotFound):
                await store.delete("pods", ns, "a")
            # cluster-scoped
            node = api_pb2.Object()
            node.node.metadata.name = uniq()
            await store.create(node)
            assert (await store.get("nodes", "", node.node.metadata.name)).node.metadata.name
        finally:
            await store.close()

    run(main())


def test_concurrent_writers_exactly_one_wins(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            ns = uniq()
            base = await store.create(pod("race", ns))
            attempts = []
            for i in range(8):
                o = api_pb2.Object()
                o.CopyFrom(base)
                o.pod.spec.containers[0].image = f"img{i}"
                attempts.append(store.update(o))
            results = await asyncio.gather(*attempts, return_exceptions=True)
            wins = [r for r in results if isinstance(r, api_pb2.Object)]
            conflicts = [r for r in results if isinstance(r, errors.Conflict)]
            assert len(wins) == 1 and len(conflicts) == 7, results
            final = await store.get("pods", ns, "race")
            assert final == wins[0]
        finally:
            await store.close()

    run(main())


def test_too_large(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            big = pod("big", uniq())
            big.pod.metadata.annotations["x"] = "y" * (2 * 1024 * 1024)
            with pytest.raises(errors.TooLarge, match=r'Pod ".*/big"'):
                await store.create(big)
        finally:
            await store.close()

    run(main())


def test_watch_resume_no_gaps_no_duplicates(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint, history=5)   # a small buffer forces catch-up from etcd
        try:
            ns = uniq()
            start = await store.revision()
            live = store.watch("pods", ns, str(start))
            first = asyncio.ensure_future(take(live, 30))
            await eventually(lambda: store.fanout("pods").watcher_count > 0)
            revs: list[int] = []
            for i in range(10):
                o = await store.create(pod(f"p{i}", ns))
                revs.append(int(meta(o).resource_version))
            for i in range(10):
                o = await store.get("pods", ns, f"p{i}")
                o.pod.metadata.labels["v"] = "2"
                revs.append(int(meta(await store.update(o)).resource_version))
            for i in range(10):
                revs.append(int(meta(await store.delete("pods", ns, f"p{i}")).resource_version))
            events = await first
            assert [e.revision for e in events] == revs
            assert [e.type for e in events] == ["ADDED"] * 10 + ["MODIFIED"] * 10 + ["DELETED"] * 10
            assert events[-1].object.pod.metadata.name == "p9"

            # resume from every point: exactly the rest, in order (older ones via etcd history)
            for cut in (0, 7, 15, 24, 29):
                rest = await take(store.watch("pods", ns, str(revs[cut])), len(revs) - cut - 1)\
                    if cut < 29 else []
                assert [e.revision for e in rest] == revs[cut + 1:]
            # the catch-up watch hands over to live events without a gap
            resumed = store.watch("pods", ns, str(revs[3]))
            got = await take(resumed, len(revs) - 4)
            o = await store.create(pod("after", ns))
            nxt = await take(resumed, 1)
            assert [e.revision for e in got + nxt] == [*revs[4:], int(meta(o).resource_version)]
            await resumed.aclose()
        finally:
            await store.close()

    run(main())


def test_watch_from_a_version_the_store_never_reached_is_gone(etcd: EtcdProcess) -> None:
    """After etcd is restored from an older snapshot, a client's resourceVersion can be
    ahead of the store: its watch must not wait silently (missing every change up to
    there) but answer Gone, so the client relists."""
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            ns = uniq()
            now = await store.revision()
            with pytest.raises(errors.Gone, match=f"too large resource version: {now + 50}"):
                await take(store.watch("pods", ns, str(now + 50)), 1)
            # the current revision itself is fine: the next change arrives
            live = store.watch("pods", ns, str(await store.revision()))
            first = asyncio.ensure_future(take(live, 1))
            await eventually(lambda: store.fanout("pods").watcher_count > 0)
            o = await store.create(pod("p", ns))
            assert [e.revision for e in await first] == [int(meta(o).resource_version)]
        finally:
            await store.close()

    run(main())


def test_one_etcd_watch_per_resource(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            ns = uniq()
            before = etcd.metric("etcd_debugging_mvcc_watcher_total")
            watchers = [store.watch("pods", ns) for _ in range(20)]
            tasks = [asyncio.ensure_future(take(w, 1)) for w in watchers]
            await eventually(lambda: store.fanout("pods").watcher_count == 20)
            created = await store.create(pod("x", ns))
            for ev in await asyncio.gather(*tasks):
                assert ev[0].object == created
            assert store.etcd_watch_count == 1
            assert etcd.metric("etcd_debugging_mvcc_watcher_total") - before == 1
            n = etcd.metric("etcd_debugging_mvcc_watcher_total")
            nodes = [store.watch("nodes") for _ in range(5)]
            ntasks = [asyncio.ensure_future(take(w, 1)) for w in nodes]
            await eventually(lambda: store.fanout("nodes").watcher_count == 5)
            assert store.etcd_watch_count == 2
            assert etcd.metric("etcd_debugging_mvcc_watcher_total") - n == 1
            for t in ntasks:
                t.cancel()
            await asyncio.gather(*ntasks, return_exceptions=True)
            for w in watchers + nodes:
                await w.aclose()
        finally:
            await store.close()

    run(main())
