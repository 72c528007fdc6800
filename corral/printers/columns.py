"""The columns `corral get` prints for each kind, computed like kubectl's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from corral.printers.humanize import age, human_duration, is_set, seconds_of
from proto import api_pb2, apps_pb2, core_pb2, kinds, meta_pb2

Row = Callable[[api_pb2.Object, float], list[str]]


@dataclass(frozen=True)
class TableDef:
    headers: tuple[str, ...]
    row: Row
    wide_headers: tuple[str, ...] = ()
    wide_row: Row | None = None
    status_column: int = -1          # index of a STATUS-like column to colour


def _none(s: str) -> str:
    return s if s else "<none>"


# -- pods -----------------------------------------------------------------------------------------

NODE_UNREACHABLE_REASON = "NodeLost"


def pod_status(pod: core_pb2.Pod) -> str:
    """The STATUS column of `kubectl get pods` (printPod)."""
    reason = pod.status.reason or pod.status.phase or "Pending"
    initializing = False
    n_init = len(pod.spec.init_containers)
    for i, cs in enumerate(pod.status.init_container_statuses):
        st = cs.state
        if st.HasField("terminated") and st.terminated.exit_code == 0:
            continue
        if st.HasField("terminated"):
            t = st.terminated
            if not t.reason:
                reason = f"Init:Signal:{t.signal}" if t.signal else f"Init:ExitCode:{t.exit_code}"
            else:
                reason = "Init:" + t.reason
        elif (st.HasField("waiting") and st.waiting.reason
              and st.waiting.reason != "PodInitializing"):
            reason = "Init:" + st.waiting.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(pod.status.container_statuses):
            st = cs.state
            if st.HasField("waiting") and st.waiting.reason:
                reason = st.waiting.reason
            elif st.HasField("terminated") and st.terminated.reason:
                reason = st.terminated.reason
            elif st.HasField("terminated"):
                t = st.terminated
                reason = f"Signal:{t.signal}" if t.signal else f"ExitCode:{t.exit_code}"
            elif cs.ready and st.HasField("running"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
            reason = "Running" if ready else "NotReady"
    if is_set(pod.metadata.deletion_timestamp):
        reason = "Unknown" if pod.status.reason == NODE_UNREACHABLE_REASON else "Terminating"
    return reason


def pod_ready(pod: core_pb2.Pod) -> str:
    ready = sum(1 for cs in pod.status.container_statuses if cs.ready)
    total = len(pod.spec.containers) or len(pod.status.container_statuses)
    return f"{ready}/{total}"


def pod_restarts(pod: core_pb2.Pod, now: float) -> str:
    """'2' or, like kubectl 1.22+, '2 (35s ago)' from the last termination."""
    init = any(
        not (cs.state.HasField("terminated") and cs.state.terminated.exit_code == 0)
        for cs in pod.status.init_container_statuses
    )
    statuses = pod.status.init_container_statuses if init else pod.status.container_statuses
    restarts = sum(cs.restart_count for cs in statuses)
    last = 0.0
    for cs in statuses:
        if cs.last_state.HasField("terminated") and is_set(cs.last_state.terminated.finished_at):
            last = max(last, seconds_of(cs.last_state.terminated.finished_at))
    if restarts and last:
        return f"{restarts} ({human_duration(now - last)} ago)"
    return str(restarts)


def _pod_row(obj: api_pb2.Object, now: float) -> list[str]:
    p = obj.pod
    return [p.metadata.name, pod_ready(p), pod_status(p), pod_restarts(p, now),
            age(p.metadata.creation_timestamp, now)]


def _pod_wide(obj: api_pb2.Object, now: float) -> list[str]:
    p = obj.pod
    return [_none(p.status.pod_ip), _none(p.spec.node_name),
            _none(p.status.nominated_node_name), "<none>"]


# -- deployments / replicasets -------------------------------------------------------------------


def _containers_images(spec: core_pb2.PodSpec) -> list[str]:
    return [_none(",".join(c.name for c in spec.containers)),
            _none(",".join(c.image for c in spec.containers))]


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


def _replicas(spec: apps_pb2.DeploymentSpec | apps_pb2.ReplicaSetSpec) -> int:
    return spec.replicas if spec.HasField("replicas") else 1


def _deploy_row(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.deployment
    return [d.metadata.name, f"{d.status.ready_replicas}/{_replicas(d.spec)}",
            str(d.status.updated_replicas), str(d.status.available_replicas),
            age(d.metadata.creation_timestamp, now)]


def _deploy_wide(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.deployment
    return [*_containers_images(d.spec.template.spec), _none(format_selector(d.spec.selector))]


def _rs_row(obj: api_pb2.Object, now: float) -> list[str]:
    r = obj.replica_set
    return [r.metadata.name, str(_replicas(r.spec)), str(r.status.replicas),
            str(r.status.ready_replicas), age(r.metadata.creation_timestamp, now)]


def _rs_wide(obj: api_pb2.Object, now: float) -> list[str]:
    r = obj.replica_set
    return [*_containers_images(r.spec.template.spec), _none(format_selector(r.spec.selector))]


# -- nodes ----------------------------------------------------------------------------------------


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


def _node_row(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.node
    return [n.metadata.name, node_status(n), node_roles(n), age(n.metadata.creation_timestamp, now),
            _none(n.status.node_info.kubelet_version)]


def _node_wide(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.node
    info = n.status.node_info
    return [node_address(n, "InternalIP"), node_address(n, "ExternalIP"),
            _none(info.os_image), _none(info.kernel_version),
            _none(info.container_runtime_version)]


# -- the rest -------------------------------------------------------------------------------------


def _ns_row(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.namespace
    phase = n.status.phase or "Active"
    if is_set(n.metadata.deletion_timestamp):
        phase = "Terminating"
    return [n.metadata.name, phase, age(n.metadata.creation_timestamp, now)]


def event_time(ev: core_pb2.Event) -> float:
    for ts in (ev.last_timestamp, ev.first_timestamp, ev.metadata.creation_timestamp):
        if is_set(ts):
            return seconds_of(ts)
    return 0.0


def involved(ev: core_pb2.Event) -> str:
    kind = ev.involved_object.kind.lower()
    return f"{kind}/{ev.involved_object.name}" if kind else ev.involved_object.name


def _event_row(obj: api_pb2.Object, now: float) -> list[str]:
    e = obj.event
    t = event_time(e)
    last = human_duration(now - t) if t else "<unknown>"
    return [last, e.type or "Normal", e.reason, involved(e), e.message.strip()]


def _lease_row(obj: api_pb2.Object, now: float) -> list[str]:
    ls = obj.lease
    return [ls.metadata.name, _none(ls.spec.holder_identity),
            age(ls.metadata.creation_timestamp, now)]


def generic_row(obj: api_pb2.Object, now: float) -> list[str]:
    meta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return [meta.name, age(meta.creation_timestamp, now)]


TABLES: dict[str, TableDef] = {
    "pods": TableDef(("NAME", "READY", "STATUS", "RESTARTS", "AGE"), _pod_row,
                     ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"), _pod_wide, 2),
    "deployments": TableDef(("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"), _deploy_row,
                            ("CONTAINERS", "IMAGES", "SELECTOR"), _deploy_wide),
    "replicasets": TableDef(("NAME", "DESIRED", "CURRENT", "READY", "AGE"), _rs_row,
                            ("CONTAINERS", "IMAGES", "SELECTOR"), _rs_wide),
    "nodes": TableDef(("NAME", "STATUS", "ROLES", "AGE", "VERSION"), _node_row,
                      ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                       "CONTAINER-RUNTIME"), _node_wide, 1),
    "namespaces": TableDef(("NAME", "STATUS", "AGE"), _ns_row, status_column=1),
    "events": TableDef(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), _event_row,
                       status_column=1),
    "leases": TableDef(("NAME", "HOLDER", "AGE"), _lease_row),
}

GENERIC = TableDef(("NAME", "AGE"), generic_row)


def table_for(resource: str) -> TableDef:
    return TABLES.get(resource, GENERIC)


def _labels(obj: api_pb2.Object) -> str:
    meta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return ",".join(f"{k}={v}" for k, v in sorted(meta.labels.items())) or "<none>"


def headers(resource: str, *, wide: bool = False, namespace_column: bool = False,
            show_labels: bool = False, label_columns: tuple[str, ...] = ()) -> list[str]:
    t = table_for(resource)
    out = list(t.headers)
    if wide:
        out += t.wide_headers
    if namespace_column:
        out.insert(0, "NAMESPACE")
    out += [key.rsplit("/", 1)[-1].upper() for key in label_columns]
    if show_labels:
        out.append("LABELS")
    return out


def row(obj: api_pb2.Object, *, wide: bool = False, namespace_column: bool = False,
        show_labels: bool = False, with_kind: bool = False, now: float | None = None,
        label_columns: tuple[str, ...] = ()) -> list[str]:
    now = time.time() if now is None else now
    k = kinds.of(obj)
    t = table_for(k.resource)
    cells = t.row(obj, now)
    if with_kind and k.resource != "events":
        cells[0] = f"{qualified_kind(k)}/{cells[0]}"
    if wide and t.wide_row is not None:
        cells += t.wide_row(obj, now)
    if namespace_column:
        cells.insert(0, kinds.unwrap(obj).metadata.namespace)  # type: ignore[attr-defined]
    if label_columns:
        meta_labels = kinds.unwrap(obj).metadata.labels  # type: ignore[attr-defined]
        cells += [meta_labels.get(key, "") for key in label_columns]
    if show_labels:
        cells.append(_labels(obj))
    return cells


def qualified_kind(k: kinds.Kind) -> str:
    """'pod', 'deployment.apps', 'lease.coordination.k8s.io' as kubectl names them."""
    return f"{k.singular}.{k.group}" if k.group else k.singular


def qualified_resource(k: kinds.Kind) -> str:
    """'pods', 'deployments.apps': how kubectl names a resource in error messages."""
    return f"{k.resource}.{k.group}" if k.group else k.resource
