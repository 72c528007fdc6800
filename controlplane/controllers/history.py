"""ControllerRevisions: the template history of DaemonSets and StatefulSets (Kubernetes'
controller history), which `rollout history` lists and `rollout undo` goes back to.

A revision is named `<owner>-<hash of the template>`, owned by its DaemonSet or
StatefulSet, labelled `controller-revision-hash`, and numbered: the current template's
revision has the highest number. Going back to an old template (undo) renumbers its
revision instead of making a new one, as Deployments do with ReplicaSets. The hash is
the Deployment's (deploymentutil.template_hash), with the owner's collisionCount.

    current, revisions = await History(client, recorder).sync(owner, revisions, template,
                                                              collision_count)
    await history.cleanup(owner, revisions, current, in_use, limit)
"""

from __future__ import annotations

from controlplane import errors, events
from controlplane.client import Client
from controlplane.objects import copy_of, meta_of, owner_ref_to
from proto import api_pb2, apps_pb2, core_pb2

from .deploymentutil import template_hash

REVISION_HASH = "controller-revision-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def revision_data(template: core_pb2.PodTemplateSpec) -> apps_pb2.RevisionData:
    data = apps_pb2.RevisionData()
    data.spec.template.CopyFrom(template)
    data.spec.template.metadata.labels.pop(REVISION_HASH, None)
    return data


def hash_of(template: core_pb2.PodTemplateSpec, collision_count: int) -> str:
    return template_hash(revision_data(template).spec.template, collision_count)


def by_number(revisions: list[api_pb2.Object]) -> list[api_pb2.Object]:
    return sorted(revisions, key=lambda o: (o.controller_revision.revision,
                                            o.controller_revision.metadata.name))


class CollisionError(errors.Conflict):
    """A revision with the template's name holds another template: count a collision."""


class History:
    def __init__(self, client: Client, recorder: events.EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def sync(self, owner: api_pb2.Object, revisions: list[api_pb2.Object],
                   template: core_pb2.PodTemplateSpec, collision_count: int,
                   ) -> tuple[api_pb2.Object, list[api_pb2.Object]]:
        """The revision of `template` (made, or renumbered to be the latest) and all."""
        data = revision_data(template)
        ordered = by_number(revisions)
        top = ordered[-1].controller_revision.revision if ordered else 0
        same = [o for o in ordered if o.controller_revision.data == data]
        if same:
            cur = same[-1]
            if cur.controller_revision.revision < top:
                upd = copy_of(cur)
                upd.controller_revision.revision = top + 1
                cur = await self.client.update(upd)
                ordered = [cur if o.controller_revision.metadata.uid ==
                           cur.controller_revision.metadata.uid else o for o in ordered]
            return cur, ordered
        om = meta_of(owner)
        h = hash_of(template, collision_count)
        rev = apps_pb2.ControllerRevision(api_version="apps/v1", kind="ControllerRevision",
                                          revision=top + 1, data=data)
        rev.metadata.name = f"{om.name}-{h}"
        rev.metadata.namespace = om.namespace
        rev.metadata.labels.update(template.metadata.labels)
        rev.metadata.labels[REVISION_HASH] = h
        cause = om.annotations.get(CHANGE_CAUSE)
        if cause:
            rev.metadata.annotations[CHANGE_CAUSE] = cause
        rev.metadata.owner_references.append(owner_ref_to(owner))
        try:
            created = await self.client.create(api_pb2.Object(controller_revision=rev))
        except errors.AlreadyExists:
            live = await self.client.get("controllerrevisions", om.namespace, rev.metadata.name)
            if live.controller_revision.data != data:
                raise CollisionError(f"controllerrevision {rev.metadata.name} exists with "
                                     "another template: hash collision") from None
            upd = copy_of(live)
            upd.controller_revision.revision = top + 1
            created = await self.client.update(upd)
        return created, [*ordered, created]

    async def cleanup(self, revisions: list[api_pb2.Object], current: api_pb2.Object,
                      in_use: set[str], limit: int) -> None:
        """Delete the oldest revisions beyond `limit` that no pod uses (by name or hash)."""
        cur = current.controller_revision.metadata.name
        old = [o for o in by_number(revisions)
               if o.controller_revision.metadata.name != cur
               and o.controller_revision.metadata.name not in in_use
               and o.controller_revision.metadata.labels.get(REVISION_HASH) not in in_use]
        for o in old[:max(len(old) - limit, 0)]:
            m = o.controller_revision.metadata
            try:
                await self.client.delete("controllerrevisions", m.namespace, m.name,
                                         resource_version=m.resource_version)
            except (errors.NotFound, errors.Conflict):
                pass
