"""Deployment controller: a ReplicaSet per pod template, rolled out safely.

* Each template gets a ReplicaSet ``<deployment>-<hash>`` whose selector and
  template carry ``pod-template-hash=<hash>``; the RS with the current
  template is the *new* one, every other is *old*. Its
  ``deployment.kubernetes.io/revision`` annotation is one more than the
  highest old revision (so a rollback, which rewrites the template to an old
  one, re-uses that RS under a new revision).
* RollingUpdate: scale the new RS up while all pods (per RS the larger of
  spec.replicas and the pods that exist) stay <= replicas + maxSurge; scale
  old RSs down while available pods stay >= replicas - maxUnavailable
  (availability counted from the pods themselves, the freshest view).
* Recreate: old RSs to 0, wait for their pods to be gone, then the new one.
* Conditions: Available (MinimumReplicasAvailable/Unavailable) and
  Progressing (NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable,
  ProgressDeadlineExceeded after progressDeadlineSeconds without progress).
* revisionHistoryLimit: old RSs at 0 replicas beyond the limit are deleted.
* paused: no rollout (status still updated).

The parts: deploymentutil.py (hashes, revisions, conditions, the per-reconcile
view), deploymentrollout.py (the strategies), deploymentstatus.py (status).
"""

from __future__ import annotations

import asyncio
import logging
import time

from controlplane import events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, core_pb2, meta_pb2
from proto.labels import from_label_selector

from . import podutil
from .base import DONE, Controller, Result
from .deploymentrollout import Rollout
from .deploymentutil import (
    HASH_LABEL,
    REVISION,
    Ctx,
    find_new,
    pod_ctrl_uid,
    template_hash,
    templates_equal,
)
from .ownership import claim, selecting

log = logging.getLogger(__name__)


def _selector(o: api_pb2.Object) -> meta_pb2.LabelSelector:
    return o.deployment.spec.selector


class DeploymentController(Controller):
    name = "deployment"
    workers = 4

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.client = client
        self.recorder = recorder or events.EventRecorder(client, "deployment-controller")
        self.rollout = Rollout(client, self.recorder)
        self.deployments = factory.informer("deployments")
        self.rs = factory.informer("replicasets")
        self.pods = factory.informer("pods")
        self.rs.add_indexer("rs-namespace", lambda o: [o.replica_set.metadata.namespace])
        self.pods.add_indexer("rs-controller", pod_ctrl_uid)
        self.rs.add_indexer("uid", lambda o: [o.replica_set.metadata.uid])
        self.deployments.add_handler(Handler(
            self._d_changed, lambda o, n: self._d_changed(n), self._d_changed))
        self.rs.add_handler(Handler(self._rs_changed, self._rs_updated, self._rs_changed))
        self.pods.add_handler(Handler(self._pod_changed, lambda o, n: self._pod_changed(n),
                                      self._pod_changed))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.deployments.wait_synced(), self.rs.wait_synced(),
                             self.pods.wait_synced())

    # ---- handlers ----------------------------------------------------------
    def _d_changed(self, o: api_pb2.Object) -> None:
        m = o.deployment.metadata
        self.enqueue(f"{m.namespace}/{m.name}")

    def _rs_owner(self, o: api_pb2.Object) -> None:
        rs = o.replica_set
        ref = podutil.controller_ref(rs.metadata)
        if ref is not None:
            if ref.kind == "Deployment":
                self.enqueue(f"{rs.metadata.namespace}/{ref.name}")
            return
        for key in selecting(self.deployments.list(), o, _selector):
            self.enqueue(key)

    def _rs_changed(self, o: api_pb2.Object) -> None:
        self._rs_owner(o)

    def _rs_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        self._rs_owner(new)
        if podutil.controller_ref(old.replica_set.metadata) != \
                podutil.controller_ref(new.replica_set.metadata):
            self._rs_owner(old)

    def _pod_changed(self, o: api_pb2.Object) -> None:
        ref = podutil.controller_ref(o.pod.metadata)
        if ref is None or ref.kind != "ReplicaSet":
            return
        for rs in self.rs.by_index("uid", ref.uid):
            dref = podutil.controller_ref(rs.replica_set.metadata)
            if dref is not None and dref.kind == "Deployment":
                self.enqueue(f"{rs.replica_set.metadata.namespace}/{dref.name}")

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        d_obj = self.deployments.get(key)
        if d_obj is None:
            return DONE
        d = d_obj.deployment
        if d.metadata.HasField("deletion_timestamp"):
            return DONE
        selector = from_label_selector(d.spec.selector)
        if selector.empty:
            self.recorder.record(d_obj, events.WARNING, "SelectingAll",
                                 "This deployment is selecting all pods. A non-empty "
                                 "selector is required.")
            return DONE
        rss = await claim(self.client, "replicasets", d_obj, selector,
                          self.rs.by_index("rs-namespace", d.metadata.namespace))
        pods: dict[str, list[core_pb2.Pod]] = {}
        for o in rss:
            uid = o.replica_set.metadata.uid
            pods[uid] = [p.pod for p in self.pods.by_index("rs-controller", uid)]
        ctx = Ctx(d_obj, rss, pods, time.time())
        if d.spec.paused:
            return await self.rollout.status(ctx, find_new(ctx))
        if d.spec.strategy.type == "Recreate":
            return await self.rollout.recreate(ctx)
        return await self.rollout.rolling(ctx)


__all__ = ["HASH_LABEL", "REVISION", "DeploymentController", "template_hash", "templates_equal"]
