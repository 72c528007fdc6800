"""Hook: a container's `envFrom` (ConfigMaps and Secrets, with `prefix`), below what
`env` sets (register it before the env hook). A missing source that is not
`optional` leaves the container waiting with CreateContainerConfigError and the
kubelet's message; keys that are not variable names are skipped with an event."""

from __future__ import annotations

from agent.podsync.configdata.envsources import env_from
from agent.podsync.configdata.objects import ConfigObjects, NotSynced
from agent.podsync.configdata.projection import Missing
from agent.podsync.events import WARNING
from agent.podsync.hook import ContainerSetup, NotReady
from agent.podsync.run import PodRun
from agent.podsync.securitycontext import CREATE_CONTAINER_CONFIG_ERROR

NOT_SYNCED_RETRY = 1.0


class EnvFromHook:
    name = "envfrom"

    def __init__(self, objects: ConfigObjects) -> None:
        self.objects = objects

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        if not setup.container.env_from:
            return None
        ns = run.pod.metadata.namespace
        try:
            values, skipped = env_from(ns, setup.container,
                                       lambda r, n: self.objects.lookup(r, ns, n))
        except NotSynced as e:
            return NotReady(CREATE_CONTAINER_CONFIG_ERROR, str(e), retry_after=NOT_SYNCED_RETRY)
        except Missing as e:
            return NotReady(CREATE_CONTAINER_CONFIG_ERROR, str(e))
        for message in skipped:
            run.event(WARNING, "InvalidEnvironmentVariableNames", message,
                      setup.container.name)
        setup.env.update(values)
        return None
