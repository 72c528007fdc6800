"""The StatefulSet's status (replica counts, current and update revisions), and why a
pod waits when its local volume is on a node that is gone."""

from __future__ import annotations

from controlplane import errors
from controlplane.client import Client
from controlplane.informer import Informer
from controlplane.objects import copy_of
from proto import api_pb2, apps_pb2, core_pb2
from proto.labels import pinned_node

from . import podutil
from .base import DONE, Result
from .statefulsetutil import revision_of


async def sync_status(client: Client, obj: api_pb2.Object, pods: list[core_pb2.Pod],
                      current: api_pb2.Object, update: api_pb2.Object, now: float) -> Result:
    sts = obj.stateful_set
    st = apps_pb2.StatefulSetStatus()
    st.CopyFrom(sts.status)
    cur = current.controller_revision.metadata.name
    upd = update.controller_revision.metadata.name
    mrs = sts.spec.min_ready_seconds
    live = [p for p in pods if p.status.phase]
    st.replicas = len(live)
    ok = [p for p in live if not p.metadata.HasField("deletion_timestamp")]
    st.ready_replicas = sum(1 for p in ok if podutil.is_ready(p))
    st.available_replicas = sum(1 for p in ok if podutil.is_available(p, mrs, now))
    st.current_replicas = sum(1 for p in live if revision_of(p) == cur)
    st.updated_replicas = sum(1 for p in live if revision_of(p) == upd)
    st.current_revision, st.update_revision = cur, upd
    if st.updated_replicas == st.replicas and st.ready_replicas == st.replicas:
        st.current_revision = upd
        st.current_replicas = st.updated_replicas
    st.observed_generation = sts.metadata.generation
    waits = [w for p in ok if (w := podutil.available_in(p, mrs, now)) is not None]
    res = Result(requeue_after=min(waits) + 0.05) if waits else DONE
    if st != sts.status:
        new = copy_of(obj)
        new.stateful_set.status.CopyFrom(st)
        try:
            await client.update_status(new)
        except errors.NotFound:
            return DONE
    return res


def _unscheduled(pod: core_pb2.Pod) -> bool:
    return not pod.spec.node_name and any(
        c.type == "PodScheduled" and c.status == "False" for c in pod.status.conditions)


def _node_ready(node: core_pb2.Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def lost_volume_message(pod: core_pb2.Pod, claims: Informer, volumes: Informer,
                        nodes: Informer) -> str:
    """Why an unschedulable pod waits, when a claim of it is bound to a local volume on a
    node that is gone or not ready ("" otherwise). As in Kubernetes, the volume stays
    bound to its node: the pod waits for the node, or for the claim to be deleted."""
    if not _unscheduled(pod):
        return ""
    ns = pod.metadata.namespace
    for v in pod.spec.volumes:
        if not v.HasField("persistent_volume_claim"):
            continue
        c = claims.get(f"{ns}/{v.persistent_volume_claim.claim_name}")
        if c is None or not c.persistent_volume_claim.spec.volume_name:
            continue
        pv = volumes.get(c.persistent_volume_claim.spec.volume_name)
        if pv is None:
            continue
        node = pinned_node(pv.persistent_volume.spec.node_affinity.required)
        if not node:
            continue
        have = nodes.get(node)
        if have is not None and _node_ready(have.node):
            continue
        state = "is gone" if have is None else "is not ready"
        return (f"Pod {pod.metadata.name} waits for node {node}: its claim "
                f"{c.persistent_volume_claim.metadata.name} is bound to volume "
                f"{pv.persistent_volume.metadata.name} on that node, which {state}; a local "
                "volume stays with its node (delete the claim and the pod to start it elsewhere "
                "without its data)")
    return ""
