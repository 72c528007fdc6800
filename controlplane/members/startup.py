"""A clustered member's start, before its API serves: join (first start only), the etcd
certificates and peering, then (once its etcd runs) its promotion to a voting member.

    plan = plan_member(args)            # sync; joins when the data dir has no etcd yet
    plan.etcd.start(wait=False)
    asyncio.run(become_voter(plan))     # a learner until it caught up; then voting
    plan.etcd.wait_healthy()
    Store(plan.endpoints, tls=plan.tls) # this member's etcd first, then the others'

DATA_DIR/members.json caches what this member knows of the others (their addresses
for the API certificate's SANs, their etcd endpoints for the next start); sync.py
keeps it current while the member runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.files import read_json, write_json_atomic
from controlplane import atrest, errors
from controlplane.etcd import EmbeddedEtcd, Peering, free_port
from controlplane.members import JoinFailed, etcdadmin, joiner
from controlplane.members.admit import hostport
from controlplane.security import etcdcerts, pki
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection
from proto import membership_pb2

log = logging.getLogger(__name__)

KNOWN_FILE = "members.json"


@dataclass
class Known:
    addresses: list[str] = field(default_factory=list)       # every member's address
    etcd_endpoints: list[str] = field(default_factory=list)  # every member's client URL

    @classmethod
    def load(cls, data_dir: Path) -> Known:
        try:
            raw = read_json(data_dir / KNOWN_FILE)
        except (OSError, ValueError):
            return cls()
        return cls(list(raw.get("addresses", [])), list(raw.get("etcd_endpoints", [])))

    def save(self, data_dir: Path) -> None:
        write_json_atomic(data_dir / KNOWN_FILE, {"addresses": sorted(set(self.addresses)),
                                                  "etcd_endpoints": self.etcd_endpoints},
                          mode=0o644)


@dataclass
class MemberPlan:
    name: str
    address: str
    etcd: EmbeddedEtcd
    tls: EtcdTLS
    known: Known

    @property
    def endpoints(self) -> list[str]:
        """This member's etcd first, then the others' (the store fails over in order)."""
        own = self.etcd.client_url
        return [own, *(e for e in self.known.etcd_endpoints if e != own)]


def ports_of(args: argparse.Namespace) -> tuple[int, int, int]:
    """(corral's API, the Kubernetes API or 0, the bootstrap port) from the flags."""
    kube = getattr(args, "kube_listen", "") or ""
    kube_port = 0 if kube == "0" else int(kube.rpartition(":")[2] or 6443) if kube else 6443
    boot = getattr(args, "bootstrap_listen", "") or ""
    return (int(args.listen.rpartition(":")[2]), kube_port,
            int(boot.rpartition(":")[2]) if boot else 6444)


def _join_request(args: argparse.Namespace) -> membership_pb2.ControlPlaneJoinRequest:
    api, kube, boot = ports_of(args)
    return membership_pb2.ControlPlaneJoinRequest(
        token=args.token, name=args.member_name, address=args.advertise_address,
        etcd_client_port=args.etcd_port, etcd_peer_port=args.etcd_peer_port,
        api_port=api, kube_port=kube, bootstrap_port=boot)


def plan_member(args: argparse.Namespace) -> MemberPlan:
    """Everything this member's etcd needs; joins the cluster on a first start."""
    data, addr = Path(args.data_dir), args.advertise_address
    data.mkdir(parents=True, exist_ok=True)
    for port_arg in ("etcd_port", "etcd_peer_port"):   # peers need them stable: pick now
        if not getattr(args, port_arg):
            setattr(args, port_arg, free_port(addr))
    own_peer = "https://" + hostport(addr, args.etcd_peer_port)
    initial, state = f"{args.member_name}={own_peer}", "new"
    known = Known.load(data)
    if args.join and not (data / "etcd" / "member").is_dir():
        resp, ca_pem = joiner.join([a.strip() for a in args.join.split(",") if a.strip()],
                                   _join_request(args), args.ca_cert_hash)
        joiner.write_files(data, resp, ca_pem, atrest.key_file(args))
        initial, state = resp.initial_cluster, "existing"
        known = Known(sorted({*resp.addresses, addr}), list(resp.etcd_endpoints))
        known.save(data)
    ca = pki.ClusterCA.load_or_create(data / "pki")       # --cluster-init: made here
    files = etcdcerts.ensure_etcd_certs(ca, data / "pki", [addr])
    peering = Peering(ca_file=files.ca, cert_file=files.member_cert, key_file=files.member_key,
                      client_cert_file=files.client_cert, client_key_file=files.client_key,
                      client_name=pki.ETCD_CLIENT_NAME, peer_cn=pki.ETCD_MEMBER_CN,
                      initial_cluster=initial, state=state)
    etcd = EmbeddedEtcd(data / "etcd", host=addr, client_port=args.etcd_port,
                        peer_port=args.etcd_peer_port, name=args.member_name,
                        die_with_parent=True, peering=peering, start_timeout=60.0)
    if addr not in known.addresses:
        known.addresses.append(addr)
    return MemberPlan(args.member_name, addr, etcd, files.client_tls(), known)


async def become_voter(plan: MemberPlan, timeout: float = 90.0) -> None:
    """If this member is a learner (it just joined, or died before its promotion),
    promote it once it caught up with the leader; asked of the other members."""
    others = [e for e in plan.endpoints if e != plan.etcd.client_url]
    if not others:
        return                                  # the first member: nothing to catch up with
    conn = Connection([*others, plan.etcd.client_url], timeout=3.0, tls=plan.tls)
    deadline = time.monotonic() + timeout
    last = ""
    try:
        while time.monotonic() < deadline:
            if plan.etcd.exited():
                raise JoinFailed(f"etcd exited while joining; its log ends with:\n"
                                 f"{plan.etcd.log_tail()}")
            try:
                me = [m for m in await etcdadmin.members(conn)
                      if plan.etcd.peer_url in m.peer_urls]
                if not me:
                    raise JoinFailed(f"this member ({plan.etcd.peer_url}) is not in the etcd "
                                     "cluster (removed?): empty its data dir and join again")
                if not me[0].learner:
                    return
                await etcdadmin.promote(conn, me[0].id)
                log.info("etcd member %s (%x) promoted to a voting member", plan.name, me[0].id)
                return
            except (etcdadmin.NotInSync, errors.Unavailable) as e:
                last = str(e)
            await asyncio.sleep(0.2)            # polling the learner's progress
        raise JoinFailed(f"not promoted to a voting etcd member within {timeout:.0f} s: {last}")
    finally:
        await conn.close()
