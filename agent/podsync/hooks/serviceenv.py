"""Hook: the service environment variables (WEB_SERVICE_HOST, KUBERNETES_PORT, ...) of
the Services that exist when a container starts, like the kubelet's. Registered
before the env hook: the container's own `env` overrides them (the image's ENV is
overridden by them)."""

from __future__ import annotations

from agent.podsync.hook import ContainerSetup, NotReady
from agent.podsync.run import PodRun
from agent.podsync.securitycontext import CREATE_CONTAINER_CONFIG_ERROR
from agent.ports import ServicesPort


class ServiceEnvHook:
    name = "service-env"

    def __init__(self, services: ServicesPort) -> None:
        self.services = services

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        env = self.services.service_env(run.pod)
        if env is None:       # the kubelet refuses too: the variables would be missing
            return NotReady(CREATE_CONTAINER_CONFIG_ERROR, "services have not yet been read at "
                            "least once, cannot construct envvars", retry_after=0.5)
        for name, value in env:
            setup.env[name] = value
        return None
