from __future__ import annotations

from collections import Counter

from controlplane.scheduler.cache import Cache
from controlplane.scheduler.framework import Code, CycleState, normalize_scores
from controlplane.scheduler.placement import fit_error_message
from controlplane.scheduler.plugins import (
    least_allocated,
    node_name,
    node_ready,
    node_resources_fit,
    node_selector,
    node_unschedulable,
    pod_spread,
    taint_toleration,
)
from controlplane.scheduler.resources import pod_info
from proto import core_pb2

GI = 1024 ** 3


def make_node(name: str = "n1", cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              ready: str = "True", labels: dict[str, str] | None = None,
              unschedulable: bool = False,
              taints: list[tuple[str, str, str]] | None = None) -> core_pb2.Node:
    n = core_pb2.Node()
    n.metadata.name = name
    n.metadata.labels.update(labels or {})
    n.status.allocatable.update({"cpu": cpu, "memory": memory, "pods": pods})
    n.status.conditions.add(type="Ready", status=ready)
    n.spec.unschedulable = unschedulable
    for k, v, e in taints or []:
        n.spec.taints.add(key=k, value=v, effect=e)
    return n


def make_pod(name: str = "p", cpu: str = "", memory: str = "", uid: str = "",
             owner: str = "", node_selector: dict[str, str] | None = None,
             tolerations: list[dict[str, str]] | None = None,
             node_name_: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = "default"
    p.metadata.uid = uid or f"uid-{name}"
    c = p.spec.containers.add(name="c", image="x")
    if cpu:
        c.resources.requests["cpu"] = cpu
    if memory:
        c.resources.requests["memory"] = memory
    if owner:
        p.metadata.owner_references.add(kind="ReplicaSet", name="rs", uid=owner, controller=True)
    if node_selector:
        p.spec.node_selector.update(node_selector)
    for t in tolerations or []:
        p.spec.tolerations.add(**t)
    p.spec.node_name = node_name_
    return p


def info(node, *bound):
    cache = Cache()
    cache.set_node(node)
    for b in bound:
        b.spec.node_name = node.metadata.name
        cache.set_pod(b)
    return cache.nodes[node.metadata.name]


S = CycleState()


def test_node_unschedulable():
    pl = node_unschedulable.factory(None)
    assert pl.filter(S, pod_info(make_pod()), info(make_node())).ok
    st = pl.filter(S, pod_info(make_pod()), info(make_node(unschedulable=True)))
    assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("node(s) were unschedulable",)
    tol = make_pod(tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                 "operator": "Exists", "effect": "NoSchedule"}])
    assert pl.filter(S, pod_info(tol), info(make_node(unschedulable=True))).ok
    # Kubernetes' rule: the toleration must tolerate unschedulable:NoSchedule
    tolerate_all = make_pod(tolerations=[{"operator": "Exists"}])
    assert pl.filter(S, pod_info(tolerate_all), info(make_node(unschedulable=True))).ok
    other_effect = make_pod(tolerations=[{"operator": "Exists", "effect": "NoExecute"}])
    assert not pl.filter(S, pod_info(other_effect), info(make_node(unschedulable=True))).ok


def test_node_ready():
    pl = node_ready.factory(None)
    assert pl.filter(S, pod_info(make_pod()), info(make_node())).ok
    for status in ("False", "Unknown"):
        st = pl.filter(S, pod_info(make_pod()), info(make_node(ready=status)))
        assert not st.ok and st.reasons == ("node(s) were not ready",)


def test_node_resources_fit():
    pl = node_resources_fit.factory(None)
    node = make_node(cpu="2", memory="4Gi", pods="3")
    assert pl.filter(S, pod_info(make_pod(cpu="1", memory="1Gi")), info(node)).ok
    ni = info(node, make_pod("a", cpu="1500m", memory="3Gi"))
    st = pl.filter(S, pod_info(make_pod(cpu="600m", memory="1Gi")), ni)
    assert st.code == Code.UNSCHEDULABLE and st.reasons == ("Insufficient cpu",)
    st = pl.filter(S, pod_info(make_pod(cpu="100m", memory="1025Mi")), ni)
    assert st.reasons == ("Insufficient memory",)
    # exactly full fits
    assert pl.filter(S, pod_info(make_pod(cpu="500m", memory="1Gi")), ni).ok
    full = info(make_node(pods="2"), make_pod("a"), make_pod("b"))
    assert pl.filter(S, pod_info(make_pod()), full).reasons == ("Too many pods",)


