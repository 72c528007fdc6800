"""Watch a highly available control plane through a fault: who leads, which members are
healthy, and whether writes go through.

    probe = WriteProbe(rec.server, credentials, t0, log).start()   # a write every 0.2 s
    took = wait_members(rec.server, credentials, t0, log, healthy={"cp-1", "cp-2"})
    probe.stop(); log(probe.summary())
    # +  0.0 s  killed the control plane of cp-1 (PID 4242), the loops' leader
    # +  3.2 s  loops leader: cp-1 -> cp-3
    # +  3.4 s  writes go through again (refused for 1.9 s)
    # control plane: loops on cp-3, etcd leader cp-2, 3/3 members healthy after 5.1 s
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc

from corral import credentials as cli_credentials
from corral.credentials import Credentials
from proto import api_pb2, api_pb2_grpc, membership_pb2

PROBE_NAMESPACE, PROBE_NAME = "corral-system", "chaos-write-probe"


def snapshot(stub: api_pb2_grpc.ApiStub) -> membership_pb2.ControlPlaneList | None:
    try:
        lst: membership_pb2.ControlPlaneList = stub.ListControlPlanes(
            membership_pb2.ListControlPlanesRequest(), timeout=3)
        return lst
    except grpc.RpcError:
        return None


def etcd_leader(lst: membership_pb2.ControlPlaneList) -> str:
    return next((m.name for m in lst.items if m.etcd_leader), "")


def describe(lst: membership_pb2.ControlPlaneList) -> dict[str, str]:
    return {"loops leader": lst.loops_leader or "<none>",
            "etcd leader": etcd_leader(lst) or "<none>",
            **{m.name: "Healthy" if m.healthy else "Unhealthy" for m in lst.items}}


def wait_members(server: str, credentials: Credentials | None, t0: float,
                 log: Callable[[str], None], healthy: set[str], timeout: float = 120.0,
                 avoid_leader: str = "", comeback_after: float | None = None,
                 before: membership_pb2.ControlPlaneList | None = None) -> float | None:
    """Narrate leadership and health (changes since `before`) until the members in
    `healthy` are healthy, the others may be anything, there is an etcd leader and a loops
    leader (not `avoid_leader`, which the fault took away; unless `comeback_after` s since
    `t0` passed: the killed leader was restarted and still holds the lease after the old
    one would have expired, so its new process renewed it). Seconds since `t0`, None on
    timeout."""
    seen: dict[str, str] = describe(before) if before is not None else {}
    with cli_credentials.secure_channel(server, credentials) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lst = snapshot(stub)
            if lst is not None:
                now = describe(lst)
                for key, value in now.items():
                    if seen and seen.get(key) != value:
                        log(f"  +{time.monotonic() - t0:5.1f} s  {key}: "
                            f"{seen.get(key, '<none>')} -> {value}")
                seen = now
                ok = {m.name for m in lst.items if m.healthy and not m.learner}
                came_back = comeback_after is not None and \
                    time.monotonic() - t0 > comeback_after
                if healthy <= ok and etcd_leader(lst) and lst.loops_leader \
                        and (lst.loops_leader != avoid_leader or came_back):
                    took = time.monotonic() - t0
                    log(f"control plane: loops on {lst.loops_leader}, etcd leader "
                        f"{etcd_leader(lst)}, {len(ok)}/{len(lst.items)} members healthy "
                        f"after {took:.1f} s")
                    return took
            time.sleep(0.2)      # polling with a deadline
    return None


class WriteProbe:
    """A write every `interval` s through the balanced client, timed: the outage a user
    of the API sees (the first write that goes through after the fault, the refusals)."""

    def __init__(self, server: str, credentials: Credentials | None, t0: float,
                 log: Callable[[str], None], interval: float = 0.2,
                 timeout: float = 10.0) -> None:
        self.server, self.credentials, self.t0, self.log = server, credentials, t0, log
        self.interval, self.timeout = interval, timeout   # the agents' call timeout
        self.ok = self.failed = 0
        self.longest = 0.0               # longest stretch without a successful write
        self.errors: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> WriteProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _write(self, stub: api_pb2_grpc.ApiStub, n: int) -> None:
        obj = api_pb2.Object()
        lease = obj.lease
        lease.metadata.name, lease.metadata.namespace = PROBE_NAME, PROBE_NAMESPACE
        lease.spec.holder_identity = f"chaos-{n}"
        lease.spec.renew_time.GetCurrentTime()
        stub.Apply(api_pb2.ApplyRequest(object=obj), timeout=self.timeout)

    def _run(self) -> None:
        last_ok = time.monotonic()
        failing = False
        with cli_credentials.secure_channel(self.server, self.credentials) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            n = 0
            while not self._stop.is_set():
                n += 1
                try:
                    self._write(stub, n)
                    now = time.monotonic()
                    if failing:
                        self.log(f"  +{now - self.t0:5.1f} s  writes go through again (none "
                                 f"for {now - last_ok:.1f} s)")
                    self.longest = max(self.longest, now - last_ok)
                    last_ok, failing = now, False
                    self.ok += 1
                except grpc.RpcError as e:
                    self.failed += 1
                    code = e.code().name if callable(getattr(e, "code", None)) else "ERROR"
                    self.errors[code] = self.errors.get(code, 0) + 1
                    failing = True
                self._stop.wait(self.interval)
            try:
                stub.Delete(api_pb2.DeleteRequest(resource="leases", namespace=PROBE_NAMESPACE,
                                                  name=PROBE_NAME), timeout=5)
            except grpc.RpcError:
                pass

    def summary(self) -> str:
        errs = ", ".join(f"{n} {code}" for code, n in sorted(self.errors.items()))
        return (f"writes during the fault: {self.ok} went through, {self.failed} refused"
                + (f" ({errs})" if errs else "")
                + f"; longest time without one {self.longest:.1f} s")
