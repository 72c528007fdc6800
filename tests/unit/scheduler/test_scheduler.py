"""The scheduling cycle against a constructed cache (no registry, no etcd)."""

from __future__ import annotations

import asyncio

from controlplane.scheduler.queue import SchedulingQueue
from controlplane.scheduler.resources import pod_info
from controlplane.scheduler.scheduler import Scheduler
from tests.unit.scheduler.test_plugins import make_node, make_pod


class _Inf:
    def add_handler(self, h):
        pass

    def add_indexer(self, n, f):
        pass


class _Factory:
    def informer(self, resource, namespace=""):
        return _Inf()


def scheduler_with(nodes):
    s = Scheduler(client=None, factory=_Factory())  # type: ignore[arg-type]
    for n in nodes:
        s.cache.set_node(n)
    return s


def test_find_node_reasons_per_node():
    s = scheduler_with([
        make_node("a", memory="1Gi", labels={"zone": "y"}),
        make_node("b", memory="1Gi", labels={"zone": "y"}),
        make_node("c", memory="64Gi", labels={"zone": "x"})])
    p = pod_info(make_pod(memory="2Gi", node_selector={"zone": "y"}))
    node, _, _, reasons, _ = s.find_node(p)
    assert node is None
    # c fails the selector first; a and b fail on memory
    assert reasons == {"Insufficient memory": 2,
                       "node(s) didn't match Pod's node affinity/selector": 1}


def test_assume_prevents_overcommit():
    s = scheduler_with([make_node(f"n{i}", cpu="1", memory="1Gi") for i in range(3)])
    placed: dict[str, int] = {}
    for i in range(40):
        pi = pod_info(make_pod(f"p{i}", cpu="100m", memory="100Mi"))
        node = s.find_node(pi).node
        if node is None:
            continue
        s.cache.assume(pi, node)
        placed[node] = placed.get(node, 0) + 1
    # cpu allows 10 per node, memory 10 (1024/100): 30 in all, never more per node
    assert sum(placed.values()) == 30
    assert all(v == 10 for v in placed.values())
    for ni in s.cache.nodes.values():
        assert ni.requested.milli_cpu <= ni.allocatable.milli_cpu
        assert ni.requested.memory <= ni.allocatable.memory


def test_forget_frees_resources():
    s = scheduler_with([make_node("a", cpu="1")])
    pi = pod_info(make_pod("p", cpu="1"))
    s.cache.assume(pi, "a")
    assert s.find_node(pod_info(make_pod("q", cpu="1")))[0] is None
    s.cache.forget(pi.uid)
    assert s.find_node(pod_info(make_pod("q", cpu="1")))[0] == "a"


def test_spread_prefers_empty_node():
    s = scheduler_with([make_node("a"), make_node("b")])
    first = pod_info(make_pod("p1", owner="rs"))
    n1 = s.find_node(first)[0]
    s.cache.assume(first, n1)
    n2 = s.find_node(pod_info(make_pod("p2", owner="rs")))[0]
    assert {n1, n2} == {"a", "b"}


def test_ready_node_only_and_taints():
    s = scheduler_with([make_node("a", ready="Unknown"), make_node("d", unschedulable=True),
                        make_node("b", taints=[("node.kubernetes.io/unreachable", "",
                                                "NoSchedule")]),
                        make_node("c")])
    assert s.find_node(pod_info(make_pod()))[0] == "c"
    assert s.cache.nodes["c"].clean and not s.cache.nodes["d"].clean
    # the node turns NotReady: the fast path must not keep treating it as clean
    s.cache.set_node(make_node("c", ready="False"))
    node, _, _, reasons, _ = s.find_node(pod_info(make_pod()))
    assert node is None and reasons["node(s) were not ready"] == 2


def test_queue_backoff_and_move():
    async def main():
        q = SchedulingQueue(backoff_initial=0.05, backoff_max=0.2, flush_after=100)
        q.add("a")
        q.add("a")
        assert await q.pop() == "a"
        assert len(q) == 0
        q.add_unschedulable("a")
        assert q.unschedulable == ["a"]
        q.move_all_to_active_or_backoff()
        assert q.unschedulable == []
        t = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(q.pop(), 2) == "a"
        assert asyncio.get_running_loop().time() - t >= 0.04  # waited out its back-off
        q.delete("a")
        q.add("b", priority=0)
        q.add("c", priority=10)
        assert await q.pop() == "c"
        assert await q.pop() == "b"

    asyncio.run(main())


def test_large_clusters_search_part_of_the_nodes_in_turn():
    """kube-scheduler's adaptive percentageOfNodesToScore: 1000 nodes -> 42% (420)
    searched per pod, the next pod's search starting where the last stopped; a pod
    that fits nowhere is still checked against every node."""
    from controlplane.scheduler.placement import nodes_to_find

    assert [nodes_to_find(n) for n in (3, 99, 100, 200, 1000, 5000, 20000)] == \
        [3, 99, 100, 100, 420, 500, 1000]
    s = scheduler_with([make_node(f"n{i:04d}") for i in range(1000)])
    first = s.find_node(pod_info(make_pod("p1")))
    second = s.find_node(pod_info(make_pod("p2")))
    assert first.searched == second.searched == 420
    assert int(first.node[1:]) < 420 <= int(second.node[1:]) < 840
    none = s.find_node(pod_info(make_pod("big", cpu="64")))
    assert none.node is None and none.searched == 1000
    assert sum(none.reasons.values()) == 1000
