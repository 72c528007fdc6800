"""Which owner selects an object, and claiming objects for an owner (Kubernetes'
ControllerRefManager), shared by the ReplicaSet controller (pods) and the
Deployment controller (ReplicaSets).

An owner *controls* an object when the object's controller ownerReference
names the owner's uid. `claim` returns the candidates the owner controls and
whose labels its selector matches; on the way it adopts matching orphans (adds
the controller reference) and releases controlled objects that no longer match
(removes it). An owner being deleted adopts and releases nothing. Writes go
through the Client with compare-and-swap on a fresh read: a lost race leaves
the object alone (the next reconcile looks again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from controlplane import errors
from controlplane.client import Client
from controlplane.objects import meta_of, owner_ref_to
from proto import api_pb2, meta_pb2
from proto.labels import Selector, from_label_selector

from .podutil import controller_ref

log = logging.getLogger(__name__)

Object = api_pb2.Object


def selecting(owners: Iterable[Object], obj: Object,
              selector_of: Callable[[Object], meta_pb2.LabelSelector]) -> list[str]:
    """The "namespace/name" keys of the `owners` in `obj`'s namespace whose selector
    matches its labels (owners with a bad selector select nothing)."""
    m = meta_of(obj)
    out = []
    for owner in owners:
        om = meta_of(owner)
        if om.namespace != m.namespace:
            continue
        try:
            if from_label_selector(selector_of(owner)).matches(m.labels):
                out.append(f"{om.namespace}/{om.name}")
        except Exception:
            continue
    return out


def _not_deleting(obj: Object) -> bool:
    return not meta_of(obj).HasField("deletion_timestamp")


async def claim(client: Client, resource: str, owner: Object, selector: Selector,
                candidates: Iterable[Object], *,
                adoptable: Callable[[Object], bool] = _not_deleting) -> list[Object]:
    """The candidates `owner` controls and `selector` matches, after adopting the
    matching orphans that are `adoptable` and releasing the controlled ones that
    no longer match."""
    om = meta_of(owner)
    deleting = om.HasField("deletion_timestamp")
    out: list[Object] = []
    for obj in candidates:
        m = meta_of(obj)
        ref = controller_ref(m)
        matches = selector.matches(m.labels)
        if ref is not None and ref.uid == om.uid:
            if matches:
                out.append(obj)
            elif not deleting:
                await release(client, resource, obj, om.uid)
        elif (ref is None and matches and not deleting and not selector.empty
              and adoptable(obj)):
            adopted = await adopt(client, resource, obj, owner)
            if adopted is not None:
                out.append(adopted)
    return out


async def adopt(client: Client, resource: str, obj: Object, owner: Object) -> Object | None:
    """Make `owner` the controller of `obj` if it is still an orphan (None: it is not,
    or it changed meanwhile)."""
    m = meta_of(obj)
    try:
        cur = await client.get(resource, m.namespace, m.name)
        cm = meta_of(cur)
        if controller_ref(cm) is not None or cm.HasField("deletion_timestamp"):
            return None
        cm.owner_references.append(owner_ref_to(owner))
        return await client.update(cur)
    except (errors.NotFound, errors.Conflict):
        return None


async def release(client: Client, resource: str, obj: Object, owner_uid: str) -> None:
    """Remove the ownerReference to `owner_uid` from `obj`."""
    m = meta_of(obj)
    try:
        cur = await client.get(resource, m.namespace, m.name)
        cm = meta_of(cur)
        refs = [r for r in cm.owner_references if r.uid != owner_uid]
        if len(refs) == len(cm.owner_references):
            return
        del cm.owner_references[:]
        cm.owner_references.extend(refs)
        await client.update(cur)
    except (errors.NotFound, errors.Conflict):
        pass
