"""`corral describe deployment|replicaset`: templates, replica counts, rollout revisions."""

from __future__ import annotations

from collections.abc import Sequence

from corral.printers import table
from corral.printers.describe.pod import containers_section, volumes_section
from corral.printers.describe.sections import (
    Related,
    Writer,
    common_meta,
    controlled_by,
    events_section,
    map_section,
)
from proto import api_pb2, apps_pb2, columns, core_pb2, meta_pb2
from proto.columns.humanize import long_date


def template_section(w: Writer, tmpl: core_pb2.PodTemplateSpec) -> None:
    w.line(0, "Pod Template:")
    map_section(w, 1, "Labels", tmpl.metadata.labels)
    if tmpl.metadata.annotations:
        map_section(w, 1, "Annotations", tmpl.metadata.annotations, ": ")
    containers_section(w, 1, "Containers", tmpl.spec.containers, None)
    volumes_section(w, tmpl.spec, 1)
    if tmpl.spec.node_selector:
        w.kv(1, "Node-Selectors", ",".join(f"{k}={v}"
                                           for k, v in sorted(tmpl.spec.node_selector.items())))


def _ios(v: meta_pb2.IntOrString, default: str) -> str:
    if v.HasField("int_val"):
        return str(v.int_val)
    return v.str_val or default


def _replicas(spec: apps_pb2.ReplicaSetSpec) -> int:
    return spec.replicas if spec.HasField("replicas") else 1


def _rs_summary(rs: apps_pb2.ReplicaSet) -> str:
    desired = rs.spec.replicas if rs.spec.HasField("replicas") else 1
    return f"{rs.metadata.name} ({rs.status.replicas}/{desired} replicas created)"


def revision(meta: meta_pb2.ObjectMeta) -> int:
    try:
        return int(meta.annotations.get("deployment.kubernetes.io/revision", "0"))
    except ValueError:
        return 0


def describe_deployment(obj: api_pb2.Object, rel: Related, now: float) -> str:
    d = obj.deployment
    w = Writer()
    common_meta(w, d.metadata, True)
    w.kv(0, "CreationTimestamp", long_date(d.metadata.creation_timestamp))
    map_section(w, 0, "Labels", d.metadata.labels)
    map_section(w, 0, "Annotations", d.metadata.annotations, ": ")
    w.kv(0, "Selector", columns.format_selector(d.spec.selector) or "<none>")
    desired = d.spec.replicas if d.spec.HasField("replicas") else 1
    s = d.status
    w.kv(0, "Replicas", f"{desired} desired | {s.updated_replicas} updated | {s.replicas} total | "
                        f"{s.available_replicas} available | {s.unavailable_replicas} unavailable")
    strategy = d.spec.strategy.type or "RollingUpdate"
    w.kv(0, "StrategyType", strategy)
    w.kv(0, "MinReadySeconds", d.spec.min_ready_seconds)
    if strategy == "RollingUpdate":
        ru = d.spec.strategy.rolling_update
        w.kv(0, "RollingUpdateStrategy",
             f"{_ios(ru.max_unavailable, '25%')} max unavailable, "
             f"{_ios(ru.max_surge, '25%')} max surge")
    if d.spec.paused:
        w.kv(0, "Paused", "true")
    template_section(w, d.spec.template)
    if d.status.conditions:
        w.line(0, "Conditions:")
        rows = [["----", "------", "------"]] + [[c.type, c.status, c.reason]
                                                 for c in d.status.conditions]
        w.block(1, table.render(["Type", "Status", "Reason"], rows))
    rsets = sorted(rel.replica_sets, key=lambda r: revision(r.metadata))
    new = rsets[-1] if rsets and _template_matches(rsets[-1], d) else None
    old = [r for r in rsets
           if r is not new and (r.status.replicas or _replicas(r.spec))]
    w.kv(0, "OldReplicaSets", ", ".join(_rs_summary(r) for r in old) or "<none>")
    w.kv(0, "NewReplicaSet", _rs_summary(new) if new else "<none>")
    events_section(w, rel.events, now)
    return w.render()


def _template_matches(rs: apps_pb2.ReplicaSet, d: apps_pb2.Deployment) -> bool:
    a = core_pb2.PodTemplateSpec()
    a.CopyFrom(rs.spec.template)
    a.metadata.labels.pop("pod-template-hash", None)
    b = core_pb2.PodTemplateSpec()
    b.CopyFrom(d.spec.template)
    b.metadata.labels.pop("pod-template-hash", None)
    return a == b


def pods_status(pods: Sequence[core_pb2.Pod]) -> str:
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        if p.status.phase in counts:
            counts[p.status.phase] += 1
    return (f"{counts['Running']} Running / {counts['Pending']} Waiting / "
            f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed")


def describe_replicaset(obj: api_pb2.Object, rel: Related, now: float) -> str:
    r = obj.replica_set
    w = Writer()
    common_meta(w, r.metadata, True)
    w.kv(0, "Selector", columns.format_selector(r.spec.selector) or "<none>")
    map_section(w, 0, "Labels", r.metadata.labels)
    map_section(w, 0, "Annotations", r.metadata.annotations, ": ")
    ctl = controlled_by(r.metadata)
    if ctl:
        w.kv(0, "Controlled By", ctl)
    desired = r.spec.replicas if r.spec.HasField("replicas") else 1
    w.kv(0, "Replicas", f"{r.status.replicas} current / {desired} desired")
    w.kv(0, "Pods Status", pods_status(rel.pods))
    template_section(w, r.spec.template)
    if r.status.conditions:
        w.line(0, "Conditions:")
        rows = [["----", "------", "------"]] + [[c.type, c.status, c.reason]
                                                 for c in r.status.conditions]
        w.block(1, table.render(["Type", "Status", "Reason"], rows))
    events_section(w, rel.events, now)
    return w.render()
