"""Leader election between control-plane replicas."""

from __future__ import annotations

import asyncio
import time

from controlplane import errors
from controlplane.leader import LeaderElector
from tests.integration.loops.harness import Cluster, PodMonitor, deployment, deployment_done
from tests.support.aio import eventually, run


class LeaderSampler:
    """Checks, every few ms, that no two replicas think they lead at once."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.overlaps = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            if sum(1 for r in self.cluster.replicas if r.is_leader) > 1:
                self.overlaps += 1
            await asyncio.sleep(0.005)  # the sampling period (not synchronisation)

    def stop(self) -> None:
        self.task.cancel()


async def update_image(reg, name, image):
    for _ in range(10):
        cur = await reg.get("deployments", "default", name)
        cur.deployment.spec.template.spec.containers[0].image = image
        try:
            await reg.update(cur)
            return
        except errors.Conflict:
            continue


def test_leader_killed_during_rollout(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=4, replicas=2) as c:
            reg = c.registry
            sampler = LeaderSampler(c)
            first = await eventually(c.leader, timeout=20, what="a leader")
            other = next(r for r in c.replicas if r is not first)
            assert not other.is_leader
            who = await other.electors[0].wait_for_leader(timeout=5)
            assert who == first.identity
            await reg.create(deployment("web", 8, image="v1", max_surge=2, max_unavailable=1,
                                        min_ready_seconds=1))
            await eventually(lambda: deployment_done(reg, "web", 8), timeout=30)
            mon = PodMonitor(reg, selector="app=web")
            await mon.start()
            await update_image(reg, "web", "v2")

            async def rolling():
                pods = await c.pods(selector="app=web")
                return any(p.spec.containers[0].image == "v2" and p.spec.node_name
                           for p in pods)
            await eventually(rolling, timeout=20, what="rollout under way")
            # crash the leader: its lease is not revoked, it must expire
            elector = first.electors[0]

            async def no_revoke(lease):
                return None
            elector._revoke = no_revoke
            killed_at = time.monotonic()
            await first.stop()
            assert not await deployment_done(reg, "web", 8, "v2"), "killed mid-rollout"
            await eventually(lambda: other.is_leader, timeout=3 * c.profile.leader_lease_ttl,
                             what="the other replica takes over")
            took = time.monotonic() - killed_at
            assert took <= c.profile.leader_lease_ttl + 1.5, took
            await eventually(lambda: deployment_done(reg, "web", 8, "v2"), timeout=60,
                             what="the new leader finishes the rollout")
            await mon.stop()
            sampler.stop()
            assert sampler.overlaps == 0
            assert not mon.rebinds, "a pod was bound twice"
            assert mon.max_active <= 10 and (mon.min_ready or 0) >= 7

            # every pod got exactly one Scheduled event (aggregation would show count > 1)
            evs = [e.event for e in (await reg.list("events", "default")).items
                   if e.event.reason == "Scheduled"]
            per_pod: dict[str, int] = {}
            for e in evs:
                per_pod[e.involved_object.uid] = per_pod.get(e.involved_object.uid, 0) + e.count
            assert all(n == 1 for n in per_pod.values()), per_pod

    run(main(), timeout=180)


def test_partitioned_leader_steps_down_before_lease_ends(etcd):
    async def main():
        ttl = 3
        a = LeaderElector([etcd.endpoint], "a", key="/corral/leader/test", ttl=ttl)
        b = LeaderElector([etcd.endpoint], "b", key="/corral/leader/test", ttl=ttl)
        stopped_at: dict[str, float] = {}
        started_at: dict[str, float] = {}

        def work(name):
            async def w():
                started_at[name] = time.monotonic()
                try:
                    await asyncio.Event().wait()
                finally:
                    stopped_at[name] = time.monotonic()
            return w

        ta = asyncio.create_task(a.run(work("a")))
        await eventually(lambda: a.is_leader, timeout=10)
        tb = asyncio.create_task(b.run(work("b")))
        assert await b.wait_for_leader(timeout=5) == "a"

        # partition a from etcd: its renewals fail from now on (and it cannot revoke)
        async def broken():
            raise ConnectionError("partitioned")

        async def no_revoke(lease):
            raise ConnectionError("partitioned")
        a._refresh = broken  # type: ignore[method-assign]
        a._revoke = no_revoke  # type: ignore[method-assign]
        a._campaign = broken  # type: ignore[method-assign]
        await eventually(lambda: "b" in started_at, timeout=4 * ttl, what="b takes over")
        assert "a" in stopped_at
        assert stopped_at["a"] < started_at["b"], "the old leader must stop first"
        for t in (ta, tb):
            t.cancel()
        await asyncio.gather(ta, tb, return_exceptions=True)

    run(main(), timeout=60)


def test_cancelled_lease_refresh_loses_leadership_and_campaigns_again(etcd):
    """aetcd can raise CancelledError from a refresh nobody cancelled (its channel
    went away): the elector must step down cleanly and win again, not exit."""
    async def main():
        ttl = 2
        a = LeaderElector([etcd.endpoint], "a", key="/corral/leader/cancel", ttl=ttl)
        starts: list[float] = []
        stops: list[float] = []

        async def work():
            starts.append(time.monotonic())
            try:
                await asyncio.Event().wait()
            finally:
                stops.append(time.monotonic())

        task = asyncio.create_task(a.run(work))
        await eventually(lambda: a.is_leader, timeout=10, what="a leads")
        real_refresh, real_campaign = a._refresh, a._campaign
        failures = 0

        async def cancelled(*args):
            nonlocal failures
            failures += 1
            raise asyncio.CancelledError("aetcd channel closed")
        a._refresh = cancelled  # type: ignore[method-assign]
        a._campaign = cancelled  # type: ignore[method-assign]
        await eventually(lambda: stops, timeout=4 * ttl, what="a steps down")
        assert not a.is_leader
        await eventually(lambda: failures >= 3, timeout=4 * ttl,
                         what="the elector keeps trying after the failures")
        assert not task.done(), "a failed refresh must not end the elector"
        a._refresh, a._campaign = real_refresh, real_campaign  # type: ignore[method-assign]
        await eventually(lambda: a.is_leader and len(starts) == 2, timeout=6 * ttl,
                         what="a campaigns again and leads")
        assert a.terms == 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled(), "cancelling run() itself still stops it"

    run(main(), timeout=60)
