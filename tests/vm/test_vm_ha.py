"""The VM lane's highly available control plane, without more VMs: worker-1 and
worker-2 join cp's cluster as stacked control-plane members (each its own etcd
member and control plane beside its agent), as `vagrant/provision-controlplane.sh`
joins cp-2, cp-3 (docs/operations.md, "Adding a member"); the agents then name
every member. The fault: cp's control plane and etcd member are SIGKILLed and kept
down; with the workers' two members the API still reads and writes, a new
Deployment's pods are scheduled and Running, the nodes are Ready (their agents
renew through the other members). cp comes back
and the three members are healthy again, so test_vm_failover.py can power off a
worker that is a member too (2 of 3 left)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from vmlane import Lane, LaneError, Vm

from tests.vm import cluster
from tests.vm.cluster import corral, journal, passed, poll, ready_nodes, require, running
from tests.vm.test_vm_cluster import IMAGE, NAME, REPLICAS, running_by_node

pytestmark = pytest.mark.timeout(2400)

UNIT = "corral-controlplane"
HOLD = f"/run/systemd/system/{UNIT}.service.d/50-vm-lane-hold.conf"
HA_APP = "vmha"
FAILOVER_BLIP = 15.0    # s: longest NotReady stretch of a node tolerated while cp is down
SETTLE = 60.0           # s: for a blip, or a missed health probe, to end before going on
HA_REPLICAS = 2
HA_DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {HA_APP}
  namespace: default
spec:
  replicas: {HA_REPLICAS}
  selector:
    matchLabels:
      app: {HA_APP}
  template:
    metadata:
      labels:
        app: {HA_APP}
    spec:
      containers:
      - name: sleeper
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sleep", "3600"]
        resources:
          limits:
            cpu: 100m
            memory: 16Mi
"""


def servers(lane: Lane) -> list[str]:
    return [f"{v.ip}:6445" for v in lane.state.vms]


def members(lane: Lane, server: str = "") -> dict[str, dict[str, Any]]:
    """`corral controlplane ls -o json` by member name."""
    flag = f"--server {server} " if server else ""
    data = json.loads(corral(lane, f"{flag}controlplane ls -o json", timeout=60))
    return {m.get("name", ""): m for m in data.get("items", [])}


def voters_healthy(lane: Lane, names: set[str]) -> bool:
    """Every one of ``names`` a healthy voting etcd member that published its API address
    (a member's control plane does so once it serves, a moment after its etcd joined)."""
    ms = members(lane)
    return names <= set(ms) and all(
        ms[n].get("healthy") and not ms[n].get("learner") and ms[n].get("apiAddress")
        for n in names)


def member_diag(lane: Lane, vms: list[Vm]) -> str:
    return "\n".join([corral(lane, "controlplane ls -o wide", check=False)] +
                     [journal(lane, v.name, UNIT, 30) for v in vms])


