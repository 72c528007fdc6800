"""A pod's end: an evicted pod's containers killed, and termination (prekill
hooks, stop within the grace period, containers removed, destroy hooks, the
deletion confirmed to the control plane)."""

from __future__ import annotations

import asyncio

from agent.podsync.context import grace_period
from agent.podsync.events import NORMAL
from agent.podsync.hook import Hooks
from agent.podsync.podstatus import StatusReporter
from agent.podsync.podview import ByName, PodContainers
from agent.podsync.run import PodRun
from agent.ports import EXITED, ApiNotFound, ApiUnavailable

# the least a container gets to stop once prekill hooks used up the grace period
# (the kubelet's minimum after a preStop hook)
MIN_GRACE_AFTER_PREKILL = 2.0


class PodEnding:
    def __init__(self, run: PodRun, view: PodContainers, status: StatusReporter,
                 hooks: Hooks) -> None:
        self.run = run
        self.ctx = run.ctx
        self.view = view
        self.status = status
        self.hooks = hooks
        self.prekill_since: float | None = None

    async def kill_evicted(self, by_name: ByName) -> ByName:
        running = [i for inst in by_name.values() for i in inst if i.state != EXITED]
        if not running:
            return by_name
        assert self.run.evicted is not None
        for i in running:
            self.run.kill_messages[i.id] = self.run.evicted[1]
        await asyncio.gather(*(self.ctx.runtime.stop_container(i.id, 0) for i in running))
        self.view.changed()
        return await self.view.current()

    async def _prekill(self, grace: float) -> tuple[float, float]:
        """(seconds to wait before signalling, the grace left for the containers)."""
        if not self.hooks.prekill or grace <= 0:
            return 0.0, grace
        if self.prekill_since is None:
            self.prekill_since = self.ctx.clock()
        waits = [await h.prekill(self.run) for h in self.hooks.prekill]
        spent = self.ctx.clock() - self.prekill_since
        wait = max(waits)
        if wait > 0 and spent < grace:
            return min(wait, grace - spent), grace
        return 0.0, max(grace - spent, min(grace, MIN_GRACE_AFTER_PREKILL))

    async def terminate(self) -> float:
        """One pass of a pod being deleted or no longer desired; seconds until the next
        one (0 when done)."""
        run = self.run
        grace = grace_period(run.pod)
        by_name = await self.view.current()
        running = [i for inst in by_name.values() for i in inst if i.state != EXITED]
        if running:
            wait, grace = await self._prekill(grace)
            if wait > 0:
                return wait
            run.log.info("pod %s: stopping %d container(s) (grace %gs)", run.key, len(running),
                         grace)
            if not run.removed:
                for i in running:
                    run.event(NORMAL, "Killing", f"Stopping container {i.name}", i.name)
            await asyncio.gather(*(self.ctx.runtime.stop_container(i.id, grace)
                                   for i in running))
            self.view.changed()
        if not run.removed and run.pod.metadata.HasField("deletion_timestamp"):
            # one last status with the terminated containers, best effort
            self.status.report(await self.view.current())
        for inst in by_name.values():
            for i in inst:
                await self.ctx.runtime.remove_container(i.id)
        for hook in self.hooks.destroy:
            await hook.destroy(run)
        self.ctx.crash_backoff.forget_prefix(run.uid + "/")
        self.ctx.pull_backoff.forget_prefix(run.uid + "/")
        if not run.removed:
            try:
                await self.ctx.api.delete("pods", run.pod.metadata.namespace,
                                          run.pod.metadata.name, grace_period_seconds=0)
                run.log.info("pod %s: deletion confirmed", run.key)
            except ApiNotFound:
                pass
            except ApiUnavailable as e:
                run.log.info("pod %s: cannot confirm deletion yet: %s", run.key, e)
                return min(self.ctx.profile.resync_interval, 2.0)
        self.ctx.statuses.forget(run.uid)
        self.ctx.store.delete(run.uid)
        run.done = True
        return 0.0
