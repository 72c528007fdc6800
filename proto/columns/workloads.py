"""The Deployment and ReplicaSet columns of `corral get`, and label selectors as
kubectl prints them."""

from __future__ import annotations

from proto import api_pb2, apps_pb2, core_pb2, meta_pb2
from proto.columns.base import none_if_empty
from proto.columns.humanize import age


def containers_images(spec: core_pb2.PodSpec) -> list[str]:
    return [none_if_empty(",".join(c.name for c in spec.containers)),
            none_if_empty(",".join(c.image for c in spec.containers))]


def format_selector(sel: meta_pb2.LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels.items())]
    for e in sel.match_expressions:
        vals = ",".join(e.values)
        if e.operator == "In":
            parts.append(f"{e.key} in ({vals})")
        elif e.operator == "NotIn":
            parts.append(f"{e.key} notin ({vals})")
        elif e.operator == "Exists":
            parts.append(e.key)
        elif e.operator == "DoesNotExist":
            parts.append(f"!{e.key}")
    return ",".join(parts)


def replicas_of(spec: apps_pb2.DeploymentSpec | apps_pb2.ReplicaSetSpec) -> int:
    return spec.replicas if spec.HasField("replicas") else 1


def deploy_row(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.deployment
    return [d.metadata.name, f"{d.status.ready_replicas}/{replicas_of(d.spec)}",
            str(d.status.updated_replicas), str(d.status.available_replicas),
            age(d.metadata.creation_timestamp, now)]


def deploy_wide(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.deployment
    return [*containers_images(d.spec.template.spec),
            none_if_empty(format_selector(d.spec.selector))]


def rs_row(obj: api_pb2.Object, now: float) -> list[str]:
    r = obj.replica_set
    return [r.metadata.name, str(replicas_of(r.spec)), str(r.status.replicas),
            str(r.status.ready_replicas), age(r.metadata.creation_timestamp, now)]


def rs_wide(obj: api_pb2.Object, now: float) -> list[str]:
    r = obj.replica_set
    return [*containers_images(r.spec.template.spec),
            none_if_empty(format_selector(r.spec.selector))]