def test_workers_join_as_controlplane_members(lane: Lane) -> None:
    """worker-1, then worker-2, join as members with a join-controlplane token; etcd has
    three started voting members and every member's API answers; the agents are then
    pointed at all three (one at a time) and the Deployment is whole again."""
    require("running")
    t0 = time.monotonic()
    first = corral(lane, "token create --control-plane").splitlines()[0].strip()
    everyone = servers(lane)
    joined = {lane.cp.name}
    for v in lane.workers:
        lane.join_controlplane(v, first, everyone)
        joined.add(v.name)
        try:
            poll(f"{sorted(joined)} healthy voting etcd members, serving",
                 lambda: voters_healthy(lane, joined), 600, 5, lane=lane)
        except LaneError as e:
            raise AssertionError(f"{e}\n{member_diag(lane, [lane.cp, v])}") from e
    lane.timed("ha-join", t0)
    ms = members(lane)
    assert set(ms) == joined == {v.name for v in lane.state.vms}, ms
    assert {m.get("apiAddress") for m in ms.values()} == set(everyone), ms
    # every member's API, asked alone, answers (its certificate names its address)
    for server in everyone:
        listed = members(lane, server)
        assert set(listed) == joined, (server, listed)
        nodes = corral(lane, f"--server {server} get nodes -o name", timeout=60)
        assert all(v.name in nodes for v in lane.workers), (server, nodes)
    for v in lane.workers:
        print(f"{v.name} with agent, control plane and etcd member:\n"
              + lane.run(v, "free -m").stdout)

    # "Adding a member" step 4: the agents name every member, restarted one at a time
    t1 = time.monotonic()
    for v in lane.workers:
        lane.set_agent_servers(v, everyone)
        unit = lane.run(v, "systemctl show -p ExecStart --value corral-agent").stdout
        assert f"--server {','.join(everyone)} " in unit, unit
        def back(v: Vm = v) -> bool:
            # the new agent's own /readyz (its node lease renewed), then the Node Ready
            ok = lane.run(v, "busybox wget -q -O- http://127.0.0.1:10255/readyz",
                          check=False).returncode == 0
            return ok and v.name in ready_nodes(lane)
        try:
            poll(f"{v.name} Ready with its new server list", back, 300, 3, lane=lane)
        except LaneError as e:
            raise AssertionError(f"{e}\n{journal(lane, v.name, 'corral-agent')}") from e
    cluster.api_servers[:] = everyone      # the host's CLI too, as `server: a,b,c`
    poll(f"{REPLICAS} pods of {NAME} Running again",
         lambda: sum(len(p) for p in running_by_node(lane).values()) == REPLICAS, 600, 5,
         lane=lane)
    lane.timed("ha-agents", t1)
    print(corral(lane, "controlplane ls -o wide"))
    passed.add("ha-members")


def hold_down(lane: Lane) -> None:
    """SIGKILL every process of cp's control-plane unit (its etcd member is one of them),
    with a runtime drop-in keeping systemd from restarting it meanwhile."""
    lane.run(lane.cp, f"mkdir -p $(dirname {HOLD}) && printf '[Service]\\nRestart=no\\n' > "
                      f"{HOLD} && systemctl daemon-reload && "
                      f"systemctl kill --kill-whom=all -s KILL {UNIT}")

    def dead() -> bool:
        st = lane.run(lane.cp, f"systemctl is-active {UNIT}", check=False).stdout.strip()
        ports = lane.run(lane.cp, "ss -Htln '( sport = :2379 or sport = :2380 or "
                                  "sport = :6445 )'", check=False).stdout.strip()
        return st in ("failed", "inactive") and not ports
    poll(f"cp's {UNIT} and etcd member dead", dead, 60, 1)


def bring_back(lane: Lane) -> None:
    lane.run(lane.cp, f"rm -f {HOLD} && systemctl daemon-reload && "
                      f"systemctl reset-failed {UNIT}; systemctl start {UNIT}", check=False)


