"""Hook: the pod sandbox (its IPC namespace, the network namespace bound in, its
cgroup), made once before the first container and removed at the end."""

from __future__ import annotations

from agent import status as st
from agent.podsync.events import WARNING
from agent.podsync.hook import NotReady
from agent.podsync.run import PodRun
from agent.ports import ContainerRuntimePort


class SandboxHook:
    name = "sandbox"

    def __init__(self, runtime: ContainerRuntimePort) -> None:
        self.runtime = runtime
        self.made = False

    async def prerun(self, run: PodRun) -> NotReady | None:
        if self.made:
            return None
        try:
            await self.runtime.ensure_sandbox(run.uid, run.pod.metadata.namespace,
                                              run.pod.metadata.name, run.netns_path)
        except Exception as e:
            run.log.warning("pod %s: sandbox creation failed: %s", run.key, e)
            msg = f"failed to create the pod sandbox: {e}"
            run.event(WARNING, "FailedCreatePodSandBox", msg)
            return NotReady(st.CONTAINER_CREATING, msg, retry_after=2.0)
        self.made = True
        return None

    async def destroy(self, run: PodRun) -> None:
        await self.runtime.remove_sandbox(run.uid)
