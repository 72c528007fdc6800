"""`corral describe`: kubectl-like sections for each kind, and the Events timeline."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.printers import columns, table
from corral.printers.humanize import age, human_duration, is_set, long_date, seconds_of
from corral.printers.output import encode
from proto import api_pb2, apps_pb2, core_pb2, kinds, meta_pb2


@dataclass
class Related:
    """What describe shows beside the object itself, fetched by the CLI."""

    events: list[core_pb2.Event] = field(default_factory=list)
    replica_sets: list[apps_pb2.ReplicaSet] = field(default_factory=list)   # a deployment's
    pods: list[core_pb2.Pod] = field(default_factory=list)                  # an rs's, a node's


class Writer:
    """Lines of (level, key, value); keys of one level aligned like kubectl's tabwriter."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str | None]] = []

    def kv(self, level: int, key: str, value: object = "") -> None:
        self.lines.append((level, key + ":", str(value)))

    def cont(self, level: int, value: object) -> None:
        """A continuation line: the value under the previous one, no key."""
        self.lines.append((level, "", str(value)))

    def line(self, level: int, text: str) -> None:
        self.lines.append((level, text, None))

    def block(self, level: int, text: str) -> None:
        for ln in text.rstrip("\n").split("\n"):
            self.line(level, ln)

    def render(self) -> str:
        width: dict[int, int] = {}
        for level, key, value in self.lines:
            if value is not None and value != "" and key:
                width[level] = max(width.get(level, 0), len(key))
        out = []
        for level, key, value in self.lines:
            indent = "  " * level
            if value is None or value == "":
                out.append(indent + key)
            elif not key:
                out.append(f"{indent}{''.ljust(width.get(level, 0) + 2)}{value}")
            else:
                out.append(f"{indent}{key.ljust(width[level] + 2)}{value}")
        return "\n".join(out) + "\n"


def _map(w: Writer, level: int, key: str, m: Any, sep: str = "=") -> None:
    items = sorted(m.items())
    if not items:
        w.kv(level, key, "<none>")
        return
    for i, (k, v) in enumerate(items):
        if i == 0:
            w.kv(level, key, f"{k}{sep}{v}")
        else:
            w.cont(level, f"{k}{sep}{v}")


def _none(s: object) -> str:
    text = str(s)
    return text if text else "<none>"


def _controlled_by(meta: meta_pb2.ObjectMeta) -> str:
    for ref in meta.owner_references:
        if ref.HasField("controller") and ref.controller:
            return f"{ref.kind}/{ref.name}"
    return ""


def _common_meta(w: Writer, meta: meta_pb2.ObjectMeta, namespaced: bool) -> None:
    w.kv(0, "Name", meta.name)
    if namespaced:
        w.kv(0, "Namespace", meta.namespace)


def events_section(w: Writer, events: Sequence[core_pb2.Event], now: float) -> None:
    if not events:
        w.kv(0, "Events", "<none>")
        return
    w.line(0, "Events:")
    rows = []
    for ev in sorted(events, key=columns.event_time):
        last = columns.event_time(ev)
        first = seconds_of(ev.first_timestamp) if is_set(ev.first_timestamp) else last
        when = human_duration(now - last) if last else "<unknown>"
        if ev.count > 1 and first:
            when = f"{when} (x{ev.count} over {human_duration(now - first)})"
        source = ev.source.component or ev.reporting_component
        if ev.source.host:
            source = f"{source}, {ev.source.host}" if source else ev.source.host
        rows.append([ev.type or "Normal", ev.reason, when, source, ev.message.strip()])
    hdr = ["Type", "Reason", "Age", "From", "Message"]
    text = table.render(hdr, [["----", "------", "----", "----", "-------"], *rows])
    w.block(1, text)


