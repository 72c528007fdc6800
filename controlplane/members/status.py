"""ListControlPlanes: every member as etcd and the members' records know it, with each
one's own status (asked directly, in parallel) and who leads what.

    lst = await list_members(conn, tls, leader_key="/corral/leader/controlplane")
"""

from __future__ import annotations

import asyncio

from aetcd import rpc

from controlplane.members import etcdadmin, records
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection
from proto import membership_pb2


async def loops_leader(conn: Connection, key: str) -> str:
    with conn.guard("reading the leader lease"):
        resp = await (await conn.kv()).Range(rpc.RangeRequest(key=key.encode()),
                                             timeout=conn.timeout)
    return bytes(resp.kvs[0].value).decode() if resp.kvs else ""


async def list_members(conn: Connection, tls: EtcdTLS | None,
                       leader_key: str) -> membership_pb2.ControlPlaneList:
    members = await etcdadmin.members(conn)
    known = await records.load_all(conn)
    leader = await loops_leader(conn, leader_key)
    statuses = await asyncio.gather(*(
        etcdadmin.member_status(m.client_urls[0], tls) if m.client_urls
        else _not_started(m) for m in members))
    out = membership_pb2.ControlPlaneList(loops_leader=leader)
    for m, st in sorted(zip(members, statuses, strict=True), key=lambda x: x[0].name):
        out.items.append(describe(m, st, known.get(m.name), leader))
    return out


async def _not_started(m: etcdadmin.Member) -> etcdadmin.MemberStatus:
    return etcdadmin.MemberStatus("", error="added, not started yet")


def describe(m: etcdadmin.Member, st: etcdadmin.MemberStatus,
             rec: records.MemberRecord | None, leader: str) -> membership_pb2.ControlPlaneMember:
    out = membership_pb2.ControlPlaneMember(
        name=m.name, etcd_id=m.id, peer_url=m.peer_urls[0] if m.peer_urls else "",
        etcd_url=m.client_urls[0] if m.client_urls else "", learner=m.learner,
        healthy=st.healthy, etcd_leader=bool(st.leader) and st.leader == m.id,
        loops_leader=bool(m.name) and m.name == leader, raft_index=st.raft_index,
        version=st.version, error=st.error or "; ".join(st.errors))
    if rec is not None:
        out.api_address, out.kube_address = rec.api, rec.kube
    return out
