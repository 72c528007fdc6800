"""Helpers of the HA fault tests (test_ha.py): a member's record and its processes, the
member list and who leads, killing and starting a member, one member's API alone."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from corral import credentials as cli_credentials
from localcluster import members, procs, state
from localcluster import up as cluster_up
from proto import api_pb2, api_pb2_grpc, membership_pb2

from .conftest import Cluster, api, record, wait_for


def member(c: Cluster, name: str) -> state.ControlPlaneRecord:
    return next(m for m in record(c).controlplanes if m.name == name)


def listing(c: Cluster) -> membership_pb2.ControlPlaneList | None:
    try:
        with api(c) as stub:
            lst: membership_pb2.ControlPlaneList = stub.ListControlPlanes(
                membership_pb2.ListControlPlanesRequest(), timeout=5)
            return lst
    except grpc.RpcError:
        return None


def all_healthy(c: Cluster) -> bool:
    lst = listing(c)
    return lst is not None and len(lst.items) == 3 and bool(lst.loops_leader) \
        and all(m.healthy and not m.learner for m in lst.items) \
        and sum(m.etcd_leader for m in lst.items) == 1


def leaders(c: Cluster) -> tuple[str, str]:
    """(the loops' leader, the etcd leader)."""
    lst = wait_for(lambda: listing(c), 30, "the member list")
    return lst.loops_leader, next(m.name for m in lst.items if m.etcd_leader)


def kill_member(c: Cluster, name: str) -> None:
    """SIGKILL a member's control plane; its etcd follows (SIGTERM from the kernel when its
    parent dies: a graceful stop that keeps answering its peers for a moment), so wait
    for both: only then is the member really gone from the etcd cluster."""
    m = member(c, name)
    etcd = etcd_pid(m)
    os.kill(m.pid, signal.SIGKILL)
    wait_for(lambda: not procs.alive(m.pid) and not procs.alive(etcd), 15,
             f"{name} and its etcd gone")


def start_member(c: Cluster, name: str) -> None:
    rec = record(c)
    m = next(x for x in rec.controlplanes if x.name == name)
    assert not procs.alive(m.pid), f"{name} is running"
    members.start(rec, m, cluster_up.join_token(rec))
    rec.save()


@contextmanager
def direct(c: Cluster, name: str) -> Iterator[api_pb2_grpc.ApiStub]:
    """One member's API only (no balancing, no failover)."""
    rec = record(c)
    m = member(c, name)
    with cli_credentials.secure_channel(f"{m.ip}:{members.API_PORT}",
                                        cluster_up.admin_credentials(rec)) as ch:
        yield api_pb2_grpc.ApiStub(ch)


def lease(name: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.lease.metadata.name, obj.lease.metadata.namespace = name, "default"
    obj.lease.spec.holder_identity = name
    return obj


def code_of(fn: Any) -> str:
    try:
        fn()
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


def etcd_pid(m: state.ControlPlaneRecord) -> int:
    pid = procs.child_running(m.pid, b"etcd")
    assert pid, f"no etcd under {m.name}"
    return pid
