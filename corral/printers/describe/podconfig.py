"""What `corral describe pod` shows of a container's ConfigMap and Secret references and of
configMap / secret / projected / downwardAPI volumes, in kubectl's words (never a value)."""

from __future__ import annotations

from corral.printers.describe.sections import Writer
from proto import core_pb2

Optional = (core_pb2.ConfigMapKeySelector | core_pb2.SecretKeySelector
            | core_pb2.ConfigMapEnvSource | core_pb2.SecretEnvSource
            | core_pb2.ConfigMapVolumeSource | core_pb2.SecretVolumeSource
            | core_pb2.ConfigMapProjection | core_pb2.SecretProjection)


def _opt(msg: Optional) -> str:
    return "true" if msg.HasField("optional") and msg.optional else "false"


def env_source(e: core_pb2.EnvVar) -> str | None:
    """`<set to the key 'k' of config map 'x'>  Optional: false` (None: not such a source)."""
    vf = e.value_from
    if vf.HasField("config_map_key_ref"):
        r = vf.config_map_key_ref
        return f"<set to the key '{r.key}' of config map '{r.name}'>  Optional: {_opt(r)}"
    if vf.HasField("secret_key_ref"):
        s = vf.secret_key_ref
        return f"<set to the key '{s.key}' in secret '{s.name}'>  Optional: {_opt(s)}"
    return None


def env_from_section(w: Writer, level: int, c: core_pb2.Container) -> None:
    if not c.env_from:
        return
    w.line(level, "Environment Variables from:")
    for ef in c.env_from:
        if ef.HasField("config_map_ref"):
            name, kind, opt = ef.config_map_ref.name, "ConfigMap", _opt(ef.config_map_ref)
        else:
            name, kind, opt = ef.secret_ref.name, "Secret", _opt(ef.secret_ref)
        if ef.prefix:
            kind += f" with prefix '{ef.prefix}'"
        w.kv(level + 1, name, f"{kind}  Optional: {opt}")


def _items(w: Writer, level: int, items: list[core_pb2.DownwardAPIVolumeFile]) -> None:
    w.line(level, "Items:")
    for f in items:
        src = f.field_ref.field_path if f.HasField("field_ref") else \
            f.resource_field_ref.resource
        w.line(level + 1, f"{src} -> {f.path}")


def config_volume(w: Writer, level: int, v: core_pb2.Volume) -> bool:
    """The lines of a configMap, secret, projected or downwardAPI volume (False: none)."""
    if v.HasField("config_map"):
        w.kv(level, "Type", "ConfigMap (a volume populated by a ConfigMap)")
        w.kv(level, "Name", v.config_map.name)
        w.kv(level, "Optional", _opt(v.config_map))
    elif v.HasField("secret"):
        w.kv(level, "Type", "Secret (a volume populated by a Secret)")
        w.kv(level, "SecretName", v.secret.secret_name)
        w.kv(level, "Optional", _opt(v.secret))
    elif v.HasField("downward_api"):
        w.kv(level, "Type", "DownwardAPI (a volume populated by information about the pod)")
        _items(w, level, list(v.downward_api.items))
    elif v.HasField("projected"):
        w.kv(level, "Type", "Projected (a volume that contains injected data from multiple "
                            "sources)")
        for src in v.projected.sources:
            if src.HasField("secret"):
                w.kv(level, "SecretName", src.secret.name)
                w.kv(level, "SecretOptionalName", _opt(src.secret))
            elif src.HasField("config_map"):
                w.kv(level, "ConfigMapName", src.config_map.name)
                w.kv(level, "ConfigMapOptional", _opt(src.config_map))
            elif src.HasField("downward_api"):
                w.kv(level, "DownwardAPI", "true")
    else:
        return False
    return True
