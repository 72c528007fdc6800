"""Pure logic of the registry: deletion planning and filtered-watch translation."""

from __future__ import annotations

import pytest

from controlplane import errors
from controlplane.apiserver.deletion import plan_delete
from controlplane.apiserver.selection import Filter
from controlplane.store.watch import StoreEvent
from proto import api_pb2


def pod(node: str = "", grace: int | None = None, finalizers: tuple[str, ...] = (),
        **labels: str) -> api_pb2.Object:
    o = api_pb2.Object()
    o.pod.metadata.name, o.pod.metadata.namespace = "p", "default"
    o.pod.metadata.labels.update(labels)
    o.pod.metadata.finalizers.extend(finalizers)
    o.pod.spec.node_name = node
    if grace is not None:
        o.pod.spec.termination_grace_period_seconds = grace
    return o


def test_unscheduled_pod_is_removed_at_once() -> None:
    assert plan_delete(pod(), None, "Background")[0] == "remove"


def test_bound_pod_waits_for_its_agent() -> None:
    action, new = plan_delete(pod("n1", grace=12), None, "Background")
    assert action == "update"
    assert new.pod.metadata.HasField("deletion_timestamp")
    assert new.pod.metadata.deletion_grace_period_seconds == 12
    # requested grace wins; asking again with a longer one changes nothing
    action, new = plan_delete(pod("n1"), 5, "")
    assert new.pod.metadata.deletion_grace_period_seconds == 5
    assert plan_delete(new, 10, "")[0] == "noop"
    # the agent's confirmation
    assert plan_delete(new, 0, "")[0] == "remove"


def test_finalizers_and_propagation() -> None:
    action, new = plan_delete(pod(finalizers=("x",)), None, "Background")
    assert action == "update" and new.pod.metadata.HasField("deletion_timestamp")
    _, fg = plan_delete(pod(), None, "Foreground")
    assert list(fg.pod.metadata.finalizers) == ["foregroundDeletion"]
    _, orphan = plan_delete(pod(), None, "Orphan")
    assert list(orphan.pod.metadata.finalizers) == ["orphan"]
    # a bound pod with finalizers confirmed by its agent: grace 0, still waits
    action, new = plan_delete(pod("n1", finalizers=("x",)), 0, "")
    assert action == "update" and new.pod.metadata.deletion_grace_period_seconds == 0
    with pytest.raises(errors.BadRequest):
        plan_delete(pod(), None, "Sideways")
    with pytest.raises(errors.BadRequest):
        plan_delete(pod(), -1, "")


def ev(typ: str, obj: api_pb2.Object, prev: api_pb2.Object | None = None) -> StoreEvent:
    return StoreEvent(typ, obj, 7, "/corral/pods/default/p", prev)


def test_filtered_watch_translation() -> None:
    f = Filter("pods", "app=web")
    web, other = pod(app="web"), pod(app="db")
    assert f.translate(ev("ADDED", web)).type == "ADDED"  # type: ignore[union-attr]
    assert f.translate(ev("ADDED", other)) is None
    assert f.translate(ev("MODIFIED", web, other)).type == "ADDED"  # type: ignore[union-attr]
    gone = f.translate(ev("MODIFIED", other, web))
    assert gone is not None and gone.type == "DELETED"
    assert gone.object.pod.metadata.labels["app"] == "web"
    assert gone.resource_version == "7" == gone.object.pod.metadata.resource_version
    assert f.translate(ev("MODIFIED", web, web)).type == "MODIFIED"  # type: ignore[union-attr]
    assert f.translate(ev("DELETED", web, web)).type == "DELETED"  # type: ignore[union-attr]
    assert f.translate(ev("DELETED", other, other)) is None
    node = Filter("pods", field_selector="spec.nodeName=n1")
    assert node.translate(ev("MODIFIED", pod("n1"), pod())).type == "ADDED"  # type: ignore[union-attr]
    with pytest.raises(errors.BadRequest):
        Filter("pods", "a in (b")
    with pytest.raises(errors.BadRequest):
        Filter("nodes", field_selector="spec.nodeName=x")
