"""Node restriction: what a node may and may not do; admins may do everything."""

from __future__ import annotations

import pytest

from controlplane import errors
from controlplane.security.authn import Identity
from controlplane.security.authz import VERBS, authorize
from proto import api_pb2, core_pb2, kinds

ADMIN = Identity("admin", ("system:masters",))
CP = Identity("system:controlplane", ("system:masters",))
A = Identity("system:node:node-a", ("system:nodes",), "node-a")
B = Identity("system:node:node-b", ("system:nodes",), "node-b")
ALICE = Identity("alice", ("developers",))


def pod(name: str = "web", node: str = "node-a", ns: str = "default") -> api_pb2.Object:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.spec.node_name = name, ns, node
    return kinds.wrap(p)


def node(name: str, cidr: str = "", unschedulable: bool = False) -> api_pb2.Object:
    n = core_pb2.Node()
    n.metadata.name = name
    n.spec.pod_cidr = cidr
    n.spec.unschedulable = unschedulable
    return kinds.wrap(n)


def lease(name: str, ns: str = "corral-node-lease") -> api_pb2.Object:
    le = core_pb2.Lease()
    le.metadata.name, le.metadata.namespace = name, ns
    return kinds.wrap(le)


def event(reporter: str) -> api_pb2.Object:
    e = core_pb2.Event(reason="Unhealthy", reporting_instance=reporter)
    e.metadata.name, e.metadata.namespace = "x", "default"
    return kinds.wrap(e)


ALLOWED = [
    # pods bound to node-a
    (A, "get", "pods", "default", "web", dict(obj=pod())),
    (A, "list", "pods", "", "", dict(field_selector="spec.nodeName=node-a")),
    (A, "watch", "pods", "", "", dict(field_selector="status.phase=Running,spec.nodeName==node-a")),
    (A, "update_status", "pods", "default", "web", dict(obj=pod(), old=pod())),
    (A, "delete", "pods", "default", "web", dict(old=pod(), grace_period_seconds=0)),
    # nodes
    (A, "get", "nodes", "", "node-b", dict(obj=node("node-b"))),
    (A, "list", "nodes", "", "", {}),
    (A, "watch", "nodes", "", "", {}),
    (A, "create", "nodes", "", "node-a", dict(obj=node("node-a"))),
    (A, "update", "nodes", "", "node-a", dict(obj=node("node-a", "10.244.1.0/24"),
                                              old=node("node-a", "10.244.1.0/24"))),
    (A, "update_status", "nodes", "", "node-a", dict(obj=node("node-a"),
                                                     old=node("node-a"))),
    # its lease, events
    (A, "get", "leases", "corral-node-lease", "node-a", {}),
    (A, "create", "leases", "corral-node-lease", "node-a", dict(obj=lease("node-a"))),
    (A, "update", "leases", "corral-node-lease", "node-a", dict(obj=lease("node-a"))),
    (A, "create", "events", "default", "x", {}),
    (A, "get", "events", "default", "x", dict(obj=event("node-a"))),
    (A, "update", "events", "default", "x", dict(obj=event("node-a"), old=event("node-a"))),
    (A, "version", "", "", "", {}),
    (ALICE, "discovery", "", "", "", {}),
    # the node's service proxy and DNS read Services and their endpoints
    (A, "list", "services", "", "", {}),
    (A, "watch", "endpointslices", "", "", {}),
    (A, "get", "endpoints", "default", "web", {}),
]