def _probe(p: core_pb2.Probe) -> str:
    if p.HasField("http_get"):
        port = p.http_get.port.int_val if p.http_get.port.HasField("int_val") \
            else p.http_get.port.str_val
        scheme = (p.http_get.scheme or "HTTP").lower()
        what = f"http-get {scheme}://{p.http_get.host}:{port}{p.http_get.path or '/'}"
    elif p.HasField("tcp_socket"):
        port = p.tcp_socket.port.int_val if p.tcp_socket.port.HasField("int_val") \
            else p.tcp_socket.port.str_val
        what = f"tcp-socket {p.tcp_socket.host}:{port}"
    elif p.HasField("exec"):
        what = "exec [" + " ".join(p.exec.command) + "]"
    else:
        what = "unknown"
    return (f"{what} delay={p.initial_delay_seconds}s timeout={p.timeout_seconds or 1}s "
            f"period={p.period_seconds or 10}s #success={p.success_threshold or 1} "
            f"#failure={p.failure_threshold or 3}")


def _state(w: Writer, level: int, key: str, st: core_pb2.ContainerState) -> None:
    if st.HasField("running"):
        w.kv(level, key, "Running")
        if is_set(st.running.started_at):
            w.kv(level + 1, "Started", long_date(st.running.started_at))
    elif st.HasField("waiting"):
        w.kv(level, key, "Waiting")
        if st.waiting.reason:
            w.kv(level + 1, "Reason", st.waiting.reason)
        if st.waiting.message:
            w.kv(level + 1, "Message", st.waiting.message)
    elif st.HasField("terminated"):
        t = st.terminated
        w.kv(level, key, "Terminated")
        if t.reason:
            w.kv(level + 1, "Reason", t.reason)
        if t.message:
            w.kv(level + 1, "Message", t.message)
        w.kv(level + 1, "Exit Code", t.exit_code)
        if t.signal:
            w.kv(level + 1, "Signal", t.signal)
        if is_set(t.started_at):
            w.kv(level + 1, "Started", long_date(t.started_at))
        if is_set(t.finished_at):
            w.kv(level + 1, "Finished", long_date(t.finished_at))
    else:
        w.kv(level, key, "Waiting" if key == "State" else "")


def _containers(w: Writer, level: int, title: str, containers: Sequence[core_pb2.Container],
                statuses: Sequence[core_pb2.ContainerStatus] | None) -> None:
    if not containers:
        return
    w.line(level, title + ":")
    by_name = {s.name: s for s in statuses or ()}
    for c in containers:
        w.line(level + 1, f"{c.name}:")
        lv = level + 2
        st = by_name.get(c.name)
        if statuses is not None:
            w.kv(lv, "Container ID", st.container_id if st else "")
        w.kv(lv, "Image", c.image)
        if statuses is not None:
            w.kv(lv, "Image ID", st.image_id if st else "")
        if c.ports:
            for i, p in enumerate(c.ports):
                port = f"{p.container_port}/{p.protocol or 'TCP'}"
                if i == 0:
                    w.kv(lv, "Port", port)
                else:
                    w.cont(lv, port)
            w.kv(lv, "Host Port", ", ".join(f"{p.host_port}/{p.protocol or 'TCP'}"
                                            for p in c.ports))
        else:
            w.kv(lv, "Port", "<none>")
            w.kv(lv, "Host Port", "<none>")
        if c.command:
            w.line(lv, "Command:")
            for a in c.command:
                w.line(lv + 1, a)
        if c.args:
            w.line(lv, "Args:")
            for a in c.args:
                w.line(lv + 1, a)
        if statuses is not None and st is not None:
            _state(w, lv, "State", st.state)
            if st.last_state.ListFields():
                _state(w, lv, "Last State", st.last_state)
            w.kv(lv, "Ready", "True" if st.ready else "False")
            w.kv(lv, "Restart Count", st.restart_count)
        elif statuses is not None:
            w.kv(lv, "State", "Waiting")
            w.kv(lv, "Ready", "False")
            w.kv(lv, "Restart Count", 0)
        for title2, res in (("Limits", c.resources.limits),
                            ("Requests", c.resources.requests)):
            if res:
                w.line(lv, f"{title2}:")
                for k, v in sorted(res.items()):
                    w.kv(lv + 1, k, v)
        if c.HasField("liveness_probe"):
            w.kv(lv, "Liveness", _probe(c.liveness_probe))
        if c.HasField("readiness_probe"):
            w.kv(lv, "Readiness", _probe(c.readiness_probe))
        if c.HasField("startup_probe"):
            w.kv(lv, "Startup", _probe(c.startup_probe))
        if c.env:
            w.line(lv, "Environment:")
            for e in c.env:
                if e.HasField("value_from"):
                    if e.value_from.HasField("field_ref"):
                        val = f" ({e.value_from.field_ref.api_version or 'v1'}:" \
                              f"{e.value_from.field_ref.field_path})"
                    else:
                        val = f" ({e.value_from.resource_field_ref.resource})"
                    w.kv(lv + 1, e.name, val.strip())
                else:
                    w.kv(lv + 1, e.name, e.value or "")
        else:
            w.kv(lv, "Environment", "<none>")
        if c.volume_mounts:
            w.line(lv, "Mounts:")
            for m in c.volume_mounts:
                w.line(lv + 1, f"{m.mount_path} from {m.name} ({'ro' if m.read_only else 'rw'})")
        else:
            w.kv(lv, "Mounts", "<none>")


