"""Which wire message reads a body, by the envelope's apiVersion and kind, and the body
as a JSON document."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError as ProtobufError
from google.protobuf.message import Message

from proto.codec import DecodeError
from proto.kubepb_core_pb2 import (
    Binding,
    ConfigMap,
    Event,
    Namespace,
    Node,
    Pod,
    Secret,
)
from proto.kubepb_groups_pb2 import Deployment, Eviction, Lease, ReplicaSet, Scale
from proto.kubepb_meta_pb2 import DeleteOptions
from proto.kubepb_services_pb2 import Endpoints, EndpointSlice, Service
from proto.kubepb_workloads_pb2 import (
    ControllerRevision,
    CronJob,
    DaemonSet,
    Job,
    PersistentVolume,
    PersistentVolumeClaim,
    StatefulSet,
    StorageClass,
)
from proto.wire.envelope import unwrap
from proto.wire.tojson import message

MESSAGES: dict[tuple[str, str], type[Message]] = {
    ("v1", "Pod"): Pod,
    ("v1", "Node"): Node,
    ("v1", "Namespace"): Namespace,
    ("v1", "Event"): Event,
    ("v1", "ConfigMap"): ConfigMap,
    ("v1", "Secret"): Secret,
    ("v1", "Binding"): Binding,
    ("v1", "Service"): Service,
    ("v1", "Endpoints"): Endpoints,
    ("discovery.k8s.io/v1", "EndpointSlice"): EndpointSlice,
    ("v1", "PersistentVolume"): PersistentVolume,
    ("v1", "PersistentVolumeClaim"): PersistentVolumeClaim,
    ("apps/v1", "DaemonSet"): DaemonSet,
    ("apps/v1", "StatefulSet"): StatefulSet,
    ("apps/v1", "ControllerRevision"): ControllerRevision,
    ("batch/v1", "Job"): Job,
    ("batch/v1", "CronJob"): CronJob,
    ("storage.k8s.io/v1", "StorageClass"): StorageClass,
    ("apps/v1", "Deployment"): Deployment,
    ("apps/v1", "ReplicaSet"): ReplicaSet,
    ("coordination.k8s.io/v1", "Lease"): Lease,
    ("policy/v1", "Eviction"): Eviction,
    ("autoscaling/v1", "Scale"): Scale,
}
# options every group/version carries (a typed client's delete sends them in its own)
ANY_VERSION: dict[str, type[Message]] = {"DeleteOptions": DeleteOptions}


class Unsupported(LookupError):
    """A kind whose protobuf form corral does not read (JSON still works)."""


def to_json(body: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the JSON document it stands for."""
    api_version, kind, raw = unwrap(body)
    cls = MESSAGES.get((api_version, kind)) or ANY_VERSION.get(kind)
    if cls is None:
        raise Unsupported(f"a Kubernetes protobuf body of {api_version} {kind} is not "
                          "served (send it as JSON)")
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except ProtobufError:
        raise DecodeError("", f"the {kind} in the body does not parse as Kubernetes "
                              "protobuf") from None
    return {"apiVersion": api_version, "kind": kind, **message(msg, "")}
