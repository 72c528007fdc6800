"""Patch metadata of the schema: how each list merges, as Kubernetes' Go types declare
it with `patchStrategy`/`patchMergeKey` (strategic merge patch) and `listType`/
`listMapKeys` (server-side apply), keyed by message and JSON field name.

    m = field_meta(core_pb2.PodSpec.DESCRIPTOR, "containers")
    m.strategy == "merge"; m.merge_key == "name"; m.list_type == "map"; m.map_keys == ("name",)

A list without a row is atomic (replaced whole), as in Kubernetes. A new kind adds its
rows here (Service ports: ("merge", "port", ("port", "protocol"))).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (message full name, JSON field) -> (patchStrategy, patchMergeKey, listMapKeys)
#   patchStrategy "merge" with a key: a list of objects merged by that key;
#   "merge" without: a set of scalars; "retainKeys" (or "merge,retainKeys") on a struct
#   or a merged list's items: keys the patch does not keep are cleared.
_P = "corral.v1."
PATCH_META: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    (_P + "ObjectMeta", "finalizers"): ("merge", "", ()),
    (_P + "ObjectMeta", "ownerReferences"): ("merge", "uid", ("uid",)),
    (_P + "PodSpec", "volumes"): ("merge,retainKeys", "name", ("name",)),
    (_P + "PodSpec", "initContainers"): ("merge", "name", ("name",)),
    (_P + "PodSpec", "containers"): ("merge", "name", ("name",)),
    (_P + "PodSpec", "imagePullSecrets"): ("merge", "name", ("name",)),
    (_P + "PodSpec", "hostAliases"): ("merge", "ip", ("ip",)),
    (_P + "Container", "ports"): ("merge", "containerPort", ("containerPort", "protocol")),
    (_P + "Container", "env"): ("merge", "name", ("name",)),
    (_P + "Container", "volumeMounts"): ("merge", "mountPath", ("mountPath",)),
    (_P + "PodStatus", "conditions"): ("merge", "type", ("type",)),
    (_P + "PodStatus", "podIPs"): ("merge", "ip", ("ip",)),
    (_P + "PodStatus", "hostIPs"): ("merge", "ip", ("ip",)),
    (_P + "NodeSpec", "podCIDRs"): ("merge", "", ()),
    (_P + "NodeStatus", "conditions"): ("merge", "type", ("type",)),
    (_P + "NodeStatus", "addresses"): ("merge", "type", ("type",)),
    (_P + "DeploymentSpec", "strategy"): ("retainKeys", "", ()),
    (_P + "DeploymentStatus", "conditions"): ("merge", "type", ("type",)),
    (_P + "ReplicaSetStatus", "conditions"): ("merge", "type", ("type",)),
    # merged by port alone (kubectl apply), by port and protocol in server-side apply
    (_P + "ServiceSpec", "ports"): ("merge", "port", ("port", "protocol")),
    # EndpointSlice endpoints and ports, Endpoints subsets, clusterIPs, dnsConfig's
    # lists: atomic in Kubernetes too (no row)
}

# structs that server-side apply treats as one value (Kubernetes' +structType=atomic)
ATOMIC_STRUCTS = frozenset({_P + "LabelSelector"})


@dataclass(frozen=True)
class FieldMeta:
    strategy: str = ""            # "", "merge", "retainKeys", "merge,retainKeys"
    merge_key: str = ""
    map_keys: tuple[str, ...] = ()

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def retains_keys(self) -> bool:
        return "retainKeys" in self.strategy.split(",")

    @property
    def list_type(self) -> str:
        """x-kubernetes-list-type: map (merge key), set (merged scalars) or atomic."""
        if self.merges and self.merge_key:
            return "map"
        return "set" if self.merges else "atomic"


NONE = FieldMeta()


def field_meta(desc: Any, json_name: str) -> FieldMeta:
    """The patch metadata of field `json_name` of message descriptor `desc` (None: none)."""
    if desc is None:
        return NONE
    row = PATCH_META.get((desc.full_name, json_name))
    if row is None:
        return NONE
    strategy, key, keys = row
    return FieldMeta(strategy, key, keys or ((key,) if key else ()))


def child(desc: Any, json_name: str) -> Any:
    """The message descriptor of field `json_name` (of a list: its items), or None for a
    scalar, a map of scalars, a well-known scalar (Timestamp, IntOrString) or an unknown
    field."""
    if desc is None:
        return None
    fd = next((f for f in desc.fields if f.json_name == json_name), None)
    if fd is None or fd.message_type is None:
        return None
    mt = fd.message_type
    if mt.GetOptions().map_entry:
        value = mt.fields_by_name["value"]
        return value.message_type
    if mt.full_name in ("google.protobuf.Timestamp", "corral.v1.IntOrString",
                        "google.protobuf.Struct"):
        return None
    return mt


def is_map_field(desc: Any, json_name: str) -> bool:
    """Whether `json_name` is a map<string, ...> (labels, resources.limits)."""
    if desc is None:
        return False
    fd = next((f for f in desc.fields if f.json_name == json_name), None)
    return bool(fd is not None and fd.message_type is not None and
                fd.message_type.GetOptions().map_entry)
