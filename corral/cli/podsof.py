"""The pods of a workload, and the containers of a pod worth reading logs from.

    selector_of(cli, "deploy/web")  -> "app=web"        (any kind with spec.selector)
    containers(pod, only="")        -> [Source(...), ...] the containers that have run

A workload is read in its JSON form, so any kind with a `spec.selector` works as it
lands in the kind table: a LabelSelector (Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job) or a plain map (Service).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.cli.common import Cli, CliError, lookup_kind
from proto import api_pb2, codec


@dataclass(frozen=True)
class Source:
    """One instance of one container: a new restart is a new source."""

    pod: str
    container: str
    uid: str
    restarts: int


def format_selector(sel: dict[str, Any]) -> str:
    """A label selector in its JSON form (or a Service's plain map) as a string."""
    if "matchLabels" not in sel and "matchExpressions" not in sel:
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    parts = [f"{k}={v}" for k, v in sorted(sel.get("matchLabels", {}).items())]
    for e in sel.get("matchExpressions", []):
        key, op, vals = e.get("key", ""), e.get("operator", ""), ",".join(e.get("values", []))
        parts.append({"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, ""))
    return ",".join(p for p in parts if p)


def selector_of(cli: Cli, ref: str) -> str:
    """The label selector of the pods of `TYPE/NAME` (not a pod)."""
    type_, _, name = ref.partition("/")
    kind = lookup_kind(type_)
    obj = cli.client.get(kind.resource, name, cli.namespace)
    doc = codec.encode(obj)
    sel = doc.get("spec", {}).get("selector")
    if not isinstance(sel, dict) or not sel:
        raise CliError(f"cannot select the pods of a {kind.singular}: it has no selector")
    return format_selector(sel)


def containers(pod: api_pb2.Object, only: str = "") -> list[Source]:
    """The containers (init containers first) that have started, as sources."""
    p = pod.pod
    out = []
    statuses = [*p.status.init_container_statuses, *p.status.container_statuses]
    for st in statuses:
        if only and st.name != only:
            continue
        started = st.state.HasField("running") or st.state.HasField("terminated")
        if not started:
            continue
        out.append(Source(p.metadata.name, st.name, p.metadata.uid, st.restart_count))
    return out


def has_container(pod: api_pb2.Object, name: str) -> bool:
    spec = pod.pod.spec
    return any(c.name == name for c in (*spec.init_containers, *spec.containers))
