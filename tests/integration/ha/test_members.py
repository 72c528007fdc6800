"""Three real `python -m controlplane` members on loopback forming one etcd cluster:
formation, what the etcd ports let in, joining, losing members and getting them back.

(The faults on a whole local cluster, with nodes and workloads, are tests/faults/test_ha.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from aetcd import rpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.security import pki
from corral import credentials as cli_credentials
from localcluster.cpmembers import NODE_TOKEN, Member, MemberCluster
from proto import api_pb2, api_pb2_grpc, membership_pb2

pytestmark = pytest.mark.timeout(600)


def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except grpc.RpcError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def listing(mc: MemberCluster, via: list[Member] | None = None) -> membership_pb2.ControlPlaneList:
    with mc.channel(via) as ch:
        return api_pb2_grpc.ApiStub(ch).ListControlPlanes(
            membership_pb2.ListControlPlanesRequest(), timeout=10)


def all_healthy(mc: MemberCluster, n: int) -> bool:
    lst = listing(mc)
    return len(lst.items) == n and all(m.healthy and not m.learner for m in lst.items) \
        and sum(m.etcd_leader for m in lst.items) == 1 and bool(lst.loops_leader)


def namespace(name: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.namespace.metadata.name = name
    return obj


def create(stub: api_pb2_grpc.ApiStub, name: str, timeout: float = 10) -> None:
    stub.Create(api_pb2.CreateRequest(object=namespace(name)), timeout=timeout)


def exists(stub: api_pb2_grpc.ApiStub, name: str) -> bool:
    try:
        stub.Get(api_pb2.GetRequest(resource="namespaces", name=name), timeout=10)
        return True
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise


def test_three_members_one_etcd_cluster(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    lst = listing(members)
    assert sorted(m.name for m in lst.items) == ["cp-1", "cp-2", "cp-3"]
    for m in lst.items:
        assert m.peer_url.startswith("https://127.0.0.1:"), m
        assert m.etcd_url.startswith("https://127.0.0.1:"), m
        assert m.api_address == members.member(m.name).address
    assert lst.loops_leader in {"cp-1", "cp-2", "cp-3"}
    assert sum(m.loops_leader for m in lst.items) == 1
    # a write through one member is read through each of the others
    with members.channel(members.members[:1]) as ch:
        create(api_pb2_grpc.ApiStub(ch), "written-at-cp-1")
    for other in members.members[1:]:
        with members.channel([other]) as ch:
            assert exists(api_pb2_grpc.ApiStub(ch), "written-at-cp-1"), other.name


def test_every_member_reads_the_secrets_another_encrypted(members: MemberCluster) -> None:
    """The Secrets' key file travels with the join: a Secret encrypted by one member is
    read by each other one, and every member holds the same key file."""
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    obj = api_pb2.Object()
    obj.secret.metadata.name, obj.secret.metadata.namespace = "db-password", "default"
    obj.secret.data["password"] = b"s3cret-across-members"
    with members.channel(members.members[1:2]) as ch:
        api_pb2_grpc.ApiStub(ch).Create(api_pb2.CreateRequest(object=obj), timeout=10)
    try:
        for m in members.members:
            with members.channel([m]) as ch:
                got = api_pb2_grpc.ApiStub(ch).Get(api_pb2.GetRequest(
                    resource="secrets", namespace="default", name="db-password"), timeout=10)
            assert got.secret.data["password"] == b"s3cret-across-members", m.name
        files = {m.name: (m.dir / "pki" / "secret-keys.yaml").read_bytes()
                 for m in members.members}
        assert len(set(files.values())) == 1, "members with different Secret keys"
        assert all((m.dir / "pki" / "secret-keys.yaml").stat().st_mode & 0o077 == 0
                   for m in members.members), "a key file readable by others"
    finally:
        with members.channel() as ch:
            api_pb2_grpc.ApiStub(ch).Delete(api_pb2.DeleteRequest(
                resource="secrets", namespace="default", name="db-password"), timeout=10)


def _etcd_call(url: str, ca: bytes, cert: bytes, key: bytes) -> str:
    """'ok', or the gRPC error code of a Range on that etcd port with that certificate."""
    import asyncio

    async def call() -> str:
        creds = grpc.ssl_channel_credentials(ca, key, cert)
        async with grpc.aio.secure_channel(url.removeprefix("https://"), creds) as ch:
            try:
                await rpc.KVStub(ch).Range(rpc.RangeRequest(key=b"/corral/"), timeout=5)
                return "ok"
            except grpc.aio.AioRpcError as e:
                return e.code().name

    return asyncio.run(call())


def test_etcd_admits_control_planes_only(members: MemberCluster) -> None:
    """Client and peer ports are mutual TLS from the cluster CA; a node's certificate from
    the same CA gets into neither, the control plane's etcd client certificate only into
    the client port."""
    d = members.members[0].dir / "pki"
    ca = pki.ClusterCA.load(d)
    node = ca.issue_node("node-1")
    client = ((d / "etcd" / "client.crt").read_bytes(), (d / "etcd" / "client.key").read_bytes())
    m = members.members[1]
    client_url = f"https://127.0.0.1:{m.etcd_client}"
    peer_url = f"127.0.0.1:{m.etcd_peer}"
    assert _etcd_call(client_url, ca.cert_pem, *client) == "ok"
    assert _etcd_call(client_url, ca.cert_pem, node.cert_pem, node.key_pem) == "UNAVAILABLE"
    # the peer port: a TLS handshake with the client certificate is refused
    import ssl
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    cert_file = members.dir / "client.pem"
    cert_file.write_bytes(client[0] + client[1])
    ctx.load_cert_chain(str(cert_file))
    import socket
    host, _, port = peer_url.rpartition(":")
    with pytest.raises(ssl.SSLError), socket.create_connection((host, int(port)), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /members HTTP/1.1\r\nHost: x\r\n\r\n")
        tls.recv(100)


def test_joining_needs_a_controlplane_token(members: MemberCluster) -> None:
    m = members.members[0]
    ca_pem = (m.dir / "pki" / "ca.crt").read_bytes()
    with grpc.secure_channel(m.bootstrap_address, grpc.ssl_channel_credentials(ca_pem)) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        req = membership_pb2.ControlPlaneJoinRequest(
            token=NODE_TOKEN, name="intruder", address="127.0.0.1", etcd_client_port=1,
            etcd_peer_port=2, api_port=3, bootstrap_port=4)
        with pytest.raises(grpc.RpcError) as e:
            stub.JoinControlPlane(req, timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "may not be used to join-controlplane" in (e.value.details() or "")
    listed = listing(members)
    assert "intruder" not in {x.name for x in listed.items}
    assert len(listed.items) == 3


def test_minority_member_refuses_instead_of_serving_stale_data(members: MemberCluster) -> None:
    """Two etcd members frozen: the third has no quorum. Its API answers UNAVAILABLE to
    reads and writes (no stale answer), its health says NOT_SERVING; thawed, it serves."""
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    alone, others = members.members[0], members.members[1:]
    pids = [o.etcd_pid() for o in others]
    assert all(pids)
    with members.channel([alone]) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        create(stub, "before-the-split")
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            def refused() -> str:
                try:
                    stub.Get(api_pb2.GetRequest(resource="namespaces", name="before-the-split"),
                             timeout=20)
                    return ""
                except grpc.RpcError as e:
                    return f"{e.code().name}: {e.details()}"
            # never the stale answer: refused at once, or after the request timeout (the
            # read was waiting on a leader that is gone), then at once with "no leader"
            assert wait_for(refused, 30, "reads refused").startswith("UNAVAILABLE")
            assert "no leader" in wait_for(lambda: "no leader" in (r := refused()) and r, 30,
                                           "reads refused at once, with the reason")
            t0 = time.monotonic()
            with pytest.raises(grpc.RpcError) as e:
                create(stub, "during-the-split")
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "no leader" in (e.value.details() or "")
            assert time.monotonic() - t0 < 5, "a refused write should not hang"
            health = health_pb2_grpc.HealthStub(ch)
            wait_for(lambda: health.Check(health_pb2.HealthCheckRequest(
                service="corral.v1.Api"), timeout=5).status ==
                health_pb2.HealthCheckResponse.NOT_SERVING, 15, "health NOT_SERVING")
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        wait_for(lambda: exists(stub, "before-the-split"), 30, "reads again")
        assert not exists(stub, "during-the-split")
        create(stub, "after-the-split")


def test_clients_fail_over_when_a_member_dies(members: MemberCluster) -> None:
    """A client given every member keeps working while one is SIGKILLed: every write it
    was told succeeded is there afterwards."""
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    victim = members.members[1]
    acked, failed = [], 0
    with members.channel() as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        for i in range(60):
            if i == 20:
                victim.kill()
            try:
                create(stub, f"failover-{i}", timeout=15)
                acked.append(f"failover-{i}")
            except grpc.RpcError:
                failed += 1
        assert failed <= 2, f"{failed} of 60 writes failed"
        for name in acked:
            assert exists(stub, name), name
    victim.start()
    wait_for(lambda: all_healthy(members, 3), 60, "the member back")


def test_loops_move_to_another_member(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    leader = listing(members).loops_leader
    members.member(leader).kill()
    rest = [m for m in members.members if m.name != leader]
    new = wait_for(lambda: (lst := listing(members, rest)).loops_leader not in ("", leader)
                   and lst.loops_leader, 30, "another loops leader")
    assert new in {m.name for m in rest}
    members.member(leader).start()
    wait_for(lambda: all_healthy(members, 3), 60, "the old leader back as a member")


def test_a_killed_etcd_is_restarted_by_its_member(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    m = members.members[2]
    old = m.etcd_pid()
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: m.etcd_pid() not in (0, old), 30, "a new etcd process")
    wait_for(lambda: all_healthy(members, 3), 60, "the etcd member healthy again")
    assert m.alive()


def test_a_member_that_lost_its_disk_joins_again(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    with members.channel() as ch:
        create(api_pb2_grpc.ApiStub(ch), "before-the-disk-loss")
    m = members.members[1]
    m.kill()
    shutil.rmtree(m.dir)
    m.start()
    wait_for(lambda: all_healthy(members, 3), 90, "the member back with a new etcd member")
    with members.channel([m]) as ch:
        assert exists(api_pb2_grpc.ApiStub(ch), "before-the-disk-loss")


def test_remove_a_member_then_add_one(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    gone = members.members[2]
    env = {**os.environ, "CORRAL_CONFIG": str(members.admin_config)}
    cli = [sys.executable, "-m", "corral.cli.main", "--server", members.servers]
    r = subprocess.run([*cli, "controlplane", "remove", gone.name], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert gone.wait_exit(30) not in (None, 0), "the removed member's control plane stops"
    assert "removed from the etcd cluster" in gone.log()
    members.members.remove(gone)
    wait_for(lambda: all_healthy(members, 2), 30, "two members")
    added = members.add_member()
    assert added.name == "cp-4"
    wait_for(lambda: all_healthy(members, 3), 60, "three members again")
    r = subprocess.run([*cli.copy()[:-2], "--server", members.servers, "controlplane", "ls"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "STATUS", "ROLES", "API"]
    assert sorted(line.split()[0] for line in lines[1:]) == ["cp-1", "cp-2", "cp-4"]
    assert all(line.split()[1] == "Healthy" for line in lines[1:])


def test_quorum_lost_then_back(members: MemberCluster) -> None:
    wait_for(lambda: all_healthy(members, 3), 30, "three healthy members")
    stay, down = members.members[0], members.members[1:]
    for m in down:
        m.kill()
    with cli_credentials.secure_channel(stay.address, members.credentials) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            create(stub, "without-quorum", timeout=20)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        down[0].start()
        def written() -> bool:
            create(stub, "quorum-back")
            return True

        wait_for(written, 60, "writes again")
    down[1].start()
    wait_for(lambda: all_healthy(members, 3), 60, "all three")
