"""ha: a 3-member control plane (``localcluster/cpmembers.py``: three
``python -m controlplane`` on loopback, one etcd cluster) losing a member.

- loops leader killed: SIGKILL the member holding the leader lease (its etcd dies with
  it) and at once create a Deployment through the balanced client; the clock runs
  until its ReplicaSet exists, the new leader's first action (the Deployment
  controller on another member).
- etcd leader killed: SIGKILL only the etcd raft leader's process (its control plane
  restarts it); the clock runs until the first write that etcd acknowledged after
  the kill (a writer creating a Lease every 50 ms through the balanced client).
- during each: 10 clients (own channels, balanced over every member, as `corral` and
  the agents are) doing a Get and a Create in turn; the API error rate is the share of
  their calls that failed, from the kill until the measurement ended.

demo and default profiles (the default profile's leader lease is longer, so its
loops take longer to move; etcd's own election does not depend on the profile);
``--quick``: demo only.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.common import BenchResult

if TYPE_CHECKING:        # corral's own code is imported inside the functions (bench rule)
    from localcluster.cpmembers import MemberCluster
    from proto import api_pb2, api_pb2_grpc, membership_pb2

NAME = "ha"
CLIENTS = 10


def _obj(kind: str, name: str) -> api_pb2.Object:
    from proto import api_pb2

    obj = api_pb2.Object()
    if kind == "lease":
        obj.lease.metadata.name, obj.lease.metadata.namespace = name, "default"
        obj.lease.spec.holder_identity = name
    else:
        d = obj.deployment
        d.metadata.name, d.metadata.namespace = name, "default"
        d.spec.replicas = 1
        d.spec.selector.match_labels["app"] = name
        d.spec.template.metadata.labels["app"] = name
        c = d.spec.template.spec.containers.add()
        c.name, c.image = "main", "demo:latest"
    return obj


def _wait(cond: Callable[[], object], timeout: float, what: str) -> object:
    import grpc

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = cond()
            if got:
                return got
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no {what} within {timeout:.0f} s")


def _create(stub: api_pb2_grpc.ApiStub, obj: api_pb2.Object) -> bool:
    """Created (also: by an earlier attempt whose answer was lost)."""
    import grpc

    from proto import api_pb2

    try:
        stub.Create(api_pb2.CreateRequest(object=obj), timeout=10)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    return True


class Clients:
    """CLIENTS threads calling the API until stopped; counts calls and errors."""

    def __init__(self, mc: MemberCluster, tag: str) -> None:
        self.mc, self.tag = mc, tag
        self.calls = self.errors = 0
        self.lock = threading.Lock()
        self.counting = threading.Event()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def _run(self, i: int) -> None:
        import grpc

        from proto import api_pb2, api_pb2_grpc

        with self.mc.channel() as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            n = 0
            while not self.stop.is_set():
                n += 1
                ok = True
                try:
                    if n % 2:
                        stub.Get(api_pb2.GetRequest(resource="namespaces", name="default"),
                                 timeout=10)
                    else:
                        stub.Create(api_pb2.CreateRequest(
                            object=_obj("lease", f"{self.tag}-{i}-{n}")), timeout=10)
                except grpc.RpcError:
                    ok = False
                if self.counting.is_set():
                    with self.lock:
                        self.calls += 1
                        self.errors += not ok
                time.sleep(0.02)

    def __enter__(self) -> Clients:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    @property
    def rate(self) -> float:
        return 100.0 * self.errors / self.calls if self.calls else 0.0


def _listing(mc: MemberCluster) -> membership_pb2.ControlPlaneList:
    from proto import api_pb2_grpc, membership_pb2

    with mc.channel() as ch:
        lst: membership_pb2.ControlPlaneList = api_pb2_grpc.ApiStub(ch).ListControlPlanes(
            membership_pb2.ListControlPlanesRequest(), timeout=5)
        return lst


def _healthy(mc: MemberCluster) -> bool:
    lst = _listing(mc)
    return len(lst.items) == 3 and bool(lst.loops_leader) and \
        all(m.healthy and not m.learner for m in lst.items)


def loops_failover(mc: MemberCluster, tag: str) -> tuple[float, float]:
    """(seconds from the kill to the ReplicaSet, error rate %)."""
    from proto import api_pb2, api_pb2_grpc

    _wait(lambda: _healthy(mc), 120, "three healthy members")
    victim = mc.member(_listing(mc).loops_leader)
    with mc.channel() as ch, Clients(mc, f"{tag}-l") as clients:
        stub = api_pb2_grpc.ApiStub(ch)
        time.sleep(1.0)              # the clients under way before the fault
        clients.counting.set()
        t0 = time.monotonic()
        victim.kill()
        _wait(lambda: _create(stub, _obj("deployment", tag)), 60, "Deployment created")
        _wait(lambda: stub.List(api_pb2.ListRequest(
            resource="replicasets", namespace="default", label_selector=f"app={tag}"),
            timeout=5).items, 120, "ReplicaSet from the new leader")
        took = time.monotonic() - t0
        clients.counting.clear()
    victim.start()
    return took, clients.rate


def etcd_failover(mc: MemberCluster, tag: str) -> tuple[float, float]:
    """(seconds from killing the etcd leader to the first acknowledged write, error %)."""
    import grpc

    from proto import api_pb2, api_pb2_grpc

    _wait(lambda: _healthy(mc), 120, "three healthy members")
    leader = next(m.name for m in _listing(mc).items if m.etcd_leader)
    pid = mc.member(leader).etcd_pid()
    first: list[float] = []
    with mc.channel() as ch, Clients(mc, f"{tag}-e") as clients:
        stub = api_pb2_grpc.ApiStub(ch)
        time.sleep(1.0)
        clients.counting.set()
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        i = 0
        while not first and time.monotonic() - t0 < 60:
            i += 1
            try:
                stub.Create(api_pb2.CreateRequest(object=_obj("lease", f"{tag}-w{i}")),
                            timeout=10)
                first.append(time.monotonic() - t0)
            except grpc.RpcError:
                time.sleep(0.05)
        time.sleep(max(0.0, 5.0 - (time.monotonic() - t0)))   # errors over >= 5 s
        clients.counting.clear()
    if not first:
        raise TimeoutError("no write within 60 s of killing the etcd leader")
    return first[0], clients.rate


def run(quick: bool = False) -> BenchResult:
    from localcluster.cpmembers import MemberCluster

    res = BenchResult(NAME)
    for profile in ("demo",) if quick else ("demo", "default"):
        with MemberCluster(3, profile=profile) as mc:
            took, rate = loops_failover(mc, f"hab-{profile}")
            res.add(f"{profile}: loops leader killed -> new leader's first action", took, "s",
                    "<= 10" if profile == "demo" else "")
            res.add(f"{profile}: API errors seen by {CLIENTS} clients (loops leader)", rate,
                    "%")
            took, rate = etcd_failover(mc, f"hab-{profile}")
            res.add(f"{profile}: etcd leader killed -> first acknowledged write", took, "s",
                    "<= 10")
            res.add(f"{profile}: API errors seen by {CLIENTS} clients (etcd leader)", rate,
                    "%")
    return res
