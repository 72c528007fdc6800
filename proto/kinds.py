"""The table of kinds: one row per resource, shared by every side of the wire.

A resource is named by its lowercase plural ("pods"), like Kubernetes' REST
paths; `lookup` also accepts the kind, the singular and short names.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from proto import (
    api_pb2,
    apps_pb2,
    batch_pb2,
    config_pb2,
    core_pb2,
    discovery_pb2,
    service_pb2,
    storage_pb2,
)


@dataclass(frozen=True)
class Kind:
    resource: str            # plural, the key used everywhere: "pods"
    singular: str            # "pod"
    kind: str                # "Pod"
    api_version: str         # "v1", "apps/v1"
    namespaced: bool
    field: str               # the field of api_pb2.Object's oneof: "pod"
    message: type[Message]   # core_pb2.Pod
    short_names: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


KINDS: tuple[Kind, ...] = (
    Kind("pods", "pod", "Pod", "v1", True, "pod", core_pb2.Pod, ("po",)),
    Kind("nodes", "node", "Node", "v1", False, "node", core_pb2.Node, ("no",)),
    Kind("namespaces", "namespace", "Namespace", "v1", False, "namespace",
         core_pb2.Namespace, ("ns",)),
    Kind("events", "event", "Event", "v1", True, "event", core_pb2.Event, ("ev",)),
    Kind("leases", "lease", "Lease", "coordination.k8s.io/v1", True, "lease", core_pb2.Lease),
    Kind("deployments", "deployment", "Deployment", "apps/v1", True, "deployment",
         apps_pb2.Deployment, ("deploy",)),
    Kind("replicasets", "replicaset", "ReplicaSet", "apps/v1", True, "replica_set",
         apps_pb2.ReplicaSet, ("rs",)),
    Kind("services", "service", "Service", "v1", True, "service", service_pb2.Service,
         ("svc",)),
    Kind("endpoints", "endpoints", "Endpoints", "v1", True, "endpoints",
         service_pb2.Endpoints, ("ep",)),
    Kind("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io/v1", True,
         "endpoint_slice", discovery_pb2.EndpointSlice),
    Kind("configmaps", "configmap", "ConfigMap", "v1", True, "config_map",
         config_pb2.ConfigMap, ("cm",)),
    Kind("secrets", "secret", "Secret", "v1", True, "secret", config_pb2.Secret),
    # workloads and volumes
    Kind("jobs", "job", "Job", "batch/v1", True, "job", batch_pb2.Job),
    Kind("cronjobs", "cronjob", "CronJob", "batch/v1", True, "cron_job", batch_pb2.CronJob,
         ("cj",)),
    Kind("daemonsets", "daemonset", "DaemonSet", "apps/v1", True, "daemon_set",
         apps_pb2.DaemonSet, ("ds",)),
    Kind("statefulsets", "statefulset", "StatefulSet", "apps/v1", True, "stateful_set",
         apps_pb2.StatefulSet, ("sts",)),
    Kind("controllerrevisions", "controllerrevision", "ControllerRevision", "apps/v1", True,
         "controller_revision", apps_pb2.ControllerRevision),
    Kind("persistentvolumes", "persistentvolume", "PersistentVolume", "v1", False,
         "persistent_volume", storage_pb2.PersistentVolume, ("pv",)),
    Kind("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", "v1", True,
         "persistent_volume_claim", storage_pb2.PersistentVolumeClaim, ("pvc",)),
    Kind("storageclasses", "storageclass", "StorageClass", "storage.k8s.io/v1", False,
         "storage_class", storage_pb2.StorageClass, ("sc",)),
)

_BY_NAME: dict[str, Kind] = {}
for _k in KINDS:
    for _n in (_k.resource, _k.singular, _k.kind.lower(), *_k.short_names):
        _BY_NAME[_n] = _k
_BY_FIELD = {k.field: k for k in KINDS}
_BY_KIND = {(k.api_version, k.kind): k for k in KINDS}


class UnknownKind(LookupError):
    """A resource, kind or apiVersion/kind pair that corral does not serve."""


def lookup(name: str) -> Kind:
    """Find a kind by plural, singular, short name or kind ("po", "Pod", "pods")."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise UnknownKind(f'the server doesn\'t have a resource type "{name}"') from None


def by_api_version_kind(api_version: str, kind: str) -> Kind:
    try:
        return _BY_KIND[(api_version, kind)]
    except KeyError:
        known = ", ".join(f"{k.api_version} {k.kind}" for k in KINDS)
        raise UnknownKind(
            f'no kind "{kind}" is registered for version "{api_version}" (known: {known})'
        ) from None


def of(obj: api_pb2.Object) -> Kind:
    """The kind of the message held in an Object envelope."""
    field = obj.WhichOneof("kind")
    if field is None:
        raise UnknownKind("empty object: no kind set")
    return _BY_FIELD[field]


def unwrap(obj: api_pb2.Object) -> Message:
    """The typed message (Pod, Node, ...) inside an Object envelope."""
    msg: Message = getattr(obj, of(obj).field)
    return msg


def wrap(msg: Message) -> api_pb2.Object:
    """Put a typed message (Pod, Node, ...) into an Object envelope (copying it)."""
    for k in KINDS:
        if isinstance(msg, k.message):
            out = api_pb2.Object()
            getattr(out, k.field).CopyFrom(msg)
            return out
    raise UnknownKind(f"not an API object: {type(msg).__name__}")


def key_of(obj: api_pb2.Object) -> str:
    """'namespace/name' for namespaced kinds, 'name' otherwise."""
    meta = unwrap(obj).metadata  # type: ignore[attr-defined]
    return f"{meta.namespace}/{meta.name}" if of(obj).namespaced else meta.name
