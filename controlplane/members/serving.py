"""What a running control plane does for its membership (controlplane/__main__.py).

    Store(endpoints, tls=etcd_tls_of(args))       # the member's, or --etcd-*file's
    await member_sync(args, store.conn, electors) # forever: publish, follow changes
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from controlplane.leader import LeaderElector
from controlplane.members import records
from controlplane.members.startup import MemberPlan, ports_of
from controlplane.members.sync import run_sync
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection


def etcd_tls_of(args: argparse.Namespace) -> EtcdTLS | None:
    """The client certificate for etcd: a member's own, or --etcd-cafile/-certfile/-keyfile."""
    plan: MemberPlan | None = getattr(args, "member_plan", None)
    if plan is not None:
        return plan.tls
    if getattr(args, "etcd_cafile", ""):
        return EtcdTLS.from_files(ca=args.etcd_cafile, cert=args.etcd_certfile,
                                  key=args.etcd_keyfile)
    return None


async def member_sync(args: argparse.Namespace, conn: Connection,
                      electors: Sequence[LeaderElector]) -> None:
    plan: MemberPlan = args.member_plan
    api, kube, boot = ports_of(args)
    record = records.MemberRecord(plan.name, plan.address, api_port=api, kube_port=kube,
                                  bootstrap_port=boot, etcd_url=plan.etcd.client_url,
                                  peer_url=plan.etcd.peer_url)

    def follow(endpoints: list[str]) -> None:
        for elector in electors:
            elector.set_endpoints(endpoints)

    await run_sync(conn, plan, record, Path(args.data_dir), on_endpoints=follow)
