"""Endpoints controller: the EndpointSlices (and the v1 Endpoints) of every Service
with a selector, from the pods it selects (controlplane/controllers/endpointsdesired.py).

* Keys are Services ("ns/name"). A pod change enqueues the Services of its
  namespace whose selector matches its old or new labels; a slice change enqueues
  the Service it names (label kubernetes.io/service-name), so a slice left behind
  by a deleted Service is removed on the next look.
* Slices are named ``<service>-<5 chars>`` from the Service's uid and the slice's
  index (stable: an update never needs a new name), labelled like Kubernetes'
  (kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by) and owned
  by the Service. Only what changed is written; extra slices are deleted.
* A Service without a selector (its endpoints are written by hand, or, for
  `kubernetes`, by the API servers) or of type ExternalName is left alone; when
  a Service is gone its managed slices and its Endpoints are deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from controlplane import errors
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, owner_ref_to
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, discovery_pb2, labels, service_pb2

from . import endpointsdesired as want
from .base import DONE, Controller, Result

log = logging.getLogger(__name__)

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def slice_name(svc: service_pb2.Service, index: int) -> str:
    digest = hashlib.sha256(f"{svc.metadata.uid}/{index}".encode()).digest()
    suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])
    return f"{svc.metadata.name[:57]}-{suffix}"


def _service_of_slice(o: api_pb2.Object) -> list[str]:
    m = o.endpoint_slice.metadata
    if m.labels.get(want.MANAGED_BY_LABEL) != want.MANAGED_BY:
        return []
    name = m.labels.get(want.SERVICE_NAME_LABEL, "")
    return [f"{m.namespace}/{name}"] if name else []


def _selector(svc: service_pb2.Service) -> labels.Selector | None:
    if not svc.spec.selector or svc.spec.type == "ExternalName":
        return None
    return labels.parse_selector(",".join(f"{k}={v}"
                                          for k, v in sorted(svc.spec.selector.items())))


def _same_slice(a: discovery_pb2.EndpointSlice, b: discovery_pb2.EndpointSlice) -> bool:
    return (list(a.endpoints) == list(b.endpoints) and list(a.ports) == list(b.ports)
            and a.address_type == b.address_type
            and dict(a.metadata.labels) == dict(b.metadata.labels)
            and list(a.metadata.owner_references) == list(b.metadata.owner_references))


class EndpointsController(Controller):
    name = "endpoints"
    workers = 4

    def __init__(self, client: Client, factory: InformerFactory, *,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=min(profile.workqueue_backoff_max, 5.0))
        self.client = client
        self.services = factory.informer("services")
        self.pods = factory.informer("pods")
        self.slices = factory.informer("endpointslices")
        self.endpoints = factory.informer("endpoints")
        self.services.add_indexer("namespace", lambda o: [o.service.metadata.namespace])
        self.pods.add_indexer("namespace", lambda o: [o.pod.metadata.namespace])
        self.slices.add_indexer("service", _service_of_slice)
        key = self._svc_key
        self.services.add_handler(Handler(lambda o: self.enqueue(key(o)),
                                          lambda _o, n: self.enqueue(key(n)),
                                          lambda o: self.enqueue(key(o))))
        self.pods.add_handler(Handler(lambda o: self._pod_changed(None, o),
                                      self._pod_changed, lambda o: self._pod_changed(None, o)))
        self.slices.add_handler(Handler(self._slice_changed, lambda _o, n: self._slice_changed(n),
                                        self._slice_changed))

    @staticmethod
    def _svc_key(o: api_pb2.Object) -> str:
        m = o.service.metadata
        return f"{m.namespace}/{m.name}"

    async def wait_synced(self) -> None:
        await asyncio.gather(self.services.wait_synced(), self.pods.wait_synced(),
                             self.slices.wait_synced(), self.endpoints.wait_synced())

    # ---- handlers ----------------------------------------------------------------

    def _pod_changed(self, old: api_pb2.Object | None, new: api_pb2.Object) -> None:
        pod = new.pod
        before = old.pod.metadata.labels if old is not None else {}
        for o in self.services.by_index("namespace", pod.metadata.namespace):
            sel = _selector(o.service)
            if sel is not None and (sel.matches(pod.metadata.labels) or sel.matches(before)):
                self.enqueue(self._svc_key(o))

    def _slice_changed(self, o: api_pb2.Object) -> None:
        for key in _service_of_slice(o):
            self.enqueue(key)

    # ---- reconcile ---------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        ns, _, name = key.partition("/")
        obj = self.services.get(key)
        existing = sorted(self.slices.by_index("service", key),
                          key=lambda o: o.endpoint_slice.metadata.name)
        if obj is None:
            for s in existing:
                await self._delete("endpointslices", ns, s.endpoint_slice.metadata.name)
            if self.endpoints.get(key) is not None:
                await self._delete("endpoints", ns, name)
            return DONE
        svc = obj.service
        sel = _selector(svc)
        if sel is None:
            for s in existing:
                await self._delete("endpointslices", ns, s.endpoint_slice.metadata.name)
            return DONE
        pods = [o.pod for o in self.pods.by_index("namespace", ns)
                if sel.matches(o.pod.metadata.labels)]
        groups = want.endpoint_groups(svc, pods)
        await self._sync_slices(obj, existing, want.desired_slices(svc, groups))
        await self._sync_endpoints(key, want.desired_endpoints(svc, groups))
        return DONE

    async def _sync_slices(self, owner: api_pb2.Object, existing: list[api_pb2.Object],
                           desired: list[discovery_pb2.EndpointSlice]) -> None:
        svc = owner.service
        by_name = {o.endpoint_slice.metadata.name: o for o in existing}
        ref = owner_ref_to(owner)
        for i, es in enumerate(desired):
            es.metadata.name = slice_name(svc, i)
            es.metadata.owner_references.append(ref)
            cur = by_name.pop(es.metadata.name, None)
            if cur is None:
                new = api_pb2.Object()
                new.endpoint_slice.CopyFrom(es)
                try:
                    await self.client.create(new)
                except errors.AlreadyExists:
                    raise errors.Conflict(f"endpointslice {es.metadata.name} exists already "
                                          "(cache behind): look again") from None
            elif not _same_slice(cur.endpoint_slice, es):
                upd = copy_of(cur)
                s = upd.endpoint_slice
                del s.endpoints[:]
                s.endpoints.extend(es.endpoints)
                del s.ports[:]
                s.ports.extend(es.ports)
                s.address_type = es.address_type
                s.metadata.labels.clear()
                s.metadata.labels.update(es.metadata.labels)
                del s.metadata.owner_references[:]
                s.metadata.owner_references.extend(es.metadata.owner_references)
                await self.client.update(upd)
        for stale in by_name.values():
            await self._delete("endpointslices", svc.metadata.namespace,
                               stale.endpoint_slice.metadata.name)

    async def _sync_endpoints(self, key: str, ep: service_pb2.Endpoints) -> None:
        cur = self.endpoints.get(key)
        if cur is None:
            new = api_pb2.Object()
            new.endpoints.CopyFrom(ep)
            try:
                await self.client.create(new)
            except errors.AlreadyExists:
                raise errors.Conflict(f"endpoints {key} exist already (cache behind)") from None
            return
        have = cur.endpoints
        if list(have.subsets) == list(ep.subsets) and \
                dict(have.metadata.labels) == dict(ep.metadata.labels):
            return
        upd = copy_of(cur)
        del upd.endpoints.subsets[:]
        upd.endpoints.subsets.extend(ep.subsets)
        upd.endpoints.metadata.labels.clear()
        upd.endpoints.metadata.labels.update(ep.metadata.labels)
        await self.client.update(upd)

    async def _delete(self, resource: str, ns: str, name: str) -> None:
        try:
            await self.client.delete(resource, ns, name)
        except errors.NotFound:
            pass
