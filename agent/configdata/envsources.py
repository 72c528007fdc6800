"""A container's environment from ConfigMaps and Secrets, as the kubelet makes it
(makeEnvironmentVariables): `envFrom` first (later sources override earlier ones),
then `env[].valueFrom.configMapKeyRef` / `secretKeyRef` where they stand in `env`.

    values, skipped = env_from(container, lookup)    # {"DB_USER": "admin"}, ["1bad"]
    value = key_ref(namespace, env_var.value_from, lookup)   # None: optional and absent

A missing object or key that is not `optional` raises Missing with the kubelet's
message ('configmap "x" not found', "couldn't find key k in ConfigMap ns/x"): the
container waits with CreateContainerConfigError. Keys that are not valid variable
names are skipped (the caller reports them in an event, as the kubelet does).
"""

from __future__ import annotations

import re

from agent.configdata.projection import Lookup, Missing, object_values
from proto import core_pb2

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def env_from(c: core_pb2.Container, lookup: Lookup) -> tuple[dict[str, str], list[str]]:
    """The variables of every envFrom source, and the keys skipped as invalid names."""
    out: dict[str, str] = {}
    skipped: list[str] = []
    for ef in c.env_from:
        if ef.HasField("config_map_ref"):
            ref = ef.config_map_ref
            values = object_values("configmaps", ref.name, lookup,
                                   ref.HasField("optional") and ref.optional)
        else:
            sref = ef.secret_ref
            values = object_values("secrets", sref.name, lookup,
                                   sref.HasField("optional") and sref.optional)
        for key, value in sorted((values or {}).items()):
            name = ef.prefix + key
            if not _ENV_NAME.match(name):
                skipped.append(name)
                continue
            out[name] = value.decode(errors="replace")
    return out, skipped


def key_ref(namespace: str, vf: core_pb2.EnvVarSource, lookup: Lookup) -> str | None:
    """The value of a configMapKeyRef / secretKeyRef; None when optional and absent."""
    if vf.HasField("config_map_key_ref"):
        r = vf.config_map_key_ref
        resource, kind, name, key = "configmaps", "ConfigMap", r.name, r.key
        optional = r.HasField("optional") and r.optional
    else:
        s = vf.secret_key_ref
        resource, kind, name, key = "secrets", "Secret", s.name, s.key
        optional = s.HasField("optional") and s.optional
    values = object_values(resource, name, lookup, optional)
    if values is None:
        return None
    if key not in values:
        if optional:
            return None
        raise Missing(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return values[key].decode(errors="replace")


def is_config_ref(vf: core_pb2.EnvVarSource) -> bool:
    return vf.HasField("config_map_key_ref") or vf.HasField("secret_key_ref")
