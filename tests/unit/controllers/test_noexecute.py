"""NoExecute taints and tolerations: when a pod is evicted (Kubernetes' taint manager)."""

from __future__ import annotations

from controlplane.controllers.noexecute import UNREACHABLE, due, eviction_time, taint_id
from proto import core_pb2

UNREACH = core_pb2.Taint(key=UNREACHABLE, effect="NoExecute")
USER = core_pb2.Taint(key="dedicated", value="db", effect="NoExecute")
NOSCHED = core_pb2.Taint(key="dedicated", value="db", effect="NoSchedule")


def pod(name: str, *tolerations: dict) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name = name
    for t in tolerations:
        p.spec.tolerations.add(**t)
    return p


def added(*taints: core_pb2.Taint, at: float = 100.0) -> dict:
    return {taint_id(t): at for t in taints}


def test_untolerated_unreachable_waits_the_default_eviction_timeout():
    assert eviction_time(pod("a"), [UNREACH], added(UNREACH), 300.0) == 400.0


def test_toleration_seconds_replace_the_default():
    p = pod("a", {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                  "toleration_seconds": 7})
    assert eviction_time(p, [UNREACH], added(UNREACH), 300.0) == 107.0


def test_toleration_without_seconds_tolerates_forever():
    p = pod("a", {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"})
    assert eviction_time(p, [UNREACH], added(UNREACH), 300.0) is None
    wildcard = pod("b", {"operator": "Exists"})
    assert eviction_time(wildcard, [UNREACH, USER], added(UNREACH, USER), 300.0) is None


def test_untolerated_user_taint_evicts_at_once_and_noschedule_never_evicts():
    assert eviction_time(pod("a"), [USER], added(USER), 300.0) == 100.0
    assert eviction_time(pod("a"), [NOSCHED], added(NOSCHED), 300.0) is None


def test_non_positive_seconds_mean_at_once_and_the_earliest_taint_wins():
    p = pod("a", {"key": "dedicated", "operator": "Equal", "value": "db",
                  "effect": "NoExecute", "toleration_seconds": -5},
            {"key": UNREACHABLE, "operator": "Exists", "toleration_seconds": 50})
    seen = {taint_id(UNREACH): 10.0, taint_id(USER): 20.0}
    assert eviction_time(p, [UNREACH, USER], seen, 300.0) == 20.0


def test_due_splits_victims_from_later_ones():
    now_gone = pod("now")
    later = pod("later", {"key": UNREACHABLE, "operator": "Exists", "toleration_seconds": 30})
    never = pod("never", {"key": UNREACHABLE, "operator": "Exists"})
    victims, next_at = due([now_gone, later, never], [UNREACH], added(UNREACH), 5.0, 110.0)
    assert [v.metadata.name for v in victims] == ["now"]
    assert next_at == 130.0
