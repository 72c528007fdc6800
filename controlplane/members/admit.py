"""The admitting side of JoinControlPlane: a token of usage join-controlplane in, a place in
etcd (as a learner) and the cluster's shared files out.

    admission = Admission(data_dir, tokens, conn)
    resp = await admission.admit(request)       # api_pb2-compatible ControlPlaneJoinResponse

The shared files are what every member must hold alike: the cluster CA and its key
(each member signs node certificates and its own), and the keys that encrypt Secrets
at rest (read from this member's --encryption-key-file, written to the joiner's).
They travel over TLS that the joiner verified against the CA it pinned by hash, and
only to a holder of a join-controlplane token: such a token is as good as the CA key,
so it is short-lived and for admins' hands only.

A member that lost its disk joins again under its old name and address: its old etcd
member (same name and peer URL, not answering) is removed first, then added anew.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from controlplane import errors
from controlplane.members import etcdadmin, records
from controlplane.security.tokens import USAGE_JOIN_CONTROLPLANE, BootstrapTokens, TokenError
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection
from proto import membership_pb2

log = logging.getLogger(__name__)

# (path under the data dir, mode): the files every member holds alike
KEY_FILE = "pki/secret-keys.yaml"     # sent under this name wherever --encryption-key-file is
SHARED_FILES = (("pki/ca.crt", 0o644), ("pki/ca.key", 0o600), (KEY_FILE, 0o600))
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_request(req: membership_pb2.ControlPlaneJoinRequest) -> None:
    if not _LABEL.fullmatch(req.name):
        raise errors.BadRequest(f"name: {req.name!r} is not a DNS label (lowercase letters, "
                                "digits and '-', at most 63)")
    try:
        ipaddress.ip_address(req.address)
    except ValueError:
        raise errors.BadRequest(f"address: {req.address!r} is not an IP address") from None
    for field in ("etcd_client_port", "etcd_peer_port", "api_port", "bootstrap_port"):
        if not 0 < getattr(req, field) < 65536:
            raise errors.BadRequest(f"{field}: {getattr(req, field)} is not a port")
    if not 0 <= req.kube_port < 65536:
        raise errors.BadRequest(f"kube_port: {req.kube_port} is not a port")


@dataclass
class Admission:
    data_dir: Path
    tokens: BootstrapTokens
    conn: Connection
    tls: EtcdTLS | None = None
    key_file: Path | None = None          # --encryption-key-file (None: DATA_DIR/KEY_FILE)

    async def admit(self, req: membership_pb2.ControlPlaneJoinRequest,
                    ) -> membership_pb2.ControlPlaneJoinResponse:
        try:
            await self.tokens.validate(req.token, usage=USAGE_JOIN_CONTROLPLANE)
        except TokenError as e:
            log.warning("control-plane member %r refused: %s", req.name[:63], e.message)
            raise
        check_request(req)
        peer = "https://" + hostport(req.address, req.etcd_peer_port)
        await self._make_room(req.name, peer)
        try:
            new, now = await etcdadmin.add_learner(self.conn, peer)
        except errors.Conflict as e:
            if "learner" in e.message:
                raise errors.Unavailable(f"another member is joining right now ({e.message}); "
                                         "retry shortly") from None
            raise
        known = await records.load_all(self.conn)
        addresses = sorted({r.address for r in known.values()} | {req.address})
        resp = membership_pb2.ControlPlaneJoinResponse(
            member_id=new.id, addresses=addresses,
            initial_cluster=",".join(f"{_name(m, new.id, req.name)}={m.peer_urls[0]}"
                                     for m in now if m.peer_urls),
            etcd_endpoints=[u for m in now if m.id != new.id and not m.learner
                            for u in m.client_urls])
        for path, mode in SHARED_FILES:
            f = self.key_file if path == KEY_FILE and self.key_file else self.data_dir / path
            if f.exists():
                resp.files.add(path=path, content=f.read_bytes(), mode=mode)
        log.info("control-plane member %s joins at %s (etcd member %x, a learner until it "
                 "caught up)", req.name, req.address, new.id)
        return resp

    async def _make_room(self, name: str, peer: str) -> None:
        """Refuse a clash with a live member; remove the dead old self of a rejoiner."""
        for m in await etcdadmin.members(self.conn):
            same_peer = peer in m.peer_urls
            if not same_peer and m.name != name:
                continue
            if not same_peer:
                raise errors.AlreadyExists(
                    f'a member named "{name}" exists at {", ".join(m.peer_urls)}: pick '
                    f"another --member-name, or `corral controlplane remove {name}` first")
            if m.name not in ("", name):
                raise errors.AlreadyExists(f'member "{m.name}" already uses {peer}')
            for url in m.client_urls:
                if (await etcdadmin.member_status(url, self.tls)).healthy:
                    raise errors.AlreadyExists(
                        f'member "{name}" at {peer} is running: stop it first, or '
                        f"`corral controlplane remove {name}`")
            log.warning("control-plane member %s joins again (its data is gone): removing "
                        "its old etcd member %x", name, m.id)
            await etcdadmin.remove(self.conn, m.id)
            await records.delete(self.conn, name)


def _name(m: etcdadmin.Member, new_id: int, new_name: str) -> str:
    if m.id == new_id:
        return new_name
    return m.name or f"m{m.id:x}"     # a learner that has not started yet has no name
