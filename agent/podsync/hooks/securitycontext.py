"""Hook: a container's securityContext (runAsUser/Group, capabilities, seccomp,
runAsNonRoot checked against the image's user): agent/podsync/securitycontext.py."""

from __future__ import annotations

from agent.podsync.hook import ContainerSetup, NotReady
from agent.podsync.run import PodRun
from agent.podsync.securitycontext import ContainerConfigError, run_as, security_options


class SecurityContextHook:
    name = "securitycontext"

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        try:
            setup.security = security_options(run.pod, setup.container, setup.image.user)
        except ContainerConfigError as e:
            return NotReady(e.reason, str(e))
        setup.user = run_as(run.pod, setup.container) or setup.user
        return None
