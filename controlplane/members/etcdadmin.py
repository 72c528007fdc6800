"""etcd's cluster API, as the members need it, over the control plane's etcd Connection.

    for m in await members(conn): m.name, m.id, m.peer_urls, m.client_urls, m.learner
    new, now = await add_learner(conn, "https://10.0.0.7:2380")
    await promote(conn, new.id)      # NotInSync until the learner caught up: retry
    await remove(conn, member_id)
    st = await member_status("https://10.0.0.6:2379", tls)   # MemberStatus (or .error)

Failures are controlplane.errors: Unavailable (etcd down or without leader), Conflict
(etcd refused the change: a learner is already joining, not enough started members
left for quorum, ...), NotFound (no such member).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
from aetcd import rpc

from controlplane import errors
from controlplane.store.etcdclient import EtcdTLS, open_channel, parse_endpoint
from controlplane.store.etcdio import Connection


class NotInSync(errors.Conflict):
    """The learner has not caught up with the leader yet: promote again shortly."""


@dataclass(frozen=True)
class Member:
    id: int
    name: str                        # "" until the member started once
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]     # () until the member started once
    learner: bool


@dataclass(frozen=True)
class MemberStatus:
    url: str
    member_id: int = 0
    leader: int = 0
    raft_index: int = 0
    learner: bool = False
    version: str = ""
    error: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def healthy(self) -> bool:
        return not self.error and self.leader != 0 and not self.errors


def _member(m: rpc.Member) -> Member:
    return Member(int(m.ID), m.name, tuple(m.peerURLs), tuple(m.clientURLs), bool(m.isLearner))


@contextlib.contextmanager
def _guard(conn: Connection, what: str) -> Iterator[None]:
    """conn.guard's translation, with etcd's membership refusals said as such."""
    with conn.guard(what):
        try:
            yield
        except grpc.aio.AioRpcError as e:
            detail = e.details() or e.code().name
            if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                if "in sync" in detail:
                    raise NotInSync(f"{what}: etcd: {detail}") from None
                raise errors.Conflict(f"{what}: etcd refused: {detail}") from None
            if e.code() == grpc.StatusCode.NOT_FOUND or "member not found" in detail:
                raise errors.NotFound(f"{what}: etcd: {detail}") from None
            raise


async def members(conn: Connection) -> list[Member]:
    with _guard(conn, "listing the etcd members"):
        resp = await (await conn.client()).clusterstub.MemberList(
            rpc.MemberListRequest(linearizable=True), timeout=conn.timeout)
    return [_member(m) for m in resp.members]


async def add_learner(conn: Connection, peer_url: str) -> tuple[Member, list[Member]]:
    """Add a non-voting member (it joins the quorum only once promoted)."""
    with _guard(conn, f"adding etcd member {peer_url}"):
        resp = await (await conn.client()).clusterstub.MemberAdd(
            rpc.MemberAddRequest(peerURLs=[peer_url], isLearner=True), timeout=conn.timeout)
    return _member(resp.member), [_member(m) for m in resp.members]


async def promote(conn: Connection, member_id: int) -> None:
    with _guard(conn, f"promoting etcd member {member_id:x}"):
        await (await conn.client()).clusterstub.MemberPromote(
            rpc.MemberPromoteRequest(ID=member_id), timeout=conn.timeout)


# etcd's strict reconfiguration check refuses a removal ("unhealthy cluster") until each
# member that remains has been connected to the leader for 5 s (its HealthInterval), as
# right after one (re)started: that passes, so a removal is retried for this long
UNHEALTHY_WAIT = 15.0


async def remove(conn: Connection, member_id: int, wait: float = UNHEALTHY_WAIT) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    while True:
        try:
            with _guard(conn, f"removing etcd member {member_id:x}"):
                await (await conn.client()).clusterstub.MemberRemove(
                    rpc.MemberRemoveRequest(ID=member_id), timeout=conn.timeout)
            return
        except errors.Unavailable as e:
            if "unhealthy cluster" not in e.message or loop.time() > end:
                raise
        await asyncio.sleep(0.5)


async def member_status(url: str, tls: EtcdTLS | None, timeout: float = 1.5) -> MemberStatus:
    """One member's own view (Maintenance.Status), straight from it: never raises."""
    try:
        endpoint = parse_endpoint(url, tls)
    except ValueError as e:
        return MemberStatus(url, error=str(e))
    channel = open_channel(endpoint, tls)
    try:
        # a member without a leader answers "no leader" (require-leader): that is its status
        st = await rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=timeout)
    except grpc.aio.AioRpcError as e:
        return MemberStatus(url, error=f"{e.code().name}: {e.details() or ''}".strip(": "))
    finally:
        await channel.close()
    return MemberStatus(url, member_id=int(st.header.member_id), leader=int(st.leader),
                        raft_index=int(st.raftIndex), learner=bool(st.isLearner),
                        version=st.version, errors=tuple(st.errors))