def test_node_resources_fit_ignores_finished_pods():
    done = make_pod("a", cpu="2")
    done.status.phase = "Succeeded"
    ni = info(make_node(cpu="2"), done)
    assert node_resources_fit.factory(None).filter(S, pod_info(make_pod(cpu="2")), ni).ok


def test_node_name():
    pl = node_name.factory(None)
    assert pl.filter(S, pod_info(make_pod()), info(make_node("n1"))).ok
    p = pod_info(make_pod(node_name_="n2"))
    assert pl.filter(S, p, info(make_node("n2"))).ok
    assert pl.filter(S, p, info(make_node("n1"))).reasons == (
        "node(s) didn't match the requested node name",)


def test_node_selector():
    pl = node_selector.factory(None)
    p = pod_info(make_pod(node_selector={"disk": "ssd"}))
    assert pl.filter(S, p, info(make_node(labels={"disk": "ssd", "x": "y"}))).ok
    st = pl.filter(S, p, info(make_node(labels={"disk": "hdd"})))
    assert st.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    assert not pl.filter(S, p, info(make_node())).ok


def test_taint_toleration():
    pl = taint_toleration.factory(None)
    node = make_node(taints=[("dedicated", "gpu", "NoSchedule")])
    st = pl.filter(S, pod_info(make_pod()), info(node))
    assert st.reasons == ("node(s) had untolerated taint {dedicated: gpu}",)
    eq = make_pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                "effect": "NoSchedule"}])
    assert pl.filter(S, pod_info(eq), info(node)).ok
    wrong = make_pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "cpu"}])
    assert not pl.filter(S, pod_info(wrong), info(node)).ok
    exists_all = make_pod(tolerations=[{"operator": "Exists"}])
    assert pl.filter(S, pod_info(exists_all), info(node)).ok
    # NoExecute is filtered too; PreferNoSchedule is not
    ne = make_node(taints=[("node.kubernetes.io/unreachable", "", "NoExecute")])
    assert not pl.filter(S, pod_info(make_pod()), info(ne)).ok
    pref = make_node(taints=[("soft", "x", "PreferNoSchedule")])
    assert pl.filter(S, pod_info(make_pod()), info(pref)).ok
    only_noexec = make_pod(tolerations=[{"key": "dedicated", "operator": "Exists",
                                         "effect": "NoExecute"}])
    assert not pl.filter(S, pod_info(only_noexec), info(node)).ok


def test_least_allocated():
    pl = least_allocated.factory(None)
    empty = info(make_node("a", cpu="4", memory="8Gi"))
    busy = info(make_node("b", cpu="4", memory="8Gi"), make_pod("x", cpu="2", memory="4Gi"))
    p = pod_info(make_pod(cpu="1", memory="2Gi"))
    s_empty, st = pl.score(S, p, empty)
    s_busy, _ = pl.score(S, p, busy)
    assert st.ok
    assert s_empty == 75  # (4-1)/4 and (8-2)/8 free
    assert s_busy == 25
    # no requests: Kubernetes' non-zero defaults (100m, 200Mi) count
    s0, _ = pl.score(S, pod_info(make_pod()), empty)
    assert 0 < s0 < 100


def test_pod_spread():
    pl = pod_spread.factory(None)
    a = info(make_node("a"), make_pod("x1", owner="rs1"), make_pod("x2", owner="rs1"))
    b = info(make_node("b"), make_pod("y1", owner="rs1"))
    c = info(make_node("c"), make_pod("z1", owner="other"))
    p = pod_info(make_pod(owner="rs1"))
    raw = [pl.score(S, p, n)[0] for n in (a, b, c)]
    assert raw == [2, 1, 0]
    assert pl.normalize(raw) == [0, 50, 100]
    # an ownerless pod scores all nodes equally
    raw = [pl.score(S, pod_info(make_pod()), n)[0] for n in (a, b, c)]
    assert pl.normalize(raw) == [100, 100, 100]


def test_normalize_scores():
    assert normalize_scores([1, 2, 4]) == [25, 50, 100]
    assert normalize_scores([0, 0]) == [0, 0]
    assert normalize_scores([0, 0], reverse=True) == [100, 100]
    assert normalize_scores([]) == []


def test_unschedulable_message():
    msg = fit_error_message(3, Counter({"Insufficient memory": 2,
                                       "node(s) didn't match Pod's node affinity/selector": 1}))
    assert msg == ("0/3 nodes are available: 2 Insufficient memory, "
                   "1 node(s) didn't match Pod's node affinity/selector.")
    assert fit_error_message(0, Counter()).startswith("0/0 nodes are available")
