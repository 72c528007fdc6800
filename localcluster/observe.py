"""Watch a cluster converge: a timeline of events and the time until the
observed state matches the desired state again.

Desired vs observed, as a user would judge it: every Deployment has
readyReplicas == updatedReplicas == spec.replicas, every ReplicaSet has its
ready replicas, and no pod of a controller is Pending or Terminating.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from corral import credentials as cli_credentials
from corral.credentials import Credentials
from proto import api_pb2, api_pb2_grpc


@dataclass
class Verdict:
    converged: bool
    lines: list[str] = field(default_factory=list)   # "deployment web: 3/3 ready"


def verdict(stub: api_pb2_grpc.ApiStub, timeout: float = 3.0,
            lost_nodes: frozenset[str] = frozenset()) -> Verdict:
    """`lost_nodes`: nodes the fault took away; a controller's pod still bound
    to one of them is not serving, whatever its last reported status says."""
    out = Verdict(True)
    deps = stub.List(api_pb2.ListRequest(resource="deployments"), timeout=timeout)
    for item in deps.items:
        d = item.deployment
        want = d.spec.replicas if d.spec.HasField("replicas") else 1
        st = d.status
        ok = (st.ready_replicas == want and st.updated_replicas == want
              and st.replicas == want and st.observed_generation >= d.metadata.generation)
        out.converged &= ok
        out.lines.append(f"deployment {d.metadata.name}: {st.ready_replicas}/{want} ready")
    pods = stub.List(api_pb2.ListRequest(resource="pods"), timeout=timeout)
    for item in pods.items:
        p = item.pod
        if not p.metadata.owner_references:
            continue
        if p.metadata.HasField("deletion_timestamp") or p.status.phase == "Pending" \
                or p.spec.node_name in lost_nodes:
            out.converged = False
    return out


class Timeline:
    """Print cluster events as they happen, stamped relative to `t0`."""

    def __init__(self, server: str, t0: float, log: Callable[[str], None],
                 credentials: Credentials | None = None) -> None:
        self.server, self.t0, self.log = server, t0, log
        self.credentials = credentials
        self._stop = threading.Event()
        self._call: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Timeline:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        with cli_credentials.secure_channel(self.server, self.credentials) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            rv = ""
            while not self._stop.is_set():
                try:
                    if not rv:
                        rv = stub.List(api_pb2.ListRequest(resource="events"),
                                       timeout=3).resource_version
                    call = stub.Watch(api_pb2.WatchRequest(resource="events",
                                                           resource_version=rv))
                    self._call = call
                    for ev in call:
                        rv = ev.resource_version or rv
                        if ev.type in ("ADDED", "MODIFIED"):
                            e = ev.object.event
                            obj = e.involved_object
                            self.log(f"  +{time.monotonic() - self.t0:5.1f} s  "
                                     f"{obj.kind.lower()}/{obj.name}: {e.reason}: {e.message}")
                except grpc.RpcError as err:
                    if self._stop.is_set():
                        return
                    if err.code() == grpc.StatusCode.OUT_OF_RANGE:
                        rv = ""
                    self._stop.wait(0.5)


def wait_converged(server: str, t0: float, log: Callable[[str], None],
                   diverge_within: float = 15.0, timeout: float = 120.0,
                   credentials: Credentials | None = None,
                   lost_nodes: frozenset[str] = frozenset()) -> float | None:
    """Wait for the cluster to leave and then regain its desired state.

    Returns seconds from `t0` until converged again, or None on timeout.
    """
    with cli_credentials.secure_channel(server, credentials) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        deadline = time.monotonic() + diverge_within
        diverged = False
        while time.monotonic() < deadline:
            if not _safe_verdict(stub, lost_nodes).converged:
                diverged = True
                break
            time.sleep(0.1)
        if not diverged:
            log("  (no divergence observed: the cluster absorbed the fault)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = _safe_verdict(stub, lost_nodes)
            if v.converged:
                elapsed = time.monotonic() - t0
                for line in v.lines:
                    log(f"{line} again after {elapsed:.1f} s")
                return elapsed
            time.sleep(0.1)
    return None


def _safe_verdict(stub: api_pb2_grpc.ApiStub, lost_nodes: frozenset[str]) -> Verdict:
    try:
        return verdict(stub, lost_nodes=lost_nodes)
    except grpc.RpcError:
        return Verdict(False, ["control plane unreachable"])