DENIED = [
    # other nodes' pods
    (A, "get", "pods", "default", "web", dict(obj=pod(node="node-b")),
     'node "node-a" may not get pod "default/web": the pod is bound to node "node-b"'),
    (A, "get", "pods", "default", "web", dict(obj=pod(node="")), "not bound"),
    (A, "list", "pods", "", "", {}, "spec.nodeName=node-a"),
    (A, "list", "pods", "", "", dict(field_selector="spec.nodeName=node-b"), "only its own"),
    (A, "watch", "pods", "", "", dict(field_selector="spec.nodeName!=node-a"), "only its own"),
    (A, "watch", "pods", "", "", dict(field_selector="spec.nodeName=node-a-x"), "only its own"),
    (A, "update_status", "pods", "default", "web", dict(obj=pod(), old=pod(node="node-b")),
     "bound to node"),
    (A, "update_status", "pods", "default", "web", dict(obj=pod(node="node-b"), old=pod()),
     "move a pod"),
    (A, "delete", "pods", "default", "web", dict(old=pod(node="node-b"), grace_period_seconds=0),
     "bound to node"),
    (A, "delete", "pods", "default", "web", dict(old=pod(), grace_period_seconds=30),
     "grace period 0"),
    (A, "delete", "pods", "default", "web", dict(old=pod()), "grace period 0"),
    (A, "create", "pods", "default", "web", dict(obj=pod()), "may not create pod"),
    (A, "update", "pods", "default", "web", dict(obj=pod(), old=pod()), "may not update pod"),
    (A, "bind", "pods", "default", "web", {}, "may not bind"),
    # other nodes, itself
    (A, "update", "nodes", "", "node-b", dict(obj=node("node-b"), old=node("node-b")),
     'node "node-a" may not update node "node-b"'),
    (A, "update_status", "nodes", "", "node-b", dict(obj=node("node-b")),
     'node "node-a" may not update the status of node "node-b"'),
    (A, "create", "nodes", "", "node-b", dict(obj=node("node-b")),
     'node "node-a" may not create node "node-b"'),
    (A, "update", "nodes", "", "node-a", dict(obj=node("node-b")), 'may not update node "node-b"'),
    (A, "delete", "nodes", "", "node-a", {}, "not even itself"),
    (A, "delete", "nodes", "", "node-b", {}, 'may not delete node "node-b"'),
    (A, "create", "nodes", "", "node-a", dict(obj=node("node-a", "10.244.9.0/24")), "podCIDR"),
    (A, "update", "nodes", "", "node-a", dict(obj=node("node-a", "10.244.9.0/24"),
                                              old=node("node-a", "10.244.1.0/24")), "podCIDR"),
    (A, "update", "nodes", "", "node-a", dict(obj=node("node-a"),
                                              old=node("node-a", unschedulable=True)),
     "unschedulable"),
    # other leases, other kinds
    (A, "update", "leases", "corral-node-lease", "node-b", dict(obj=lease("node-b")), "own lease"),
    (A, "create", "leases", "default", "node-a", dict(obj=lease("node-a", "default")),
     "own lease"),
    (A, "delete", "leases", "corral-node-lease", "node-a", {}, "may not delete"),
    (A, "list", "leases", "corral-node-lease", "", {}, "may not list"),
    (A, "get", "deployments", "default", "web", {}, 'may not get deployment "default/web"'),
    (A, "create", "namespaces", "", "evil", {}, "may not create"),
    (A, "delete", "events", "default", "x", {}, "may not delete"),
    (A, "update", "endpointslices", "default", "web", {}, "may only read services"),
    (A, "create", "services", "default", "web", {}, "may only read services"),
    (A, "get", "events", "default", "x", dict(obj=event("node-b")), "events it reported"),
    (A, "get", "events", "default", "x", {}, "the event was not found"),
    (A, "update", "events", "default", "x", dict(obj=event("node-a"), old=event("node-b")),
     "events it reported"),
    (A, "update", "events", "default", "x", dict(obj=event("node-b"), old=event("node-a")),
     "events it reported"),
    (A, "list", "events", "default", "", {}, "may not list"),
    (A, "proxy", "pods", "default", "web", {}, "reach the agent"),
    (B, "get", "pods", "default", "web", dict(obj=pod()), 'node "node-b" may not get'),
    # neither admin nor node
    (ALICE, "get", "pods", "default", "web", dict(obj=pod()), 'user "alice" may not get'),
]


@pytest.mark.parametrize("ident,verb,resource,ns,name,kw", ALLOWED)
def test_allowed(ident: Identity, verb: str, resource: str, ns: str, name: str,
                 kw: dict[str, object]) -> None:
    authorize(ident, verb, resource, ns, name, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("ident,verb,resource,ns,name,kw,msg", DENIED)
def test_denied(ident: Identity, verb: str, resource: str, ns: str, name: str,
                kw: dict[str, object], msg: str) -> None:
    with pytest.raises(errors.Forbidden) as e:
        authorize(ident, verb, resource, ns, name, **kw)  # type: ignore[arg-type]
    assert msg in e.value.message
    assert e.value.code.name == "PERMISSION_DENIED"


@pytest.mark.parametrize("ident", [ADMIN, CP])
@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("resource", ["pods", "nodes", "leases", "deployments", "namespaces"])
def test_admins_may_do_anything(ident: Identity, verb: str, resource: str) -> None:
    authorize(ident, verb, resource, "default", "x", obj=pod(node="node-z"),
              old=pod(node="node-z"), grace_period_seconds=30)
    authorize(ident, "delete", "nodes", "", "node-a")


def test_unknown_verb_refused() -> None:
    with pytest.raises(errors.Forbidden):
        authorize(ADMIN, "escalate", "pods")


@pytest.mark.parametrize("resource", ["secrets", "configmaps"])
def test_nodes_read_the_config_of_their_pods_only(resource: str) -> None:
    used = frozenset({"node-a"})
    authorize(A, "get", resource, "default", "db", used_by_nodes=used)
    authorize(A, "watch", resource, "default", "", field_selector="metadata.name=db",
              used_by_nodes=used)
    authorize(ADMIN, "list", resource, "", "")
    with pytest.raises(errors.Forbidden, match='no pod bound to node "node-b" references it'):
        authorize(B, "get", resource, "default", "db", used_by_nodes=used)
    with pytest.raises(errors.Forbidden, match="references it"):
        authorize(A, "get", resource, "default", "db")          # nothing known: refused
    with pytest.raises(errors.Forbidden, match="by name"):
        authorize(A, "list", resource, "default", "", used_by_nodes=used)
    with pytest.raises(errors.Forbidden, match="by name"):
        authorize(A, "watch", resource, "default", "",
                  field_selector="metadata.name=db,metadata.namespace=default",
                  used_by_nodes=used)
    for verb in ("create", "update", "apply", "delete"):
        with pytest.raises(errors.Forbidden):
            authorize(A, verb, resource, "default", "db", used_by_nodes=used)
    with pytest.raises(errors.Forbidden, match="only admins"):
        authorize(A, "manage_encryption", "secrets")
