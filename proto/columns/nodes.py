"""The node columns of `corral get`: STATUS, ROLES, addresses and node info."""

from __future__ import annotations

from proto import api_pb2, core_pb2
from proto.columns.base import none_if_empty
from proto.columns.humanize import age


def node_status(node: core_pb2.Node) -> str:
    status = "Unknown"
    for c in node.status.conditions:
        if c.type == "Ready":
            status = "Ready" if c.status == "True" else "NotReady"
    if node.spec.unschedulable:
        status += ",SchedulingDisabled"
    return status


def node_roles(node: core_pb2.Node) -> str:
    roles = set()
    for key, value in node.metadata.labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.split("/", 1)[1]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def node_address(node: core_pb2.Node, kind: str) -> str:
    for a in node.status.addresses:
        if a.type == kind:
            return a.address
    return "<none>"


def node_row(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.node
    return [n.metadata.name, node_status(n), node_roles(n), age(n.metadata.creation_timestamp, now),
            none_if_empty(n.status.node_info.kubelet_version)]


def node_wide(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.node
    info = n.status.node_info
    return [node_address(n, "InternalIP"), node_address(n, "ExternalIP"),
            none_if_empty(info.os_image), none_if_empty(info.kernel_version),
            none_if_empty(info.container_runtime_version)]
