"""The VM lane's cluster: a 3-VM corral cluster on QEMU (TCG), provisioned with
vagrant/provision-*.sh, control plane on `cp`, agents on `worker-1` and
`worker-2`, all on pure cgroup v2.  The first steps of the lane (conftest.py
orders the modules; cluster.py has the shared helpers).  Timings of every
phase go to $CORRAL_VM_TIMINGS (JSON) when set.

Environment: CORRAL_VM_LANE=1 (else skipped, see conftest.py), CORRAL_VM_IMAGE
(the cache dir from scripts/vm/build-image.sh; built/reused when unset).
"""

from __future__ import annotations

import os
import time

import pytest
from vmlane import Lane, LaneError

from tests.vm.cluster import corral, passed, poll, ready_nodes, require, running

pytestmark = pytest.mark.timeout(2400)

NAME = "vmsmoke"
REPLICAS = 3
IMAGE = os.environ.get("CORRAL_TEST_IMAGE", "busybox:vm")
MEM_LIMIT = 48 * 1024 * 1024           # 48Mi
CPU_MAX = "25000 100000"               # 250m
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {NAME}
  namespace: default
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels:
      app: {NAME}
  template:
    metadata:
      labels:
        app: {NAME}
    spec:
      containers:
      - name: sleeper
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sleep", "3600"]
        resources:
          requests:
            cpu: 100m
            memory: 32Mi
          limits:
            cpu: 250m
            memory: 48Mi
"""


def running_by_node(lane: Lane) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for p in running(lane, f"app={NAME}"):
        by.setdefault(p["spec"].get("nodeName", ""), []).append(p["metadata"]["name"])
    return by


# -- the steps ----------------------------------------------------------------------------------


def test_boot_cgroup2(lane: Lane) -> None:
    """Every guest is up with pure cgroup v2 and the cpu, memory, io, pids controllers."""
    for v in lane.state.vms:
        fs = lane.run(v, "stat -fc %T /sys/fs/cgroup").stdout.strip()
        assert fs == "cgroup2fs", f"{v.name}: /sys/fs/cgroup is {fs}"
        ctrls = set(lane.run(v, "cat /sys/fs/cgroup/cgroup.controllers").stdout.split())
        assert {"cpu", "memory", "io", "pids"} <= ctrls, f"{v.name}: controllers {ctrls}"
        assert lane.run(v, "test ! -e /sys/fs/cgroup/unified && "
                           "! grep -q ' cgroup ' /proc/mounts", check=False).returncode == 0, \
            f"{v.name}: a cgroup v1 hierarchy is mounted"
    # the private network: the guests reach each other, and nothing else
    for v in lane.workers:
        lane.run(v, f"ping -c1 -W5 {lane.cp.ip}")
    assert lane.run(lane.cp, "ip route get 1.1.1.1", check=False).returncode != 0 or \
        lane.run(lane.cp, "ping -c1 -W2 1.1.1.1", check=False).returncode != 0
    passed.add("cgroup2")


def test_provision(lane: Lane) -> None:
    """vagrant/provision-common.sh, -controlplane.sh and -worker.sh, offline."""
    lane.provision(profile="demo")
    for v in lane.state.vms:
        lane.run(v, "/usr/local/bin/corral --help >/dev/null")
    passed.add("provision")


def test_controlplane_answers(lane: Lane) -> None:
    require("provision")
    t0 = time.monotonic()
    state = lane.run(lane.cp, "systemctl is-active corral-controlplane", check=False).stdout
    assert state.strip() in ("active", "activating"), state
    try:
        poll("the control plane to answer `corral get nodes`",
             lambda: corral(lane, "get nodes", timeout=60) is not None, 300, lane=lane,
             roles=("controlplane",))
    except LaneError as e:
        journal = lane.run(lane.cp, "journalctl -u corral-controlplane --no-pager -n 60",
                           check=False).stdout
        raise AssertionError(f"{e}\n--- journal ---\n{journal}") from e
    lane.timed("controlplane-ready", t0)
    passed.add("controlplane")


def test_workers_ready(lane: Lane) -> None:
    require("controlplane")
    t0 = time.monotonic()
    want = {v.name for v in lane.workers}
    try:
        poll(f"nodes {sorted(want)} Ready", lambda: want <= ready_nodes(lane), 300, lane=lane)
    except LaneError as e:
        logs = "\n".join(
            f"--- {v.name} ---\n" + lane.run(
                v, "journalctl -u corral-agent --no-pager -n 40", check=False).stdout
            for v in lane.workers)
        raise AssertionError(f"{e}\n{corral(lane, 'get nodes -o wide', check=False)}\n"
                             f"{logs}") from e
    lane.timed("workers-ready", t0)
    print(corral(lane, "get nodes -o wide"))
    passed.add("workers")


def test_deployment_running(lane: Lane) -> None:
    """A Deployment of busybox pods (image imported on the workers, no registry) runs."""
    require("workers")
    t0 = time.monotonic()
    for v in lane.workers:
        listed = lane.run(v, "ls /var/lib/corral/agent/images/images.json", check=False)
        assert listed.returncode == 0, f"{v.name}: no image store: {listed.stderr}"
    (lane.run_dir / "vmsmoke.yaml").write_text(DEPLOYMENT)
    corral(lane, f"apply -f {lane.run_dir / 'vmsmoke.yaml'}")

    def all_running() -> bool:
        return sum(len(v) for v in running_by_node(lane).values()) == REPLICAS
    try:
        poll(f"{REPLICAS} pods Running", all_running, 600, 5, lane=lane)
    except LaneError as e:
        raise AssertionError(
            f"{e}\n{corral(lane, 'get pods -o wide', check=False)}\n"
            f"{corral(lane, f'describe pods -l app={NAME}', check=False)}") from e
    lane.timed("deployment-running", t0)
    print(corral(lane, "get pods -o wide"))
    passed.add("running")


def test_deployment_spread_over_both_workers(lane: Lane) -> None:
    require("running")
    by = running_by_node(lane)
    assert {v.name for v in lane.workers} <= set(by), \
        f"the scheduler did not spread the {REPLICAS} pods of one owner: {by}"


def test_cgroup_v2_limits_of_pod_containers(lane: Lane) -> None:
    """memory.max and cpu.max of each pod container, read back on its worker."""
    require("running")
    by = running_by_node(lane)
    # container cgroups: memory.max is the limit and a process (the container's init) is in it
    # (cgroupfs files have size 0: read cgroup.procs, `test -s` is always false)
    find = (
        "for f in $(find /sys/fs/cgroup -name memory.max); do d=${f%/memory.max}; "
        f"if [ \"$(cat \"$f\")\" = {MEM_LIMIT} ] && [ -n \"$(cat \"$d/cgroup.procs\")\" ]; then "
        "echo \"$d|$(cat \"$d/cpu.max\")\"; fi; done")
    for v in lane.workers:
        want = len(by.get(v.name, []))
        rows = [r.split("|") for r in lane.run(v, find).stdout.splitlines() if r]
        assert len(rows) == want, \
            f"{v.name}: {want} pods but these cgroups have memory.max={MEM_LIMIT}: {rows}"
        for path, cpu_max in rows:
            assert cpu_max == CPU_MAX, f"{v.name}: {path}/cpu.max is {cpu_max!r}, want {CPU_MAX!r}"
        print(f"{v.name}: {want} containers with memory.max={MEM_LIMIT}, cpu.max={CPU_MAX}")
