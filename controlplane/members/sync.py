"""Follow the membership while a member runs: publish this member's record, and keep
its etcd endpoints and what it knows of the others current.

    await run_sync(conn, plan, record, on_endpoints=elector.set_endpoints)

Every `interval` seconds: etcd's member list gives the started voting members' client
URLs (this member's own first), which the store's Connection and the leader election
fail over between; the records give every member's address, kept in
DATA_DIR/members.json for the API certificate's SANs at the next start. A member
that is no longer in etcd's list (removed) does not publish itself again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from controlplane import errors
from controlplane.members import etcdadmin, records
from controlplane.members.startup import Known, MemberPlan
from controlplane.store.etcdio import Connection

log = logging.getLogger(__name__)


def endpoints_of(members: list[etcdadmin.Member], own: str) -> list[str]:
    urls = [u for m in members if not m.learner for u in m.client_urls]
    return [own, *(u for u in urls if u != own)] if own in urls else urls


async def sync_once(conn: Connection, plan: MemberPlan, record: records.MemberRecord,
                    data_dir: Path) -> list[str]:
    members = await etcdadmin.members(conn)
    if not any(plan.etcd.peer_url in m.peer_urls for m in members):
        return []                         # removed: neither publish nor follow
    known = await records.load_all(conn)
    if known.get(record.name) != record:
        await records.publish(conn, record)
        known[record.name] = record
    endpoints = endpoints_of(members, plan.etcd.client_url)
    now = Known(sorted({r.address for r in known.values()} | {plan.address}), endpoints)
    if (sorted(set(plan.known.addresses)), plan.known.etcd_endpoints) != \
            (now.addresses, now.etcd_endpoints):
        now.save(data_dir)
        plan.known = now
    if endpoints:
        conn.set_endpoints(endpoints)
    return endpoints


async def run_sync(conn: Connection, plan: MemberPlan, record: records.MemberRecord,
                   data_dir: Path, on_endpoints: Callable[[list[str]], None] | None = None,
                   interval: float = 10.0) -> None:
    first = True
    while True:
        try:
            endpoints = await sync_once(conn, plan, record, data_dir)
            if endpoints and on_endpoints is not None:
                on_endpoints(endpoints)
            if first and endpoints:
                log.info("control-plane member %s published (etcd endpoints: %s)",
                         record.name, ", ".join(endpoints))
                first = False
        except errors.ApiError as e:
            log.debug("membership sync: %s", e)
        except Exception:             # never end the member for this: try again later
            log.exception("membership sync failed")
        await asyncio.sleep(1.0 if first else interval)   # a timer
