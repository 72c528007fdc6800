"""The ConfigMaps and Secrets a pod spec references (volumes configMap / secret /
projected, env valueFrom, envFrom, imagePullSecrets), for the node authorizer and
the agent alike.

    refs = referenced(pod.spec)     # Refs(configmaps=frozenset({...}), secrets=frozenset({...}))
    "db" in refs.of("secrets")
"""

from __future__ import annotations

from dataclasses import dataclass

from proto import core_pb2


@dataclass(frozen=True)
class Refs:
    configmaps: frozenset[str]
    secrets: frozenset[str]

    def of(self, resource: str) -> frozenset[str]:
        """The names for "configmaps" or "secrets" (empty for anything else)."""
        if resource == "configmaps":
            return self.configmaps
        if resource == "secrets":
            return self.secrets
        return frozenset()


def referenced(spec: core_pb2.PodSpec) -> Refs:
    cms: set[str] = set()
    secrets: set[str] = {r.name for r in spec.image_pull_secrets if r.name}
    for v in spec.volumes:
        if v.HasField("config_map"):
            cms.add(v.config_map.name)
        if v.HasField("secret"):
            secrets.add(v.secret.secret_name)
        for src in v.projected.sources:
            if src.HasField("config_map"):
                cms.add(src.config_map.name)
            if src.HasField("secret"):
                secrets.add(src.secret.name)
    for c in [*spec.init_containers, *spec.containers]:
        for e in c.env:
            if e.value_from.HasField("config_map_key_ref"):
                cms.add(e.value_from.config_map_key_ref.name)
            if e.value_from.HasField("secret_key_ref"):
                secrets.add(e.value_from.secret_key_ref.name)
        for ef in c.env_from:
            if ef.HasField("config_map_ref"):
                cms.add(ef.config_map_ref.name)
            if ef.HasField("secret_ref"):
                secrets.add(ef.secret_ref.name)
    cms.discard("")
    secrets.discard("")
    return Refs(frozenset(cms), frozenset(secrets))
