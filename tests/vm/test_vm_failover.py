"""The VM lane's last step: a worker is powered off and its pods come back on the
other one.  Last because nothing after it may need that worker."""

from __future__ import annotations

import time

import pytest
from vmlane import Lane, LaneError

from tests.vm.cluster import corral, poll, ready_nodes, require
from tests.vm.test_vm_cluster import REPLICAS, running_by_node

pytestmark = pytest.mark.timeout(2400)


def test_lost_worker_pods_rescheduled(lane: Lane) -> None:
    """Power off the worker with the most pods (SIGKILL its qemu): they come back on the other."""
    require("running")
    by = running_by_node(lane)
    victim = max(lane.workers, key=lambda v: len(by.get(v.name, [])))
    survivor = next(v for v in lane.workers if v is not victim)
    lost = by.get(victim.name, [])
    t0 = time.monotonic()
    lane.kill(victim)

    def moved() -> bool:
        now = running_by_node(lane)
        return set(now) == {survivor.name} and len(now[survivor.name]) == REPLICAS
    try:
        poll(f"pods {lost} of {victim.name} rescheduled to {survivor.name}", moved, 600, 5,
             lane=lane)
    except LaneError as e:
        raise AssertionError(f"{e}\n{corral(lane, 'get nodes', check=False)}\n"
                             f"{corral(lane, 'get pods -o wide', check=False)}") from e
    lane.timed("reschedule", t0)
    assert victim.name not in ready_nodes(lane), f"{victim.name} is still Ready"
    print(corral(lane, "get nodes"))
    print(corral(lane, "get pods -o wide"))
