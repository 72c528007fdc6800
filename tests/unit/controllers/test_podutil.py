from __future__ import annotations

import time

from controlplane.controllers import podutil
from controlplane.controllers.deployment import HASH_LABEL, template_hash, templates_equal
from proto import core_pb2


def pod(name, *, node="", phase="Pending", ready=None, ready_ago=100.0, restarts=0,
        created_ago=100.0):
    p = core_pb2.Pod()
    p.metadata.name = name
    now = time.time()
    p.metadata.creation_timestamp.FromNanoseconds(int((now - created_ago) * 1e9))
    p.spec.node_name = node
    p.status.phase = phase
    if ready is not None:
        c = p.status.conditions.add(type="Ready", status="True" if ready else "False")
        c.last_transition_time.FromNanoseconds(int((now - ready_ago) * 1e9))
    p.status.container_statuses.add(name="c", restart_count=restarts)
    return p


def test_surplus_deletion_order():
    pods = [
        pod("running-ready-old", node="n", phase="Running", ready=True, ready_ago=500),
        pod("running-ready-new", node="n", phase="Running", ready=True, ready_ago=5),
        pod("running-notready", node="n", phase="Running", ready=False),
        pod("pending-bound", node="n", phase="Pending"),
        pod("unscheduled", phase="Pending"),
        pod("unknown", node="n", phase="Unknown"),
    ]
    order = [p.metadata.name for p in podutil.pods_to_delete(pods, len(pods))]
    assert order == ["unscheduled", "pending-bound", "unknown", "running-notready",
                     "running-ready-new", "running-ready-old"]


def test_deletion_order_restarts_then_newest():
    a = pod("a", node="n", phase="Running", ready=True, ready_ago=10, restarts=0, created_ago=50)
    b = pod("b", node="n", phase="Running", ready=True, ready_ago=10, restarts=3, created_ago=50)
    c = pod("c", node="n", phase="Pending", created_ago=10)
    d = pod("d", node="n", phase="Pending", created_ago=90)
    assert [p.metadata.name for p in podutil.pods_to_delete([a, b], 2)] == ["b", "a"]
    assert [p.metadata.name for p in podutil.pods_to_delete([d, c], 1)] == ["c"]


def test_available_needs_min_ready_seconds():
    p = pod("a", node="n", phase="Running", ready=True, ready_ago=3)
    now = time.time()
    assert podutil.is_available(p, 0, now)
    assert podutil.is_available(p, 2, now)
    assert not podutil.is_available(p, 10, now)
    left = podutil.available_in(p, 10, now)
    assert left is not None and 6 < left <= 7.1


def test_expectations():
    e = podutil.Expectations()
    assert e.satisfied("rs")
    e.expect("rs", adds=2)
    assert not e.satisfied("rs")
    e.creation_observed("rs")
    assert not e.satisfied("rs")
    e.creation_observed("rs")
    assert e.satisfied("rs")
    e.expect("rs", dels=["ns/a", "ns/b"])
    e.deletion_observed("rs", "ns/a")
    e.deletion_observed("rs", "ns/a")  # counted once
    assert not e.satisfied("rs")
    e.deletion_observed("rs", "ns/b")
    assert e.satisfied("rs")


def test_expectations_expire():
    e = podutil.Expectations(ttl=-1.0)  # already expired when recorded
    e.expect("rs", adds=1)
    assert e.satisfied("rs")
    e2 = podutil.Expectations(ttl=3600)
    e2.expect("rs", adds=1)
    assert not e2.satisfied("rs")


def test_template_hash_ignores_hash_label_and_is_stable():
    t = core_pb2.PodTemplateSpec()
    t.metadata.labels["app"] = "web"
    t.spec.containers.add(name="c", image="nginx:1")
    h = template_hash(t)
    t2 = core_pb2.PodTemplateSpec()
    t2.CopyFrom(t)
    t2.metadata.labels[HASH_LABEL] = h
    assert template_hash(t2) == h
    assert templates_equal(t2, t)
    assert template_hash(t, 1) != h
    t2.spec.containers[0].image = "nginx:2"
    assert template_hash(t2) != h
    assert not templates_equal(t2, t)
