"""A container's environment from ConfigMaps and Secrets, as the kubelet makes it
(makeEnvironmentVariables): `envFrom` first (later sources override earlier ones),
then `env[].valueFrom.configMapKeyRef` / `secretKeyRef` where they stand in `env`.

    values, skipped = env_from(ns, container, lookup)   # {"DB_USER": "admin"}, [messages]
    value = key_ref(namespace, env_var.value_from, lookup)   # None: optional and absent

A missing object or key that is not `optional` raises Missing with the kubelet's
message ('configmap "x" not found', "couldn't find key k in ConfigMap ns/x"): the
container waits with CreateContainerConfigError. Keys that are not valid variable
names are skipped (the caller reports them in an event, as the kubelet does).
"""

from __future__ import annotations

import re

from agent.podsync.configdata.projection import Lookup, Missing, object_values
from proto import config_pb2, core_pb2

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def env_from(namespace: str, c: core_pb2.Container,
             lookup: Lookup) -> tuple[dict[str, str], list[str]]:
    """The variables of every envFrom source, and for each source with keys that are
    not valid variable names the kubelet's message about them (they are skipped)."""
    out: dict[str, str] = {}
    skipped: list[str] = []
    for ef in c.env_from:
        if ef.HasField("config_map_ref"):
            ref = ef.config_map_ref
            word, name = "configMap", ref.name
            values = object_values("configmaps", ref.name, lookup,
                                   ref.HasField("optional") and ref.optional)
        else:
            sref = ef.secret_ref
            word, name = "secret", sref.name
            values = object_values("secrets", sref.name, lookup,
                                   sref.HasField("optional") and sref.optional)
        bad = []
        for key, value in sorted((values or {}).items()):
            if not _ENV_NAME.match(ef.prefix + key):
                bad.append(ef.prefix + key)
                continue
            out[ef.prefix + key] = value.decode(errors="replace")
        if bad:
            skipped.append(f"Keys [{', '.join(bad)}] from the EnvFrom {word} {namespace}/{name} "
                           "were skipped since they are considered invalid environment "
                           "variable names.")
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


def pull_secret_configs(pod: core_pb2.Pod, lookup: Lookup) -> tuple[list[bytes], list[str]]:
    """The Docker configs of the pod's imagePullSecrets (dockerconfigjson or dockercfg
    Secrets), and the names of those that are missing or of another type."""
    configs: list[bytes] = []
    unusable: list[str] = []
    for ref in pod.spec.image_pull_secrets:
        s = lookup("secrets", ref.name)
        data = None
        if isinstance(s, config_pb2.Secret):
            data = s.data.get(".dockerconfigjson") or s.data.get(".dockercfg")
        if data:
            configs.append(data)
        else:
            unusable.append(ref.name)
    return configs, unusable
