"""`corral describe pod`: containers with their states and probes, volumes, tolerations."""

from __future__ import annotations

from collections.abc import Sequence

from corral.printers import table
from corral.printers.describe.podconfig import config_volume, env_from_section, env_source
from corral.printers.describe.sections import (
    Related,
    Writer,
    common_meta,
    controlled_by,
    events_section,
    map_section,
)
from proto import api_pb2, columns, core_pb2
from proto.columns.humanize import age, is_set, long_date


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


def containers_section(w: Writer, level: int, title: str, containers: Sequence[core_pb2.Container],
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
        env_from_section(w, lv, c)
        if c.env:
            w.line(lv, "Environment:")
            for e in c.env:
                if env_source(e) is not None:
                    w.kv(lv + 1, e.name, env_source(e))
                elif e.HasField("value_from"):
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


def volumes_section(w: Writer, spec: core_pb2.PodSpec, level: int = 0) -> None:
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
        elif v.HasField("persistent_volume_claim"):
            w.kv(level + 2, "Type", "PersistentVolumeClaim (a reference to a "
                                    "PersistentVolumeClaim in the same namespace)")
            w.kv(level + 2, "ClaimName", v.persistent_volume_claim.claim_name)
            w.kv(level + 2, "ReadOnly", str(v.persistent_volume_claim.read_only).lower())
        else:
            config_volume(w, level + 2, v)


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
    common_meta(w, p.metadata, True)
    w.kv(0, "Priority", p.spec.priority if p.spec.HasField("priority") else 0)
    w.kv(0, "Service Account", p.spec.service_account_name or "default")
    node = p.spec.node_name or "<none>"
    if p.spec.node_name and p.status.host_ip:
        node += "/" + p.status.host_ip
    w.kv(0, "Node", node)
    if is_set(p.status.start_time):
        w.kv(0, "Start Time", long_date(p.status.start_time))
    map_section(w, 0, "Labels", p.metadata.labels)
    map_section(w, 0, "Annotations", p.metadata.annotations, ": ")
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
    ctl = controlled_by(p.metadata)
    if ctl:
        w.kv(0, "Controlled By", ctl)
    containers_section(w, 0, "Init Containers", p.spec.init_containers,
                list(p.status.init_container_statuses))
    containers_section(w, 0, "Containers", p.spec.containers, list(p.status.container_statuses))
    if p.status.conditions:
        w.line(0, "Conditions:")
        rows = [[c.type, c.status] for c in p.status.conditions]
        w.block(1, table.render(["Type", "Status"], rows))
    volumes_section(w, p.spec)
    w.kv(0, "QoS Class", p.status.qos_class or "BestEffort")
    w.kv(0, "Node-Selectors", ",".join(f"{k}={v}" for k, v in sorted(p.spec.node_selector.items()))
         or "<none>")
    _tolerations(w, p.spec)
    events_section(w, rel.events, now)
    return w.render()
