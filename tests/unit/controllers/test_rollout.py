from __future__ import annotations

import pytest

from controlplane.controllers import rollout
from controlplane.controllers.rollout import (
    new_rs_replicas,
    plan_old_scale_down,
    resolve_fenceposts,
    scaled_value,
)
from proto import meta_pb2


def ios(v):
    m = meta_pb2.IntOrString()
    if isinstance(v, int):
        m.int_val = v
    else:
        m.str_val = v
    return m


@pytest.mark.parametrize("v,total,up,want", [
    (3, 10, True, 3), ("3", 10, False, 3), ("25%", 10, True, 3), ("25%", 10, False, 2),
    ("25%", 4, True, 1), ("25%", 4, False, 1), ("10%", 5, True, 1), ("10%", 5, False, 0),
    ("100%", 7, False, 7), ("0%", 7, True, 0), (ios("50%"), 3, True, 2),
    (ios("50%"), 3, False, 1), (ios(2), 3, False, 2), (None, 8, True, 2),
])
def test_scaled_value(v, total, up, want):
    assert scaled_value(v, total, up) == want


def test_scaled_value_invalid():
    with pytest.raises(ValueError):
        scaled_value("abc%", 10, True)


def test_fenceposts():
    assert resolve_fenceposts(ios("25%"), ios("25%"), 10) == (3, 2)
    assert resolve_fenceposts(ios(1), ios(0), 3) == (1, 0)
    # both resolve to zero: maxUnavailable becomes 1
    assert resolve_fenceposts(ios("10%"), ios("10%"), 5) == (1, 0)
    assert resolve_fenceposts(ios(0), ios("10%"), 5) == (0, 1)
    assert resolve_fenceposts(None, None, 4) == (1, 1)


def test_new_rs_replicas():
    # 10 replicas, surge 3: all 10 old -> new may get 3
    assert new_rs_replicas(10, 3, 10, 0) == 3
    # total already at max: no growth
    assert new_rs_replicas(10, 3, 13, 3) == 3
    # never beyond desired
    assert new_rs_replicas(10, 3, 5, 8) == 10
    assert new_rs_replicas(3, 1, 3, 3) == 3


def test_old_scale_down_respects_availability():
    # 3 replicas, maxUnavailable 0: new has 1 (available), old 3 available
    assert plan_old_scale_down(3, 0, 1, 1, [(3, 3)]) == [2]
    # new pod not available yet: nothing may go
    assert plan_old_scale_down(3, 0, 1, 0, [(3, 3)]) == [3]
    # maxUnavailable 1 with nothing new available: one old pod may go
    assert plan_old_scale_down(4, 1, 1, 0, [(4, 4)]) == [3]
    # unhealthy old replicas go first, within maxScaledDown
    assert plan_old_scale_down(4, 1, 1, 0, [(2, 0), (3, 3)]) == [0, 3]
    # oldest RS is drained first
    assert plan_old_scale_down(4, 0, 2, 2, [(1, 1), (3, 3)]) == [0, 2]


def _simulate(desired, surge_v, unav_v, max_surge, max_unavailable):
    """Step a rollout with the controller's arithmetic: new pods become available
    one step after creation; deletions are immediate. The bounds each step are the
    documented ones, computed by hand (the parameters), not by the code under test:
    at most desired + maxSurge pods, at least desired - maxUnavailable available."""
    assert resolve_fenceposts(ios(surge_v), ios(unav_v), desired) == \
        (max_surge, max_unavailable)
    old_spec, old_avail = desired, desired
    new_spec, new_avail = 0, 0
    for step in range(200):
        total = new_spec + old_spec
        new_spec = new_rs_replicas(desired, max_surge, total, new_spec)
        assert new_spec + old_spec <= desired + max_surge
        (old_spec,) = plan_old_scale_down(desired, max_unavailable, new_spec, new_avail,
                                          [(old_spec, old_avail)])
        old_avail = min(old_avail, old_spec)
        assert old_avail + new_avail >= desired - max_unavailable
        assert new_spec + old_spec <= desired + max_surge
        if step == 0:
            # the docs: at once, the new ReplicaSet grows by maxSurge and the old one
            # shrinks to desired - maxUnavailable (no new pod is available yet)
            assert new_spec == min(max_surge, desired)
            assert old_spec == desired - max_unavailable
        new_avail = new_spec  # they all become available
        if new_spec == desired and old_spec == 0:
            return
    raise AssertionError("rollout did not finish")


# (desired, maxSurge, maxUnavailable) -> the counts Kubernetes documents: a percentage of
# desired, maxSurge rounded up, maxUnavailable rounded down; both 0 -> maxUnavailable 1
@pytest.mark.parametrize("desired,surge,unav,want_surge,want_unav", [
    (3, 1, 0, 1, 0),
    (3, 0, 1, 0, 1),
    (10, "25%", "25%", 3, 2),      # 2.5 up, 2.5 down (the docs' own example)
    (5, "10%", "10%", 1, 0),       # 0.5 up, 0.5 down
    (7, 2, 3, 2, 3),
    (1, 0, 1, 0, 1),
    (1, 1, 0, 1, 0),
    (20, "50%", 0, 10, 0),
    (3, "0%", "10%", 0, 1),        # 0 and 0.3 down: both 0, so one may be unavailable
    (10, "30%", "30%", 3, 3),      # the docs' 130% / 70%
])
def test_rolling_update_math_bounds(desired, surge, unav, want_surge, want_unav):
    _simulate(desired, surge, unav, want_surge, want_unav)


def test_deployment_fenceposts_recreate():
    from proto import apps_pb2
    d = apps_pb2.Deployment()
    d.spec.replicas = 4
    d.spec.strategy.type = "Recreate"
    assert rollout.deployment_fenceposts(d) == (0, 0)
    d.spec.strategy.type = "RollingUpdate"
    d.spec.strategy.rolling_update.max_unavailable.str_val = "100%"
    d.spec.strategy.rolling_update.max_surge.int_val = 0
    assert rollout.deployment_fenceposts(d) == (0, 4)
