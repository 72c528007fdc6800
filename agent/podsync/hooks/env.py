"""Hook: a container's `env` (values with $(VAR) expansion, the downward API's
fieldRef and resourceFieldRef), over what earlier sources set."""

from __future__ import annotations

from agent import status as st
from agent.podsync.env import FieldRefError, expand, field_ref, resource_ref
from agent.podsync.hook import ContainerSetup, NotReady
from agent.podsync.run import PodRun
from proto.quantity import QuantityError


class EnvHook:
    name = "env"

    def __init__(self, host_ip: str) -> None:
        self.host_ip = host_ip

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        env = setup.env
        try:
            for e in setup.container.env:
                if not e.HasField("value_from"):
                    env[e.name] = expand(e.value, env)
                    continue
                vf = e.value_from
                if vf.HasField("field_ref"):
                    env[e.name] = field_ref(run.pod, vf.field_ref.field_path, run.pod_ip,
                                            self.host_ip)
                elif vf.HasField("resource_field_ref"):
                    env[e.name] = resource_ref(run.pod, setup.container,
                                               vf.resource_field_ref)
                else:
                    raise FieldRefError(f"env {e.name}: unsupported valueFrom")
        except (FieldRefError, QuantityError) as e:
            return NotReady(st.CREATE_CONTAINER_ERROR, str(e))
        return None
