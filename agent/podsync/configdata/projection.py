"""What a configMap, secret, projected or downwardAPI volume holds: its files (path ->
content and mode), from the objects as the node last saw them, with Kubernetes' rules
(pkg/volume/configmap, secret, projected, downwardapi).

    files = project(pod, volume, lookup)     # {"game.properties": File(b"...", 0o644)}

`lookup(resource, name)` answers the ConfigMap / Secret (None: it does not exist).
A missing object or key that is not `optional` raises Missing with the kubelet's
message ('configmap "x" not found', 'configmap references non-existent config key:
k'); an optional one contributes nothing. Without `items` every key becomes a file
of that name; `mode` of an item, else the volume's `defaultMode` (0644).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from agent.podsync.configdata.atomicwriter import File
from agent.podsync.env import FieldRefError, resource_ref
from proto import config_pb2, core_pb2

DEFAULT_MODE = 0o644

Lookup = Callable[[str, str], config_pb2.ConfigMap | config_pb2.Secret | None]
Payload = dict[str, File]


class Missing(LookupError):
    """A ConfigMap, Secret or key the pod needs and the node does not have."""


def _word(resource: str) -> str:
    return "configmap" if resource == "configmaps" else "secret"


def object_values(resource: str, name: str, lookup: Lookup,
                  optional: bool) -> dict[str, bytes] | None:
    """Every key of a ConfigMap (data and binaryData) or Secret; None: optional and absent."""
    obj = lookup(resource, name)
    if obj is None:
        if optional:
            return None
        raise Missing(f'{_word(resource)} "{name}" not found')
    if isinstance(obj, config_pb2.ConfigMap):
        out = {k: v.encode() for k, v in obj.data.items()}
        out.update(obj.binary_data)
        return out
    return dict(obj.data)


def _keyed(resource: str, name: str, items: Iterable[core_pb2.KeyToPath], mode: int,
           optional: bool, lookup: Lookup) -> Payload:
    values = object_values(resource, name, lookup, optional)
    if values is None:
        return {}
    items = list(items)
    if not items:
        return {key: File(value, mode) for key, value in values.items()}
    out: Payload = {}
    for item in items:
        if item.key not in values:
            if optional:
                continue
            what = "config" if resource == "configmaps" else "secret"
            raise Missing(f"{_word(resource)} references non-existent {what} key: {item.key}")
        out[item.path] = File(values[item.key], item.mode if item.HasField("mode") else mode)
    return out


def _quoted_map(values: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={json.dumps(values[k], ensure_ascii=False)}"
                     for k in sorted(values)).encode()


def downward_value(pod: core_pb2.Pod, f: core_pb2.DownwardAPIVolumeFile) -> bytes:
    """One downwardAPI file: a metadata field, or a container's resource limit/request."""
    if f.HasField("resource_field_ref"):
        ref = f.resource_field_ref
        for c in [*pod.spec.containers, *pod.spec.init_containers]:
            if c.name == ref.container_name:
                return resource_ref(pod, c, ref).encode()
        raise Missing(f'downwardAPI: container "{ref.container_name}" is not in the pod')
    path, meta = f.field_ref.field_path, pod.metadata
    simple = {"metadata.name": meta.name, "metadata.namespace": meta.namespace,
              "metadata.uid": meta.uid}
    if path in simple:
        return simple[path].encode()
    if path == "metadata.labels":
        return _quoted_map(dict(meta.labels))
    if path == "metadata.annotations":
        return _quoted_map(dict(meta.annotations))
    for field, values in (("labels", meta.labels), ("annotations", meta.annotations)):
        prefix = f"metadata.{field}['"
        if path.startswith(prefix) and path.endswith("']"):
            return values.get(path[len(prefix):-2], "").encode()
    raise FieldRefError(f"unsupported downwardAPI fieldPath {path!r}")


def _downward(pod: core_pb2.Pod, items: Iterable[core_pb2.DownwardAPIVolumeFile],
              mode: int) -> Payload:
    return {f.path: File(downward_value(pod, f), f.mode if f.HasField("mode") else mode)
            for f in items}


def _default(msg: core_pb2.ConfigMapVolumeSource | core_pb2.SecretVolumeSource
             | core_pb2.ProjectedVolumeSource | core_pb2.DownwardAPIVolumeSource) -> int:
    return msg.default_mode if msg.HasField("default_mode") else DEFAULT_MODE


def project(pod: core_pb2.Pod, volume: core_pb2.Volume, lookup: Lookup) -> Payload:
    """The files of `volume` (configMap, secret, projected or downwardAPI)."""
    if volume.HasField("config_map"):
        cm = volume.config_map
        return _keyed("configmaps", cm.name, cm.items, _default(cm),
                      cm.HasField("optional") and cm.optional, lookup)
    if volume.HasField("secret"):
        s = volume.secret
        return _keyed("secrets", s.secret_name, s.items, _default(s),
                      s.HasField("optional") and s.optional, lookup)
    if volume.HasField("downward_api"):
        return _downward(pod, volume.downward_api.items, _default(volume.downward_api))
    if volume.HasField("projected"):
        mode = _default(volume.projected)
        out: Payload = {}
        for src in volume.projected.sources:
            if src.HasField("config_map"):
                c = src.config_map
                out.update(_keyed("configmaps", c.name, c.items, mode,
                                  c.HasField("optional") and c.optional, lookup))
            elif src.HasField("secret"):
                sp = src.secret
                out.update(_keyed("secrets", sp.name, sp.items, mode,
                                  sp.HasField("optional") and sp.optional, lookup))
            elif src.HasField("downward_api"):
                out.update(_downward(pod, src.downward_api.items, mode))
        return out
    raise ValueError(f"volume {volume.name!r} is not a configMap, secret, projected or "
                     "downwardAPI volume")


def needs(volume: core_pb2.Volume) -> list[tuple[str, str]]:
    """The (resource, name) objects a volume is made from."""
    out: list[tuple[str, str]] = []
    if volume.HasField("config_map"):
        out.append(("configmaps", volume.config_map.name))
    if volume.HasField("secret"):
        out.append(("secrets", volume.secret.secret_name))
    for src in volume.projected.sources:
        if src.HasField("config_map"):
            out.append(("configmaps", src.config_map.name))
        if src.HasField("secret"):
            out.append(("secrets", src.secret.name))
    return out


def on_tmpfs(volume: core_pb2.Volume) -> bool:
    """Secret, projected and downwardAPI volumes live in memory, never on the node's disk
    (as the kubelet's memory-backed wrappers); a configMap volume is an ordinary dir."""
    return not volume.HasField("config_map")
