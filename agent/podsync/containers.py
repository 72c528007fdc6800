"""A pod's containers: init containers one after another, app containers with
the restart policy and CrashLoopBackOff, starts, and clean-up of old instances."""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync.containerspec import SpecBuilder
from agent.podsync.context import grace_period
from agent.podsync.events import NORMAL, WARNING
from agent.podsync.hook import NotReady
from agent.podsync.podview import ByName, PodContainers
from agent.podsync.probing import Prober
from agent.podsync.pulling import ImagePuller
from agent.podsync.run import PodRun
from agent.ports import EXITED, RUNNING, ContainerInfo
from proto import core_pb2


class ContainerSync:
    def __init__(self, run: PodRun, view: PodContainers, probes: Prober,
                 specs: SpecBuilder) -> None:
        self.run = run
        self.ctx = run.ctx
        self.view = view
        self.probes = probes
        self.images = ImagePuller(run)
        self.specs = specs
        self.respawn: set[str] = set()      # instances killed for a spec change: start again

    async def sync(self, by_name: ByName) -> None:
        policy = self.run.pod.spec.restart_policy or "Always"
        if await self._sync_init(by_name, policy):
            await self._sync_app(by_name, policy)

    async def _sync_init(self, by_name: ByName, policy: str) -> bool:
        """Run init containers one after another; True when all have succeeded."""
        waiting = self.run.waiting
        for c in self.run.pod.spec.init_containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is not None and latest.state == EXITED and latest.exit_code == 0:
                waiting.pop(c.name, None)
                continue
            if latest is not None and latest.state == RUNNING:
                waiting.pop(c.name, None)
                return False
            if latest is not None and latest.state == EXITED:
                if policy == "Never":
                    waiting.pop(c.name, None)
                    return False            # the pod has failed
                await self._restart(c, latest, init=True)
                return False
            await self._start(c, latest, init=True)
            return False
        for c in self.run.pod.spec.containers:
            if waiting.get(c.name, ("", ""))[0] == st.POD_INITIALIZING:
                del waiting[c.name]
        return True

    async def _sync_app(self, by_name: ByName, policy: str) -> None:
        run = self.run
        probes: list[asyncio.Task[None]] = []
        for c in run.pod.spec.containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is None:
                await self._start(c, None, init=False)
            elif latest.state == RUNNING and latest.image and latest.image != c.image:
                # the only mutable part of a container: restart it on the new image
                msg = f"Container {c.name} definition changed, will be restarted"
                run.log.info("pod %s: %s", run.key, msg)
                run.event(NORMAL, "Killing", msg, c.name)
                run.kill_messages[latest.id] = msg
                self.respawn.add(latest.id)
                await self.ctx.runtime.stop_container(latest.id, grace_period(run.pod))
                self.view.changed()
                self.view.relist = True
                self.probes.forget(latest.id)
                await self._start(c, latest, init=False)
            elif latest.state == RUNNING:
                run.waiting.pop(c.name, None)
                probes.append(asyncio.ensure_future(self.probes.probe(c, latest)))
            elif latest.state == EXITED:
                if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0) \
                        or latest.id in self.respawn:
                    await self._restart(c, latest, init=False)
                else:
                    run.waiting.pop(c.name, None)
            else:
                run.soon(0.5)         # created, not yet running: look again soon
        if probes:
            await asyncio.gather(*probes)

    async def _restart(self, c: core_pb2.Container, latest: ContainerInfo, init: bool) -> None:
        run = self.run
        key = f"{run.uid}/{c.name}"
        bo = self.ctx.crash_backoff
        ran = (latest.finished_at or 0) - (latest.started_at or latest.finished_at or 0)
        if ran >= self.ctx.profile.crash_backoff_reset:
            bo.reset(key)
        left = bo.remaining(key)
        if left > 0:
            run.waiting[c.name] = (
                st.CRASH_LOOP,
                f"back-off {bo.delay(key):g}s restarting failed container={c.name} "
                f"pod={run.pod.metadata.name}_{run.pod.metadata.namespace}({run.uid})")
            run.soon(left)
            run.event(WARNING, "BackOff", "Back-off restarting failed container", c.name)
            return
        bo.fail(key)
        await self._start(c, latest, init)

    async def _start(self, c: core_pb2.Container, latest: ContainerInfo | None,
                     init: bool) -> None:
        run = self.run
        if run.provisional and c.name not in run.adopted_running:
            run.soon(self.ctx.profile.resync_interval)
            return
        image = await self.images.pull(c)
        if image is None:
            return
        spec = await self.specs.build(c, image, latest, init)
        if isinstance(spec, NotReady):
            run.waiting[c.name] = (spec.reason, spec.message)
            run.soon(spec.retry_after if spec.retry_after is not None
                     else self.ctx.profile.pull_backoff_initial)
            return
        if latest is not None:
            run.record.restart_counts[c.name] = run.record.restart_counts.get(c.name, 0) + 1
            await run.save()
        try:
            info = await self.ctx.runtime.start_container(spec)
        except Exception as e:
            run.log.warning("pod %s: container %s failed to start: %s", run.key, c.name, e)
            run.waiting[c.name] = (st.CREATE_CONTAINER_ERROR, str(e))
            run.soon(self.ctx.profile.pull_backoff_initial)
            run.event(WARNING, "Failed", f"Error: {e}", c.name)
            return
        self.view.changed()
        self.view.started_now.append(info)
        run.waiting.pop(c.name, None)
        if self.ctx.on_container_start is not None:
            self.ctx.on_container_start(run.key, c.name, latest is not None)
        run.event(NORMAL, "Created", f"Created container {c.name}", c.name)
        run.event(NORMAL, "Started", f"Started container {c.name}", c.name)
        run.log.info("pod %s: started container %s (%s, attempt %d)", run.key, c.name, info.id,
                     spec.attempt)
        await self._gc_instances(c.name, keep=info)
        run.soon(0.2)

    async def _gc_instances(self, name: str, keep: ContainerInfo) -> None:
        """Keep the new instance and the one before it (for lastState and logs --previous)."""
        inst = self.view.at_start.get(name, [])     # this pass's listing, before the start
        older = [i for i in inst if i.id != keep.id]
        for old in older[1:]:
            try:
                await self.ctx.runtime.remove_container(old.id)
                self.view.changed()
            except Exception as e:
                self.run.log.warning("pod %s: cannot remove old container %s: %s", self.run.key,
                                     old.id, e)
            self.run.kill_messages.pop(old.id, None)