def test_lose_cp_member_keep_serving(lane: Lane) -> None:
    """cp's control plane and etcd member SIGKILLed and kept down: through the CLI's
    server list the API reads and writes, a new Deployment's pods are scheduled and
    Running, both nodes stay Ready (their agents renew through the other members);
    cp returns and all three members are healthy again."""
    require("ha-members")
    workers = {v.name for v in lane.workers}
    # both Ready before the fault. A snapshot is not enough: under TCG a renewal can take
    # longer than the demo profile's 2 s grace (the same blip tolerated below), so wait
    # for it to end; a node that stays NotReady fails here, with its agent's journal
    t_ready = time.monotonic()
    try:
        poll("both nodes Ready before the fault", lambda: workers <= ready_nodes(lane),
             SETTLE, 1)
    except LaneError as e:
        agents = "\n".join(journal(lane, v.name, "corral-agent") for v in lane.workers)
        raise AssertionError(f"{e}\n{corral(lane, 'get nodes', check=False)}\n{agents}") from e
    print(f"both nodes Ready before the fault after {time.monotonic() - t_ready:.1f} s")
    before = {p["metadata"]["uid"] for p in running(lane, f"app={NAME}")}
    # NotReady stretches seen while cp is down: (node, from s after the kill, seconds)
    down_since: dict[str, float] = {}
    stretches: list[tuple[str, float, float]] = []

    def sample() -> set[str]:
        now, ready = time.monotonic(), ready_nodes(lane)
        for n in workers:
            if n not in ready:
                down_since.setdefault(n, now)
            elif n in down_since:
                since = down_since.pop(n)
                stretches.append((n, round(since - killed, 1), round(now - since, 1)))
        return ready

    t0 = time.monotonic()
    hold_down(lane)
    killed = time.monotonic()
    try:
        def reads() -> bool:
            sample()
            return lane.cp.name in members(lane)
        poll("a read through the surviving members", reads, 120, 1)
        lane.timed("ha-first-read", killed)
        # health is a probe of each member with a 1.5 s deadline; under TCG load one
        # probe of a live member can miss it, so wait for a round where both answer
        last: dict[str, dict[str, Any]] = {}     # the latest `controlplane ls`

        def survivors_healthy() -> bool:
            sample()
            last.update(members(lane))
            return all(last[v.name].get("healthy") for v in lane.workers)
        try:
            poll("both surviving members healthy", survivors_healthy, SETTLE, 2)
        except LaneError as e:
            raise AssertionError(f"{e}\n{last}\n{member_diag(lane, lane.workers)}") from e
        assert not last[lane.cp.name].get("healthy"), last[lane.cp.name]

        (lane.run_dir / "vmha.yaml").write_text(HA_DEPLOYMENT)
        corral(lane, f"apply -f {lane.run_dir / 'vmha.yaml'}")   # a write
        lane.timed("ha-first-write", killed)

        def scheduled() -> bool:
            sample()
            return len(running(lane, f"app={HA_APP}")) == HA_REPLICAS
        try:
            poll(f"{HA_REPLICAS} pods of the new Deployment Running without cp", scheduled,
                 300, 3)
        except LaneError as e:
            raise AssertionError(
                f"{e}\n{corral(lane, 'get pods -o wide', check=False)}\n"
                f"{member_diag(lane, lane.workers)}") from e
        lane.timed("ha-pods-running", killed)
        leader = members(lane)
        assert not leader[lane.cp.name].get("loopsLeader"), leader
        # Ready long after the node grace ran out since cp died: the agents renew their
        # leases through the other members. A blip under TCG load (a renewal that took
        # longer than the demo profile's 2 s grace) ends within seconds; an agent stuck
        # on the dead member would stay NotReady.
        try:
            poll("both nodes Ready without cp", lambda: workers <= sample(), 30, 2)
        except LaneError as e:
            agents = "\n".join(journal(lane, v.name, "corral-agent") for v in lane.workers)
            raise AssertionError(f"{e}\nNotReady stretches {stretches}, still down since "
                                 f"{down_since}\n{agents}") from e
        print(f"NotReady stretches while cp was down (node, s after the kill, s): "
              f"{stretches or 'none'}")
        assert all(secs < FAILOVER_BLIP for _, _, secs in stretches), stretches
        kept = {p["metadata"]["uid"] for p in running(lane, f"app={NAME}")}
        print(f"{NAME}: {len(before & kept)} of {len(before)} pods kept across the loss of cp")
    finally:
        bring_back(lane)
    t1 = time.monotonic()
    try:
        poll("cp's member back: three healthy voting members",
             lambda: voters_healthy(lane, {v.name for v in lane.state.vms}), 600, 5)
    except LaneError as e:
        raise AssertionError(f"{e}\n{member_diag(lane, [lane.cp])}") from e
    lane.timed("ha-cp-back", t1)
    lane.timed("ha-fault", t0)
    corral(lane, f"delete deployment {HA_APP}", check=False)
    print(corral(lane, "controlplane ls -o wide"))
    passed.add("ha-fault")
