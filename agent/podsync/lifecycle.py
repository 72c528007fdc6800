"""A pod worker's pod-level resources and its end: the pod network and sandbox, the
network of a finished pod released, eviction (containers killed), and termination
(stop within the grace period, clean up, confirm the deletion)."""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync.containers import ContainersPart
from agent.podsync.context import grace_period
from agent.podsync.events import NORMAL, WARNING
from agent.ports import EXITED, HOST_NETNS, ApiNotFound, ApiUnavailable, ContainerInfo


class LifecyclePart(ContainersPart):
    async def _kill_evicted(self, by_name: dict[str, list[ContainerInfo]],
                            ) -> dict[str, list[ContainerInfo]]:
        running = [i for inst in by_name.values() for i in inst if i.state != EXITED]
        if not running:
            return by_name
        assert self.evicted is not None
        for i in running:
            self.kill_messages[i.id] = self.evicted[1]
        await asyncio.gather(*(self.ctx.runtime.stop_container(i.id, 0) for i in running))
        self._changed_containers()
        return await self._containers()

    async def _release_network(self) -> None:
        """A finished pod keeps its containers (status, logs) but not its IP."""
        if self._net_released or self.pod.spec.host_network:
            return
        try:
            await self.ctx.network.teardown_pod(self.uid)
            self._net_released = True
        except Exception as e:
            self.log.debug("pod %s: releasing the network of a finished pod: %s", self.key, e)
            self._soon(5.0)

    async def _ensure_sandbox(self, by_name: dict[str, list[ContainerInfo]]) -> bool:
        if self._sandbox_ok:
            return True
        try:
            await self.ctx.runtime.ensure_sandbox(self.uid, self.pod.metadata.namespace,
                                                  self.pod.metadata.name, self.netns_path)
            self._sandbox_ok = True
            return True
        except Exception as e:
            self.log.warning("pod %s: sandbox creation failed: %s", self.key, e)
            msg = f"failed to create the pod sandbox: {e}"
            self._not_created(by_name, st.CONTAINER_CREATING, msg)
            self.event(WARNING, "FailedCreatePodSandBox", msg)
            self._soon(2.0)
            return False

    async def _ensure_network(self, by_name: dict[str, list[ContainerInfo]]) -> bool:
        if self.pod_ip:
            return True
        if self.pod.spec.host_network:
            # the node's own network namespace (the agent's): no netns, veth or IP of its own
            self.pod_ip, self.netns_path = self.ctx.host_ip, HOST_NETNS
            return True
        if not self.ctx.network.ready():
            self._network_error = "waiting for the node's pod CIDR (network not ready)"
            self._not_created(by_name, st.CONTAINER_CREATING, self._network_error)
            self._soon(1.0)
            return False
        try:
            net = await self.ctx.network.setup_pod(self.uid, self.pod.metadata.namespace,
                                                   self.pod.metadata.name)
        except Exception as e:
            self.log.warning("pod %s: network setup failed: %s", self.key, e)
            self._network_error = f"failed to set up the pod network: {e}"
            self._not_created(by_name, st.CONTAINER_CREATING, self._network_error)
            self.event(WARNING, "FailedCreatePodSandBox", self._network_error)
            self._soon(2.0)
            return False
        self._network_error = ""
        self.pod_ip, self.netns_path = net.ip, net.netns_path
        for c in list(self.pod.spec.init_containers) + list(self.pod.spec.containers):
            if self.waiting.get(c.name, ("", ""))[0] == st.CONTAINER_CREATING:
                del self.waiting[c.name]
        return True

    async def _terminate(self) -> float:
        grace = grace_period(self.pod)
        by_name = await self._containers()
        running = [i for inst in by_name.values() for i in inst if i.state != EXITED]
        if running:
            self.log.info("pod %s: stopping %d container(s) (grace %gs)", self.key, len(running),
                     grace)
            if not self.removed:
                for i in running:
                    self.event(NORMAL, "Killing", f"Stopping container {i.name}", i.name)
            await asyncio.gather(*(self.ctx.runtime.stop_container(i.id, grace)
                                   for i in running))
            self._changed_containers()
        if not self.removed and self.pod.metadata.HasField("deletion_timestamp"):
            # one last status with the terminated containers, best effort
            self._report(await self._containers())
        for inst in by_name.values():
            for i in inst:
                await self.ctx.runtime.remove_container(i.id)
        if not self.pod.spec.host_network:
            await self.ctx.network.teardown_pod(self.uid)
        await self.ctx.runtime.remove_sandbox(self.uid)
        self.pod_ip = ""
        self.ctx.crash_backoff.forget_prefix(self.uid + "/")
        self.ctx.pull_backoff.forget_prefix(self.uid + "/")
        if not self.removed:
            try:
                await self.ctx.api.delete("pods", self.pod.metadata.namespace,
                                          self.pod.metadata.name, grace_period_seconds=0)
                self.log.info("pod %s: deletion confirmed", self.key)
            except ApiNotFound:
                pass
            except ApiUnavailable as e:
                self.log.info("pod %s: cannot confirm deletion yet: %s", self.key, e)
                return min(self.ctx.profile.resync_interval, 2.0)
        self.ctx.statuses.forget(self.uid)
        self.ctx.store.delete(self.uid)
        self.done = True
        return 0.0
