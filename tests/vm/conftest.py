"""The VM lane's tests run only when asked for: `make test-vm` (scripts/vm/lane.sh),
or CORRAL_VM_LANE=1 with root, QEMU and the lane's image. Everywhere else, including
the default `pytest tests` run, they are skipped.

One run of VMs serves every module (the session's ``lane``), in the order of
MODULES: the cluster comes up, workloads run on it, the runtime's own tests run
inside a guest, the workers become control-plane members too and cp's member is
killed and brought back, and last a worker is powered off (nothing after that may
need it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# the lane's driver lives in scripts/vm (not a package)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "vm"))

from vmlane import Lane, image_dir_default

from tests.vm.cluster import passed

MODULES = ("test_vm_cluster.py", "test_vm_workloads.py", "test_vm_runtime.py",
           "test_vm_ha.py", "test_vm_failover.py")


def lane_enabled() -> bool:
    return os.environ.get("CORRAL_VM_LANE") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent

    def rank(item: pytest.Item) -> int:
        name = Path(item.path).name
        return MODULES.index(name) if name in MODULES else len(MODULES)
    mine = [i for i in items if here in Path(i.path).resolve().parents]
    if mine:   # our items keep their place in the session; among them, MODULES' order
        slots = [n for n, i in enumerate(items) if i in mine]
        for slot, item in zip(slots, sorted(mine, key=rank), strict=True):
            items[slot] = item
    if lane_enabled():
        return
    skip = pytest.mark.skip(reason="VM lane: run with `make test-vm` (or CORRAL_VM_LANE=1)")
    for item in mine:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def lane() -> Iterator[Lane]:
    lane = Lane(image_dir_default())
    lane.up()
    passed.add("boot")
    try:
        yield lane
    finally:
        out = os.environ.get("CORRAL_VM_TIMINGS")
        if out:
            Path(out).write_text(json.dumps(lane.state.timings, indent=2) + "\n")
        t = time.monotonic()
        lane.down()
        print(f"\nvmlane timings (s): {lane.state.timings}, teardown {time.monotonic() - t:.1f}")
