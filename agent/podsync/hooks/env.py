"""Hook: a container's `env` (values with $(VAR) expansion, the downward API's
fieldRef and resourceFieldRef, a ConfigMap's or Secret's key), over what earlier
sources set. A missing ConfigMap, Secret or key that is not `optional` leaves the
container waiting with CreateContainerConfigError and the kubelet's message."""

from __future__ import annotations

from agent import status as st
from agent.podsync.configdata.envsources import is_config_ref, key_ref
from agent.podsync.configdata.objects import ConfigObject, ConfigObjects, NotSynced
from agent.podsync.configdata.projection import Missing
from agent.podsync.env import FieldRefError, expand, field_ref, resource_ref
from agent.podsync.hook import ContainerSetup, NotReady
from agent.podsync.run import PodRun
from agent.podsync.securitycontext import CREATE_CONTAINER_CONFIG_ERROR
from proto.quantity import QuantityError


class EnvHook:
    name = "env"

    def __init__(self, host_ip: str, objects: ConfigObjects) -> None:
        self.host_ip = host_ip
        self.objects = objects

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        env = setup.env
        ns = run.pod.metadata.namespace

        def lookup(resource: str, name: str) -> ConfigObject | None:
            return self.objects.lookup(resource, ns, name)

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
                elif is_config_ref(vf):
                    value = key_ref(ns, vf, lookup)
                    if value is not None:        # optional and absent: not set
                        env[e.name] = value
                else:
                    raise FieldRefError(f"env {e.name}: unsupported valueFrom")
        except (FieldRefError, QuantityError) as e:
            return NotReady(st.CREATE_CONTAINER_ERROR, str(e))
        except NotSynced as e:
            return NotReady(CREATE_CONTAINER_CONFIG_ERROR, str(e), retry_after=1.0)
        except Missing as e:
            return NotReady(CREATE_CONTAINER_CONFIG_ERROR, str(e))
        return None