def _volumes(w: Writer, spec: core_pb2.PodSpec, level: int = 0) -> None:
    if not spec.volumes:
        w.kv(level, "Volumes", "<none>")
        return
    w.line(level, "Volumes:")
    for v in spec.volumes:
        w.line(level + 1, f"{v.name}:")
        if v.HasField("empty_dir"):
            w.kv(level + 2, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)")
            w.kv(level + 2, "Medium", v.empty_dir.medium)
            w.kv(level + 2, "SizeLimit", v.empty_dir.size_limit or "<unset>")
        elif v.HasField("host_path"):
            w.kv(level + 2, "Type", "HostPath (bare host directory volume)")
            w.kv(level + 2, "Path", v.host_path.path)
            w.kv(level + 2, "HostPathType", v.host_path.type)


def _tolerations(w: Writer, spec: core_pb2.PodSpec) -> None:
    if not spec.tolerations:
        w.kv(0, "Tolerations", "<none>")
        return
    for i, t in enumerate(spec.tolerations):
        text = t.key
        if t.operator != "Exists" and t.value:
            text += f"={t.value}"
        if t.effect:
            text += f":{t.effect}"
        if t.operator == "Exists" and not t.key:
            text = f"op=Exists{(':' + t.effect) if t.effect else ''}"
        elif t.operator == "Exists":
            text += " op=Exists"
        if t.HasField("toleration_seconds"):
            text += f" for {t.toleration_seconds}s"
        if i == 0:
            w.kv(0, "Tolerations", text)
        else:
            w.cont(0, text)


def describe_pod(obj: api_pb2.Object, rel: Related, now: float) -> str:
    p = obj.pod
    w = Writer()
    _common_meta(w, p.metadata, True)
    w.kv(0, "Priority", p.spec.priority if p.spec.HasField("priority") else 0)
    w.kv(0, "Service Account", p.spec.service_account_name or "default")
    node = p.spec.node_name or "<none>"
    if p.spec.node_name and p.status.host_ip:
        node += "/" + p.status.host_ip
    w.kv(0, "Node", node)
    if is_set(p.status.start_time):
        w.kv(0, "Start Time", long_date(p.status.start_time))
    _map(w, 0, "Labels", p.metadata.labels)
    _map(w, 0, "Annotations", p.metadata.annotations, ": ")
    status = columns.pod_status(p)
    if is_set(p.metadata.deletion_timestamp):
        w.kv(0, "Status", f"Terminating (lasts {age(p.metadata.deletion_timestamp, now)})")
        if p.metadata.HasField("deletion_grace_period_seconds"):
            w.kv(0, "Termination Grace Period", f"{p.metadata.deletion_grace_period_seconds}s")
    else:
        w.kv(0, "Status", p.status.phase or status)
    if p.status.reason:
        w.kv(0, "Reason", p.status.reason)
    if p.status.message:
        w.kv(0, "Message", p.status.message)
    w.kv(0, "IP", p.status.pod_ip)
    if p.status.pod_ips:
        w.line(0, "IPs:")
        for ip in p.status.pod_ips:
            w.kv(1, "IP", ip.ip)
    else:
        w.kv(0, "IPs", "<none>")
    ctl = _controlled_by(p.metadata)
    if ctl:
        w.kv(0, "Controlled By", ctl)
    _containers(w, 0, "Init Containers", p.spec.init_containers,
                list(p.status.init_container_statuses))
    _containers(w, 0, "Containers", p.spec.containers, list(p.status.container_statuses))
    if p.status.conditions:
        w.line(0, "Conditions:")
        rows = [[c.type, c.status] for c in p.status.conditions]
        w.block(1, table.render(["Type", "Status"], rows))
    _volumes(w, p.spec)
    w.kv(0, "QoS Class", p.status.qos_class or "BestEffort")
    w.kv(0, "Node-Selectors", ",".join(f"{k}={v}" for k, v in sorted(p.spec.node_selector.items()))
         or "<none>")
    _tolerations(w, p.spec)
    events_section(w, rel.events, now)
    return w.render()


