"""ReplicaSet controller: keep spec.replicas pods of the template running.

* Pods it owns carry an ownerReference to the ReplicaSet with controller=true.
  Orphan pods matching the selector are adopted; owned pods that stop
  matching are released (ownerReference removed).
* Too few: create pods named ``<rs>-<5 random chars>`` (generateName), in
  slow-start batches (1, 2, 4, ...) of at most ``burst`` per pass.
* Too many: delete in Kubernetes' order (unscheduled, pending, not ready,
  ready for less time, more restarts, newest first).
* Expectations: after asking for N creations/deletions it waits to observe
  them in the informer before acting again, so a burst never double-creates.
* Status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
  with minReadySeconds, observedGeneration) is written last, only if changed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, owner_ref_to
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, apps_pb2, core_pb2, meta_pb2
from proto.labels import from_label_selector

from . import podutil
from .base import DONE, Controller, Result
from .ownership import claim, selecting

log = logging.getLogger(__name__)


def _ns_index(o: api_pb2.Object) -> list[str]:
    return [o.pod.metadata.namespace]


def _selector(o: api_pb2.Object) -> meta_pb2.LabelSelector:
    return o.replica_set.spec.selector


def _ctrl_index(o: api_pb2.Object) -> list[str]:
    ref = podutil.controller_ref(o.pod.metadata)
    return [ref.uid] if ref is not None else []


class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 4

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None, profile: Profile = DEFAULT,
                 burst: int = 500) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.client = client
        self.recorder = recorder or events.EventRecorder(client, "replicaset-controller")
        self.burst = burst
        self.expectations = podutil.Expectations()
        self.rs = factory.informer("replicasets")
        self.pods = factory.informer("pods")
        self.pods.add_indexer("namespace", _ns_index)
        self.pods.add_indexer("controller", _ctrl_index)
        self.rs.add_handler(Handler(self._rs_changed, lambda o, n: self._rs_changed(n),
                                    self._rs_deleted))
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.rs.wait_synced(), self.pods.wait_synced())

    # ---- handlers ----------------------------------------------------------
    def _rs_changed(self, o: api_pb2.Object) -> None:
        m = o.replica_set.metadata
        self.enqueue(f"{m.namespace}/{m.name}")

    def _rs_deleted(self, o: api_pb2.Object) -> None:
        m = o.replica_set.metadata
        key = f"{m.namespace}/{m.name}"
        self.expectations.delete(key)
        self.enqueue(key)

    def _owner_key(self, pod: core_pb2.Pod) -> str | None:
        ref = podutil.controller_ref(pod.metadata)
        if ref is None or ref.kind != "ReplicaSet":
            return None
        return f"{pod.metadata.namespace}/{ref.name}"

    def _pod_added(self, o: api_pb2.Object) -> None:
        pod = o.pod
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif podutil.controller_ref(pod.metadata) is None:
            for k in selecting(self.rs.list(), o, _selector):
                self.enqueue(k)

    def _pod_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        pod = new.pod
        key = self._owner_key(pod)
        if key is not None and pod.metadata.HasField("deletion_timestamp") and \
                not old.pod.metadata.HasField("deletion_timestamp"):
            self.expectations.deletion_observed(key, f"{pod.metadata.namespace}/"
                                                     f"{pod.metadata.name}")
        old_key = self._owner_key(old.pod)
        if old_key is not None and old_key != key:
            self.enqueue(old_key)
        if key is not None:
            self.enqueue(key)
        elif podutil.controller_ref(pod.metadata) is None and (
                old is new or old.pod.metadata.labels != pod.metadata.labels or old_key):
            for k in selecting(self.rs.list(), new, _selector):
                self.enqueue(k)

    def _pod_deleted(self, o: api_pb2.Object) -> None:
        pod = o.pod
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, f"{pod.metadata.namespace}/"
                                                     f"{pod.metadata.name}")
            self.enqueue(key)

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        obj = self.rs.get(key)
        if obj is None:
            self.expectations.delete(key)
            return DONE
        rs = obj.replica_set
        deleting = rs.metadata.HasField("deletion_timestamp")
        satisfied = self.expectations.satisfied(key)   # before the cache read (job.py)
        owned = await claim(self.client, "pods", obj, from_label_selector(rs.spec.selector),
                            self.pods.by_index("namespace", rs.metadata.namespace),
                            adoptable=lambda p: podutil.is_active(p.pod))
        active = [p.pod for p in owned if podutil.is_active(p.pod)]
        want = rs.spec.replicas if rs.spec.HasField("replicas") else 1
        if satisfied and not deleting:
            diff = len(active) - want
            if diff < 0:
                await self._create(obj, min(-diff, self.burst), key)
            elif diff > 0:
                await self._delete(podutil.pods_to_delete(active, min(diff, self.burst)), key)
        return await self._update_status(obj, active)

    def new_pod(self, owner: api_pb2.Object) -> api_pb2.Object:
        rs = owner.replica_set
        t = rs.spec.template
        meta = meta_pb2.ObjectMeta(generate_name=f"{rs.metadata.name}-",
                                   namespace=rs.metadata.namespace)
        meta.labels.update(t.metadata.labels)
        meta.annotations.update(t.metadata.annotations)
        meta.owner_references.append(owner_ref_to(owner))
        pod = core_pb2.Pod(api_version="v1", kind="Pod", metadata=meta)
        pod.spec.CopyFrom(t.spec)
        return api_pb2.Object(pod=pod)

    async def _create_one(self, owner: api_pb2.Object, key: str) -> bool:
        """Create one pod; the API server names it <rs>-<5 random chars> (generateName)."""
        try:
            await self.client.create(self.new_pod(owner))
            return True
        except Exception as e:
            log.warning("replicaset %s: creating pod failed: %s", key, e)
            self.recorder.record(owner, events.WARNING, "FailedCreate", f"Error creating: {e}")
        self.expectations.creation_failed(key)
        return False

    async def _create(self, owner: api_pb2.Object, n: int, key: str) -> None:
        self.expectations.expect(key, adds=n)
        done = 0
        batch = 1
        created_names = 0
        while done < n:
            size = min(batch, n - done)
            results = await asyncio.gather(*(self._create_one(owner, key) for _ in range(size)))
            ok = sum(1 for r in results if r)
            created_names += ok
            done += size
            if ok < size:
                # slow start: stop on errors; give back the ones never tried
                for _ in range(n - done):
                    self.expectations.creation_failed(key)
                break
            batch *= 2
        if created_names:
            self.recorder.record(owner, events.NORMAL, "SuccessfulCreate",
                                 f"Created {created_names} pod(s)")

    async def _delete(self, victims: list[core_pb2.Pod], key: str) -> None:
        keys = [f"{p.metadata.namespace}/{p.metadata.name}" for p in victims]
        self.expectations.expect(key, dels=keys)

        async def one(p: core_pb2.Pod, pk: str) -> None:
            try:
                await self.client.delete("pods", p.metadata.namespace, p.metadata.name)
            except errors.NotFound:
                self.expectations.deletion_observed(key, pk)
            except Exception as e:
                log.warning("replicaset %s: deleting %s failed: %s", key, pk, e)
                self.expectations.deletion_observed(key, pk)

        await asyncio.gather(*(one(p, k) for p, k in zip(victims, keys, strict=True)))

    async def _update_status(self, obj: api_pb2.Object, active: list[core_pb2.Pod]) -> Result:
        rs = obj.replica_set
        now = time.time()
        mrs = rs.spec.min_ready_seconds
        tmpl_labels = rs.spec.template.metadata.labels
        status = apps_pb2.ReplicaSetStatus(
            replicas=len(active),
            fully_labeled_replicas=sum(
                1 for p in active
                if all(p.metadata.labels.get(k) == v for k, v in tmpl_labels.items())),
            ready_replicas=sum(1 for p in active if podutil.is_ready(p)),
            available_replicas=sum(1 for p in active if podutil.is_available(p, mrs, now)),
            observed_generation=rs.metadata.generation)
        status.conditions.extend(rs.status.conditions)
        waits = [w for p in active if (w := podutil.available_in(p, mrs, now)) is not None]
        res = Result(requeue_after=min(waits) + 0.05) if waits else DONE
        if status == rs.status:
            return res
        new = copy_of(obj)
        new.replica_set.status.CopyFrom(status)
        try:
            await self.client.update_status(new)
        except errors.NotFound:
            return DONE
        return res
