"""A pod worker's containers: init containers one after another, app containers with
the restart policy and CrashLoopBackOff, starts, and clean-up of old instances."""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync.containerspec import SpecPart
from agent.podsync.context import grace_period
from agent.podsync.env import FieldRefError, QuantityError
from agent.podsync.events import NORMAL, WARNING
from agent.podsync.securitycontext import ContainerConfigError
from agent.ports import EXITED, RUNNING, ContainerInfo
from proto import core_pb2


class ContainersPart(SpecPart):
    async def _sync_init(self, by_name: dict[str, list[ContainerInfo]], policy: str) -> bool:
        """Run init containers one after another; True when all have succeeded."""
        for c in self.pod.spec.init_containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is not None and latest.state == EXITED and latest.exit_code == 0:
                self.waiting.pop(c.name, None)
                continue
            if latest is not None and latest.state == RUNNING:
                self.waiting.pop(c.name, None)
                return False
            if latest is not None and latest.state == EXITED:
                if policy == "Never":
                    self.waiting.pop(c.name, None)
                    return False            # the pod has failed
                await self._restart(c, latest, init=True)
                return False
            await self._start(c, latest, init=True)
            return False
        for c in self.pod.spec.containers:
            if self.waiting.get(c.name, ("", ""))[0] == st.POD_INITIALIZING:
                del self.waiting[c.name]
        return True

    async def _sync_app(self, by_name: dict[str, list[ContainerInfo]], policy: str) -> None:
        probes: list[asyncio.Task[None]] = []
        for c in self.pod.spec.containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is None:
                await self._start(c, None, init=False)
            elif latest.state == RUNNING and latest.image and latest.image != c.image:
                # the only mutable part of a container: restart it on the new image
                msg = f"Container {c.name} definition changed, will be restarted"
                self.log.info("pod %s: %s", self.key, msg)
                self.event(NORMAL, "Killing", msg, c.name)
                self.kill_messages[latest.id] = msg
                self.respawn.add(latest.id)
                await self.ctx.runtime.stop_container(latest.id, grace_period(self.pod))
                self._changed_containers()
                self._relist = True
                self._drop_trackers(latest.id)
                await self._start(c, latest, init=False)
            elif latest.state == RUNNING:
                self.waiting.pop(c.name, None)
                probes.append(asyncio.ensure_future(self._probe(c, latest)))
            elif latest.state == EXITED:
                if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0) \
                        or latest.id in self.respawn:
                    await self._restart(c, latest, init=False)
                else:
                    self.waiting.pop(c.name, None)
            else:
                self._soon(0.5)         # created, not yet running: look again soon
        if probes:
            await asyncio.gather(*probes)

    async def _restart(self, c: core_pb2.Container, latest: ContainerInfo, init: bool) -> None:
        key = f"{self.uid}/{c.name}"
        bo = self.ctx.crash_backoff
        ran = (latest.finished_at or 0) - (latest.started_at or latest.finished_at or 0)
        if ran >= self.ctx.profile.crash_backoff_reset:
            bo.reset(key)
        left = bo.remaining(key)
        if left > 0:
            self.waiting[c.name] = (
                st.CRASH_LOOP,
                f"back-off {bo.delay(key):g}s restarting failed container={c.name} "
                f"pod={self.pod.metadata.name}_{self.pod.metadata.namespace}({self.uid})")
            self._soon(left)
            self.event(WARNING, "BackOff", "Back-off restarting failed container", c.name)
            return
        bo.fail(key)
        await self._start(c, latest, init)

    async def _start(self, c: core_pb2.Container, latest: ContainerInfo | None,
                     init: bool) -> None:
        if self.provisional and c.name not in self._adopted_running:
            self._soon(self.ctx.profile.resync_interval)
            return
        image = await self._pull(c)
        if image is None:
            return
        try:
            spec = self._container_spec(c, image, latest, init)
            spec.mounts = await self._mounts(c)
        except (OSError, ValueError, FieldRefError, QuantityError) as e:
            self.waiting[c.name] = (e.reason if isinstance(e, ContainerConfigError)
                                    else st.CREATE_CONTAINER_ERROR, str(e))
            self._soon(self.ctx.profile.pull_backoff_initial)
            return
        if latest is not None:
            self.record.restart_counts[c.name] = self.record.restart_counts.get(c.name, 0) + 1
            await self._save()
        try:
            info = await self.ctx.runtime.start_container(spec)
        except Exception as e:
            self.log.warning("pod %s: container %s failed to start: %s", self.key, c.name, e)
            self.waiting[c.name] = (st.CREATE_CONTAINER_ERROR, str(e))
            self._soon(self.ctx.profile.pull_backoff_initial)
            self.event(WARNING, "Failed", f"Error: {e}", c.name)
            return
        self._changed_containers()
        self._started_now.append(info)
        self.waiting.pop(c.name, None)
        if self.ctx.on_container_start is not None:
            self.ctx.on_container_start(self.key, c.name, latest is not None)
        self.event(NORMAL, "Created", f"Created container {c.name}", c.name)
        self.event(NORMAL, "Started", f"Started container {c.name}", c.name)
        self.log.info("pod %s: started container %s (%s, attempt %d)", self.key, c.name, info.id,
                 spec.attempt)
        await self._gc_instances(c.name, keep=info)
        self._soon(0.2)

    async def _gc_instances(self, name: str, keep: ContainerInfo) -> None:
        """Keep the new instance and the one before it (for lastState and logs --previous)."""
        inst = self._pass_view.get(name, [])     # this pass's listing, before the start
        older = [i for i in inst if i.id != keep.id]
        for old in older[1:]:
            try:
                await self.ctx.runtime.remove_container(old.id)
                self._changed_containers()
            except Exception as e:
                self.log.warning("pod %s: cannot remove old container %s: %s", self.key, old.id, e)
            self.kill_messages.pop(old.id, None)