def _template(w: Writer, tmpl: core_pb2.PodTemplateSpec) -> None:
    w.line(0, "Pod Template:")
    _map(w, 1, "Labels", tmpl.metadata.labels)
    if tmpl.metadata.annotations:
        _map(w, 1, "Annotations", tmpl.metadata.annotations, ": ")
    _containers(w, 1, "Containers", tmpl.spec.containers, None)
    _volumes(w, tmpl.spec, 1)
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
    _common_meta(w, d.metadata, True)
    w.kv(0, "CreationTimestamp", long_date(d.metadata.creation_timestamp))
    _map(w, 0, "Labels", d.metadata.labels)
    _map(w, 0, "Annotations", d.metadata.annotations, ": ")
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
    _template(w, d.spec.template)
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


def _pods_status(pods: Sequence[core_pb2.Pod]) -> str:
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        if p.status.phase in counts:
            counts[p.status.phase] += 1
    return (f"{counts['Running']} Running / {counts['Pending']} Waiting / "
            f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed")


def describe_replicaset(obj: api_pb2.Object, rel: Related, now: float) -> str:
    r = obj.replica_set
    w = Writer()
    _common_meta(w, r.metadata, True)
    w.kv(0, "Selector", columns.format_selector(r.spec.selector) or "<none>")
    _map(w, 0, "Labels", r.metadata.labels)
    _map(w, 0, "Annotations", r.metadata.annotations, ": ")
    ctl = _controlled_by(r.metadata)
    if ctl:
        w.kv(0, "Controlled By", ctl)
    desired = r.spec.replicas if r.spec.HasField("replicas") else 1
    w.kv(0, "Replicas", f"{r.status.replicas} current / {desired} desired")
    w.kv(0, "Pods Status", _pods_status(rel.pods))
    _template(w, r.spec.template)
    if r.status.conditions:
        w.line(0, "Conditions:")
        rows = [["----", "------", "------"]] + [[c.type, c.status, c.reason]
                                                 for c in r.status.conditions]
        w.block(1, table.render(["Type", "Status", "Reason"], rows))
    events_section(w, rel.events, now)
    return w.render()


def describe_node(obj: api_pb2.Object, rel: Related, now: float) -> str:
    n = obj.node
    w = Writer()
    w.kv(0, "Name", n.metadata.name)
    roles = columns.node_roles(n)
    w.kv(0, "Roles", roles)
    _map(w, 0, "Labels", n.metadata.labels)
    _map(w, 0, "Annotations", n.metadata.annotations, ": ")
    w.kv(0, "CreationTimestamp", long_date(n.metadata.creation_timestamp))
    if n.spec.taints:
        for i, t in enumerate(n.spec.taints):
            val = f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"
            if i == 0:
                w.kv(0, "Taints", val)
            else:
                w.cont(0, val)
    else:
        w.kv(0, "Taints", "<none>")
    w.kv(0, "Unschedulable", "true" if n.spec.unschedulable else "false")
    if n.status.conditions:
        w.line(0, "Conditions:")
        hdr = ["Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"]
        rows = [["----"] * 2 + ["-----------------", "------------------", "------", "-------"]]
        for c in n.status.conditions:
            rows.append([c.type, c.status,
                         long_date(c.last_heartbeat_time) if is_set(c.last_heartbeat_time) else "",
                         long_date(c.last_transition_time)
                         if is_set(c.last_transition_time) else "",
                         c.reason, c.message])
        w.block(1, table.render(hdr, rows))
    w.line(0, "Addresses:")
    for a in n.status.addresses:
        w.kv(1, a.type, a.address)
    for title, m in (("Capacity", n.status.capacity), ("Allocatable", n.status.allocatable)):
        w.line(0, f"{title}:")
        for k, v in sorted(m.items()):
            w.kv(1, k, v)
    info = n.status.node_info
    w.line(0, "System Info:")
    for key, value in (("Machine ID", info.machine_id), ("System UUID", info.system_uuid),
                       ("Boot ID", info.boot_id), ("Kernel Version", info.kernel_version),
                       ("OS Image", info.os_image), ("Operating System", info.operating_system),
                       ("Architecture", info.architecture),
                       ("Container Runtime Version", info.container_runtime_version),
                       ("Kubelet Version", info.kubelet_version)):
        w.kv(1, key, value)
    w.kv(0, "PodCIDR", n.spec.pod_cidr)
    w.kv(0, "PodCIDRs", ",".join(n.spec.pod_cidrs) or n.spec.pod_cidr)
    active = [p for p in rel.pods if p.status.phase not in ("Succeeded", "Failed")]
    w.line(0, f"Non-terminated Pods:          ({len(active)} in total)")
    if active:
        hdr = ["Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests",
               "Memory Limits", "Age"]
        rows = [["---------", "----", "------------", "----------", "---------------",
                 "-------------", "---"]]
        for p in active:
            def total(which: str, res: str, pod: core_pb2.Pod = p) -> str:
                vals = [getattr(c.resources, which).get(res, "") for c in pod.spec.containers]
                vals = [v for v in vals if v]
                return "+".join(vals) if vals else "0"
            rows.append([p.metadata.namespace, p.metadata.name, total("requests", "cpu"),
                         total("limits", "cpu"), total("requests", "memory"),
                         total("limits", "memory"), age(p.metadata.creation_timestamp, now)])
        w.block(1, table.render(hdr, rows))
    events_section(w, rel.events, now)
    return w.render()


def describe_namespace(obj: api_pb2.Object, rel: Related, now: float) -> str:
    n = obj.namespace
    w = Writer()
    w.kv(0, "Name", n.metadata.name)
    _map(w, 0, "Labels", n.metadata.labels)
    _map(w, 0, "Annotations", n.metadata.annotations, ": ")
    phase = "Terminating" if is_set(n.metadata.deletion_timestamp) else n.status.phase or "Active"
    w.kv(0, "Status", phase)
    w.line(0, "")
    w.line(0, "No resource quota.")
    w.line(0, "")
    w.line(0, "No LimitRange resource.")
    return w.render()


def _generic_fields(w: Writer, level: int, doc: Any) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            key = k[:1].upper() + k[1:]
            if isinstance(v, dict | list) and v:
                w.line(level, key + ":")
                _generic_fields(w, level + 1, v)
            else:
                w.kv(level, key, v if v not in (None, "") else "")
    elif isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict | list):
                _generic_fields(w, level, item)
            else:
                w.line(level, str(item))


def describe_generic(obj: api_pb2.Object, rel: Related, now: float) -> str:
    doc = encode(obj)
    meta = doc.pop("metadata", {})
    w = Writer()
    k = kinds.of(obj)
    w.kv(0, "Name", meta.get("name", ""))
    if k.namespaced:
        w.kv(0, "Namespace", meta.get("namespace", ""))
    _map(w, 0, "Labels", meta.get("labels", {}))
    _map(w, 0, "Annotations", meta.get("annotations", {}), ": ")
    w.kv(0, "API Version", doc.pop("apiVersion", ""))
    w.kv(0, "Kind", doc.pop("kind", ""))
    _generic_fields(w, 0, doc)
    if k.resource != "events":
        events_section(w, rel.events, now)
    return w.render()


RENDERERS = {
    "pods": describe_pod,
    "deployments": describe_deployment,
    "replicasets": describe_replicaset,
    "nodes": describe_node,
    "namespaces": describe_namespace,
}


def describe(obj: api_pb2.Object, rel: Related | None = None, now: float | None = None) -> str:
    fn = RENDERERS.get(kinds.of(obj).resource, describe_generic)
    return fn(obj, rel or Related(), time.time() if now is None else now)
