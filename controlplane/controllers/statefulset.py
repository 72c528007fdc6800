"""StatefulSet controller (apps/v1): pods with a stable identity and their own storage.

* Pod `<set>-<n>` for n in 0..replicas-1: hostname its name, subdomain `serviceName`
  (the headless Service's DNS answers `<pod>.<service>`), and for each
  volumeClaimTemplate the claim `<template>-<set>-<n>`, made before the pod and kept
  when the pod goes, so a rescheduled pod gets its data back.
* podManagementPolicy OrderedReady: create 0, 1, ... one at a time, each after the one
  before is Running and Ready; scale down from the highest ordinal, one at a time, only
  while the others are healthy. Parallel: all at once.
* Updates: each template is a ControllerRevision (history.py); the pods carry the
  revision's name as `controller-revision-hash`. RollingUpdate replaces pods from the
  highest ordinal down to `partition`, one at a time, each after the one above is
  ready again (ordinals below the partition keep, and are recreated at, the current
  revision); OnDelete only when someone deletes a pod. When every pod is updated and
  ready, the update revision becomes the current one.
* persistentVolumeClaimRetentionPolicy: claims get the set as owner (whenDeleted:
  Delete) or the scaled-away pod (whenScaled: Delete); the garbage collector deletes
  them with their owner. Retain (the default) keeps them.
* A name is never held by two pods: a pod is recreated only once the old one is gone
  from the API. On a lost node that is once the Node is deleted (the node lifecycle
  controller evicts StatefulSet pods gracefully, as Kubernetes); a replacement whose
  local volume is on that node waits for it (event VolumeNodeUnavailable).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, meta_of
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, core_pb2
from proto.labels import from_label_selector

from . import podutil
from .base import DONE, Controller, Result
from .history import CollisionError, History
from .ownership import claim, selecting
from .statefulsetstatus import lost_volume_message, sync_status
from .statefulsetutil import (
    claim_name,
    claim_owners,
    healthy,
    new_claim,
    new_pod,
    ordinal,
    partition,
    replicas,
    revision_of,
)

log = logging.getLogger(__name__)


def _owner_key(o: api_pb2.Object) -> str | None:
    m = meta_of(o)
    ref = podutil.controller_ref(m)
    return f"{m.namespace}/{ref.name}" if ref is not None and ref.kind == "StatefulSet" else None


class StatefulSetController(Controller):
    name = "statefulset"
    workers = 2

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None, profile: Profile = DEFAULT,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.client = client
        self.clock = clock
        self.recorder = recorder or events.EventRecorder(client, "statefulset-controller")
        self.history = History(client, self.recorder)
        self.sets = factory.informer("statefulsets")
        self.pods = factory.informer("pods")
        self.revisions = factory.informer("controllerrevisions")
        self.claims = factory.informer("persistentvolumeclaims")
        self.volumes = factory.informer("persistentvolumes")
        self.nodes = factory.informer("nodes")
        self.pods.add_indexer("namespace", lambda o: [o.pod.metadata.namespace])
        self.revisions.add_indexer("owner-statefulset",
                                   lambda o: [k] if (k := _owner_key(o)) else [])
        self.sets.add_handler(Handler(self._set, lambda o, n: self._set(n), self._set))
        self.pods.add_handler(Handler(self._pod, self._pod_updated, self._pod))
        self.revisions.add_handler(Handler(self._owned, lambda o, n: self._owned(n),
                                           self._owned))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in (
            self.sets, self.pods, self.revisions, self.claims, self.volumes, self.nodes)))

    def _set(self, o: api_pb2.Object) -> None:
        self.enqueue(f"{o.stateful_set.metadata.namespace}/{o.stateful_set.metadata.name}")

    def _owned(self, o: api_pb2.Object) -> None:
        key = _owner_key(o)
        if key is not None:
            self.enqueue(key)

    def _pod_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        self._pod(old)
        self._pod(new)

    def _pod(self, o: api_pb2.Object) -> None:
        if _owner_key(o) is not None:
            self._owned(o)
        elif podutil.controller_ref(o.pod.metadata) is None:
            for k in selecting(self.sets.list(), o, lambda s: s.stateful_set.spec.selector):
                self.enqueue(k)

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        obj = self.sets.get(key)
        if obj is None or obj.stateful_set.metadata.HasField("deletion_timestamp"):
            return DONE
        sts = obj.stateful_set
        owned = await claim(self.client, "pods", obj, from_label_selector(sts.spec.selector),
                            self.pods.by_index("namespace", sts.metadata.namespace))
        try:
            update, revisions = await self.history.sync(
                obj, self.revisions.by_index("owner-statefulset", key), sts.spec.template,
                sts.status.collision_count)
        except CollisionError:
            upd = copy_of(obj)
            upd.stateful_set.status.collision_count = sts.status.collision_count + 1
            await self.client.update_status(upd)
            raise
        names = {r.controller_revision.metadata.name: r for r in revisions}
        current = names.get(sts.status.current_revision, update)
        pods = {n: p for p in owned if (n := ordinal(sts.metadata.name, p.pod)) is not None}
        await self._sync_pods(obj, pods, current, update)
        await self._retention(obj, pods)
        await self.history.cleanup(revisions, update, {revision_of(p.pod) for p in owned}
                                   | {current.controller_revision.metadata.name},
                                   sts.spec.revision_history_limit
                                   if sts.spec.HasField("revision_history_limit") else 10)
        self._lost_volumes(obj, pods)
        return await sync_status(self.client, obj, [p.pod for p in pods.values()],
                                 current, update, self.clock())

    async def _sync_pods(self, obj: api_pb2.Object, pods: dict[int, api_pb2.Object],
                         current: api_pb2.Object, update: api_pb2.Object) -> None:
        """One step toward the spec; with OrderedReady it stops at the first wait."""
        sts = obj.stateful_set
        ordered = sts.spec.pod_management_policy != "Parallel"
        n_want = replicas(sts)
        now = self.clock()
        mrs = sts.spec.min_ready_seconds
        for n in range(n_want):
            p = pods.get(n)
            if p is not None and p.pod.status.phase == "Failed" and \
                    not p.pod.metadata.HasField("deletion_timestamp"):
                await self._delete(obj, p.pod)   # recreated once it is gone
                if ordered:
                    return
        for n in range(n_want):
            p = pods.get(n)
            if p is None:
                rolling = sts.spec.update_strategy.type != "OnDelete"
                rev = current if rolling and n < partition(sts) else update
                if await self._create(obj, rev, n) and ordered:
                    return
                continue
            if ordered and not healthy(p.pod, mrs, now):
                return      # OrderedReady: the next waits for this one
        condemned = sorted((n for n in pods if n >= n_want), reverse=True)
        for n in condemned:
            p = pods[n]
            if p.pod.metadata.HasField("deletion_timestamp"):
                if ordered:
                    return
                continue
            if ordered and any(not healthy(pods[i].pod, mrs, now) for i in pods if i != n):
                return
            await self._retention(obj, {n: p}, condemned=True)
            await self._delete(obj, p.pod)
            if ordered:
                return
        if sts.spec.update_strategy.type == "OnDelete":
            return
        wanted = update.controller_revision.metadata.name
        for n in range(n_want - 1, partition(sts) - 1, -1):
            p = pods.get(n)
            if p is None:
                return
            if revision_of(p.pod) != wanted:
                if not p.pod.metadata.HasField("deletion_timestamp"):
                    await self._delete(obj, p.pod)
                return
            if not healthy(p.pod, mrs, now):
                return

    async def _create(self, obj: api_pb2.Object, rev: api_pb2.Object, n: int) -> bool:
        """Make the pod's claims, then the pod; False when it has to wait."""
        sts = obj.stateful_set
        pod_name = f"{sts.metadata.name}-{n}"
        for t in sts.spec.volume_claim_templates:
            name = claim_name(t.metadata.name, sts.metadata.name, n)
            have = self.claims.get(f"{sts.metadata.namespace}/{name}")
            if have is not None:
                if have.persistent_volume_claim.metadata.HasField("deletion_timestamp"):
                    self.recorder.record(obj, events.WARNING, "FailedCreate",
                                         f"create Pod {pod_name} in StatefulSet "
                                         f"{sts.metadata.name} failed: claim {name} is "
                                         "being deleted")
                    return False
                continue
            try:
                await self.client.create(new_claim(sts, t, n))
                self.recorder.record(obj, events.NORMAL, "SuccessfulCreate",
                                     f"create Claim {name} Pod {pod_name} in StatefulSet "
                                     f"{sts.metadata.name} success")
            except errors.AlreadyExists:
                pass
        template = rev.controller_revision.data.spec.template
        try:
            await self.client.create(new_pod(obj, template, rev.controller_revision.metadata.name,
                                             n))
        except errors.AlreadyExists:
            return True     # made by an earlier pass the cache has not shown yet
        except errors.ApiError as e:
            self.recorder.record(obj, events.WARNING, "FailedCreate",
                                 f"create Pod {pod_name} in StatefulSet {sts.metadata.name} "
                                 f"failed error: {e}")
            raise
        self.recorder.record(obj, events.NORMAL, "SuccessfulCreate",
                             f"create Pod {pod_name} in StatefulSet {sts.metadata.name} "
                             "successful")
        return True

    async def _delete(self, obj: api_pb2.Object, pod: core_pb2.Pod) -> None:
        try:
            await self.client.delete("pods", pod.metadata.namespace, pod.metadata.name)
        except errors.NotFound:
            return
        self.recorder.record(obj, events.NORMAL, "SuccessfulDelete",
                             f"delete Pod {pod.metadata.name} in StatefulSet "
                             f"{obj.stateful_set.metadata.name} successful")

    async def _retention(self, obj: api_pb2.Object, pods: dict[int, api_pb2.Object],
                         condemned: bool = False) -> None:
        """Owner references of the claims per persistentVolumeClaimRetentionPolicy."""
        sts = obj.stateful_set
        ns = sts.metadata.namespace
        for n, p in sorted(pods.items()):
            gone = condemned or n >= replicas(sts)
            for t in sts.spec.volume_claim_templates:
                c = self.claims.get(f"{ns}/{claim_name(t.metadata.name, sts.metadata.name, n)}")
                if c is None:
                    continue
                refs = claim_owners(c.persistent_volume_claim, obj, p, gone)
                if refs is None:
                    continue
                upd = copy_of(c)
                del upd.persistent_volume_claim.metadata.owner_references[:]
                upd.persistent_volume_claim.metadata.owner_references.extend(refs)
                try:
                    await self.client.update(upd)
                except (errors.NotFound, errors.Conflict):
                    pass

    def _lost_volumes(self, obj: api_pb2.Object, pods: dict[int, api_pb2.Object]) -> None:
        for p in pods.values():
            msg = lost_volume_message(p.pod, self.claims, self.volumes, self.nodes)
            if msg:
                self.recorder.record(obj, events.WARNING, "VolumeNodeUnavailable", msg)
